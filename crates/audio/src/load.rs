//! Loading a file as mono at a chosen sample rate, streaming so that memory stays at the size
//! of the output (a one-hour file at 22 050 Hz is 318 MB of `f32`, whatever its source format;
//! [`analyze_file`](crate::analyze_file) does not keep the samples at all).

use std::path::Path;

use crate::buffer::{AudioBuffer, downmix_into};
use crate::decode::{Chunk, Decoder};
use crate::error::Result;
use crate::resample::Resampler;

/// Decodes, downmixes and resamples a file to mono at `sample_rate` Hz.
pub fn load_mono(path: &Path, sample_rate: u32) -> Result<AudioBuffer> {
    mono_from_decoder(Decoder::open(path)?, sample_rate, |_| {})
}

/// Like [`load_mono`], for a file held in memory.
pub fn load_mono_bytes(
    bytes: Vec<u8>,
    ext_hint: Option<&str>,
    sample_rate: u32,
) -> Result<AudioBuffer> {
    mono_from_decoder(Decoder::from_bytes(bytes, ext_hint)?, sample_rate, |_| {})
}

/// Streams `decoder` to mono at `sample_rate`, showing every interleaved chunk to `observe`
/// first (for analyses such as loudness that need the original channels).
pub fn mono_from_decoder(
    mut decoder: Decoder,
    sample_rate: u32,
    mut observe: impl FnMut(Chunk<'_>),
) -> Result<AudioBuffer> {
    let mut resampler = Resampler::new(decoder.info().sample_rate, sample_rate)?;
    let mut mono = Vec::new();
    let mut out = Vec::new();
    if let Some(s) = decoder.info().duration_hint_s() {
        out.reserve(((s * f64::from(sample_rate)) as usize).min(1 << 30));
    }
    while let Some(chunk) = decoder.next_chunk()? {
        observe(chunk);
        mono.clear();
        downmix_into(chunk.samples, chunk.channels, &mut mono);
        resampler.push(&mono, &mut out);
    }
    resampler.finish(&mut out);
    Ok(AudioBuffer::mono(sample_rate, out))
}
