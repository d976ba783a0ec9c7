//! `encore-haptics`: haptic tracks for every song, so deaf and hard-of-hearing listeners can
//! feel rhythm and energy.
//!
//! - [`HapticTrack`] is the model: a continuous amplitude envelope and frequency ("sharpness")
//!   envelope with breakpoints, whose amplitude breakpoints may carry transient
//!   [`Emphasis`], as in Lofelt `.haptic` v1.
//! - [`generate`] builds one from mono samples: onsets (and beats when given) become
//!   transients, the level with extra weight on the low band becomes the continuous rumble,
//!   with presets ([`Preset`]) and a user intensity ([`GenerateOptions`]).
//! - Exporters: [`to_lofelt`], [`to_ahap`] (Apple Core Haptics), [`to_android`]
//!   (`VibrationEffect` waveform and composition), [`to_web`] (Vibration API patterns),
//!   [`to_wav`] (low-frequency haptic audio); parsers [`parse_lofelt`], [`parse_ahap`],
//!   [`parse_android`] and [`parse_web`] read them back.
//! - [`visualize`] computes the web player's visualisation data.
//! - [`transient_f_measure`] and [`envelope_correlation`] compare tracks (evaluation).
//!
//! The crate does no I/O: it takes samples and bytes and returns values and strings.
//!
//! ```
//! use encore_haptics::{GenerateOptions, generate, parse_lofelt, to_lofelt};
//!
//! // Two seconds of a 50 Hz thump every half second.
//! let sr = 22_050;
//! let audio: Vec<f32> = (0..2 * sr)
//!     .map(|i| {
//!         let t = (i % (sr / 2)) as f32 / sr as f32;
//!         (-t * 15.0).exp() * (std::f32::consts::TAU * 50.0 * t).sin()
//!     })
//!     .collect();
//! let track = generate(&audio, sr as u32, &GenerateOptions::default())?;
//! assert!(track.transients().count() >= 3);
//! let json = to_lofelt(&track)?;
//! assert_eq!(parse_lofelt(json.as_bytes())?, track);
//! # Ok::<(), encore_haptics::Error>(())
//! ```

mod ahap;
mod analysis;
mod android;
mod error;
mod eval;
mod generate;
mod lofelt;
mod model;
mod onsets;
mod simplify;
mod transients;
mod visualize;
mod wav;
mod web;

pub use ahap::{parse_ahap, to_ahap};
pub use android::{AndroidEffect, AndroidPrimitive, parse_android, to_android};
pub use error::{Error, Result};
pub use eval::{
    FMeasure, designer_pairs, envelope_correlation, matched_estimates, transient_f_measure,
};
pub use generate::{GenerateOptions, Preset, generate, onset_beats};
pub use lofelt::{parse_lofelt, to_lofelt};
pub use model::{
    AmplitudeBreakpoint, Emphasis, FrequencyBreakpoint, HapticTrack, MAX_BREAKPOINTS,
    MAX_DURATION_S, MAX_INPUT_BYTES, Metadata, Transient,
};
/// Candidate transients with their scorer features (for training the scorer; not a stable API).
#[doc(hidden)]
pub use transients::{N_FEATURES, candidate_features};
pub use visualize::{Visualization, VisualizeOptions, visualize};
pub use wav::{WAV_SAMPLE_RATE, to_wav};
pub use web::{WebPattern, parse_web, to_web};
