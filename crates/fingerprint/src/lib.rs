//! `encore-fingerprint`: find registered works inside uploads.
//!
//! Audio (mono at [`SAMPLE_RATE`], 8 kHz) becomes a [`Fingerprint`]: spectral peaks on a
//! log-frequency axis, combined into Wang-style landmark **pairs** (robust to noise, codecs,
//! band-limiting and cropping) and Panako-style peak **triplets** whose hashes use ratios of
//! time differences and frequency ratios, so they survive time-stretch, pitch-shift and changes
//! of playback speed. Reference works go into a [`PostingStore`] ([`RedbStore`] by default,
//! [`PgStore`] for scale, [`MemoryStore`] for tests); [`identify`] looks a query's hashes up and
//! votes on consistent time offsets (and speed factors), returning for each [`Match`] the work,
//! a score, the offset in the reference, the matched span of the query and the speed factor.
//! [`AudioCode`] is a 64-bit whole-file code for near-duplicate detection by Hamming distance.
//!
//! ```
//! use encore_fingerprint::{Fingerprint, MatchParams, MemoryStore, NewWork, PostingStore, identify};
//!
//! // Twenty seconds of a deterministic "melody" of random tones at 8 kHz.
//! let mut seed = 7u32;
//! let mut music = Vec::new();
//! for _ in 0..80 {
//!     seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
//!     let f = 200.0 + (seed >> 20) as f32;
//!     music.extend((0..2000).map(|i| (std::f32::consts::TAU * f * i as f32 / 8000.0).sin() * 0.3));
//! }
//! let store = MemoryStore::new();
//! let fp = Fingerprint::from_samples(&music)?;
//! store.add_work(&NewWork { name: "melody".into(), duration_s: fp.duration_s, postings: fp.postings() })?;
//!
//! // A five-second excerpt starting at 8 s is found at 8 s.
//! let query = Fingerprint::for_query(&music[8 * 8000..13 * 8000])?;
//! let matches = identify(&store, &query, &MatchParams::default())?;
//! assert_eq!(matches[0].name, "melody");
//! assert!((matches[0].offset_s - 8.0).abs() < 0.1);
//! # Ok::<(), encore_fingerprint::Error>(())
//! ```

mod code;
mod error;
mod hashes;
mod matcher;
mod peaks;
mod store;

pub use code::{AudioCode, NEAR_DUPLICATE_BITS};
pub use error::{Error, Result};
pub use hashes::{Fingerprint, MAX_DURATION_S, Posting, TRIPLET_BIT};
pub use matcher::{Match, MatchParams, Method, identify};
pub use peaks::{FRAME_RATE, SAMPLE_RATE};
pub use store::{
    Hit, MAX_NAME_LEN, MAX_POSTINGS_PER_WORK, MemoryStore, NewWork, PgStore, PostingStore,
    RedbStore, StoreStats, WorkId, WorkInfo,
};
