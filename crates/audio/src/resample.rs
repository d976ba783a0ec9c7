//! High-quality sample-rate conversion (band-limited, FFT-based), streaming or all at once.

use rubato::{FftFixedIn, Resampler as _};

use crate::error::{Error, Result};

const CHUNK: usize = 4096;

/// A streaming mono resampler: [`push`](Self::push) input as it is decoded, then
/// [`finish`](Self::finish). The output is delay-compensated and has exactly
/// `round(input_len * to / from)` samples.
pub struct Resampler {
    inner: Option<FftFixedIn<f32>>,
    from: u32,
    to: u32,
    pending: Vec<f32>,
    to_skip: usize,
    consumed: u64,
    produced: u64,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self> {
        if from == 0 || to == 0 {
            return Err(Error::InvalidArgument(format!(
                "cannot resample {from} Hz to {to} Hz"
            )));
        }
        let inner = if from == to {
            None
        } else {
            Some(
                FftFixedIn::new(from as usize, to as usize, CHUNK, 2, 1)
                    .map_err(|e| Error::InvalidArgument(format!("resampler: {e}")))?,
            )
        };
        let to_skip = inner.as_ref().map(|r| r.output_delay()).unwrap_or(0);
        Ok(Resampler {
            inner,
            from,
            to,
            pending: Vec::new(),
            to_skip,
            consumed: 0,
            produced: 0,
        })
    }

    /// The output sample rate.
    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// Feeds mono input; appends whatever output is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.consumed += input.len() as u64;
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            self.produced += input.len() as u64;
            return;
        };
        self.pending.extend_from_slice(input);
        let mut start = 0;
        while self.pending.len() - start >= inner.input_frames_next() {
            let need = inner.input_frames_next();
            let chunk = &self.pending[start..start + need];
            if let Ok(res) = inner.process(&[chunk], None) {
                Self::emit(&res[0], &mut self.to_skip, &mut self.produced, out);
            }
            start += need;
        }
        self.pending.drain(..start);
    }

    /// Flushes the remaining input and the filter's tail.
    pub fn finish(mut self, out: &mut Vec<f32>) {
        let expected =
            (self.consumed as f64 * f64::from(self.to) / f64::from(self.from)).round() as u64;
        if let Some(inner) = self.inner.as_mut() {
            let mut pending = std::mem::take(&mut self.pending);
            // Zero-pad until the delayed output covers every input sample.
            let mut guard = 0;
            while self.produced < expected && guard < 64 {
                let need = inner.input_frames_next();
                pending.resize(need, 0.0);
                if let Ok(res) = inner.process(&[&pending[..]], None) {
                    Self::emit(&res[0], &mut self.to_skip, &mut self.produced, out);
                }
                pending.clear();
                guard += 1;
            }
        }
        let excess = self.produced.saturating_sub(expected) as usize;
        out.truncate(out.len().saturating_sub(excess));
    }

    fn emit(block: &[f32], to_skip: &mut usize, produced: &mut u64, out: &mut Vec<f32>) {
        let skip = (*to_skip).min(block.len());
        *to_skip -= skip;
        out.extend_from_slice(&block[skip..]);
        *produced += (block.len() - skip) as u64;
    }
}

/// Resamples a whole mono signal from `from` Hz to `to` Hz.
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    let mut r = Resampler::new(from, to)?;
    let mut out = Vec::with_capacity(
        (input.len() as f64 * f64::from(to) / f64::from(from.max(1))) as usize + 1,
    );
    r.push(input, &mut out);
    r.finish(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn keeps_length_and_phase_of_a_sine() {
        let input = sine(440.0, 44_100, 44_100);
        let out = resample(&input, 44_100, 22_050).unwrap();
        assert_eq!(out.len(), 22_050);
        let expected = sine(440.0, 22_050, 22_050);
        // Ignore the edges where the filter sees the zero padding.
        let err = out[500..21_500]
            .iter()
            .zip(&expected[500..21_500])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-3, "max error {err}");
    }

    #[test]
    fn removes_content_above_the_new_nyquist() {
        let input = sine(15_000.0, 44_100, 44_100);
        let out = resample(&input, 44_100, 22_050).unwrap();
        let rms = (out[1000..21_000].iter().map(|x| x * x).sum::<f32>() / 20_000.0).sqrt();
        assert!(rms < 1e-3, "alias energy {rms}");
    }

    #[test]
    fn streaming_equals_one_shot() {
        let input = sine(1000.0, 48_000, 30_001);
        let whole = resample(&input, 48_000, 22_050).unwrap();
        let mut r = Resampler::new(48_000, 22_050).unwrap();
        let mut out = Vec::new();
        for chunk in input.chunks(777) {
            r.push(chunk, &mut out);
        }
        r.finish(&mut out);
        assert_eq!(out.len(), whole.len());
        assert!(out.iter().zip(&whole).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn rejects_zero_rates() {
        assert!(resample(&[0.0], 0, 100).is_err());
    }
}
