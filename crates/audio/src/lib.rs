//! `encore-audio`: the audio core every Encore engine builds on.
//!
//! It decodes MP3, FLAC, Ogg Vorbis, Opus, AAC/M4A and WAV to `f32` PCM ([`Decoder`],
//! [`decode_file`], [`load_mono`]), resamples with a band-limited filter ([`Resampler`]),
//! computes short-time spectra ([`Stft`], [`MelFilterbank`]) and onset strength
//! ([`onset_strength`]). The crate does no network or database I/O; files are only read when a
//! caller passes a path.
//!
//! ```
//! use encore_audio::{AudioBuffer, OnsetParams, onset_strength, resample};
//!
//! // One second of a 440 Hz tone at 44.1 kHz, resampled to 22.05 kHz.
//! let tone: Vec<f32> = (0..44_100)
//!     .map(|i| (std::f32::consts::TAU * 440.0 * i as f32 / 44_100.0).sin())
//!     .collect();
//! let mono = resample(&tone, 44_100, 22_050)?;
//! assert_eq!(mono.len(), 22_050);
//! let env = onset_strength(&mono, 22_050, &OnsetParams::default());
//! assert!((env.frame_rate - 22_050.0 / 512.0).abs() < 1e-9);
//! # let _ = AudioBuffer::mono(22_050, mono);
//! # Ok::<(), encore_audio::Error>(())
//! ```

mod analyze;
mod beat;
mod buffer;
mod decode;
mod error;
mod kweight;
mod load;
mod loudness;
mod onset;
mod resample;
mod simd;
mod spectral;

pub use analyze::{
    Analysis, AnalyzeOptions, Rhythm, analyze_bytes, analyze_decoder, analyze_envelope,
    analyze_file, analyze_mono,
};
pub use beat::{
    BarFeatures, OnsetDetectParams, TempoParams, Tempogram, detect_onsets, downbeats,
    estimate_tempo, local_tempo, tempogram, track_beats,
};
pub use buffer::{AudioBuffer, downmix_into};
pub use decode::{AudioInfo, Chunk, Decoder, Limits, decode_bytes, decode_file};
pub use error::{Error, ErrorKind, Result};
pub use load::{load_mono, load_mono_bytes, mono_from_decoder};
pub use loudness::{Loudness, LoudnessMeter, loudness};
pub use onset::{Envelope, OnsetParams, onset_strength};
pub use resample::{Resampler, resample};
pub use spectral::{MelFilterbank, Spectrogram, Stft, hz_to_mel, mel_spectrogram, mel_to_hz};

/// The sample rate Encore analyses at unless a method needs another one.
pub const ANALYSIS_SAMPLE_RATE: u32 = 22_050;
