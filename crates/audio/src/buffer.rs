//! [`AudioBuffer`]: decoded PCM in memory, and conversions on it.

use std::io::{self, Write};

/// Interleaved `f32` PCM with its sample rate and channel count.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of interleaved channels.
    pub channels: usize,
    /// Interleaved samples, nominally in -1.0..=1.0.
    pub samples: Vec<f32>,
}

impl AudioBuffer {
    /// Wraps interleaved samples. A trailing partial frame is dropped.
    pub fn new(sample_rate: u32, channels: usize, mut samples: Vec<f32>) -> Self {
        let channels = channels.max(1);
        samples.truncate(samples.len() - samples.len() % channels);
        AudioBuffer {
            sample_rate,
            channels,
            samples,
        }
    }

    /// A mono buffer.
    pub fn mono(sample_rate: u32, samples: Vec<f32>) -> Self {
        AudioBuffer {
            sample_rate,
            channels: 1,
            samples,
        }
    }

    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// One channel, de-interleaved.
    pub fn channel(&self, index: usize) -> Vec<f32> {
        self.samples
            .iter()
            .skip(index)
            .step_by(self.channels)
            .copied()
            .collect()
    }

    /// The average of all channels.
    pub fn to_mono(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.frames());
        downmix_into(&self.samples, self.channels, &mut out);
        out
    }

    /// Writes the buffer as a 16-bit PCM WAV file (clipping to full scale), readable by any tool.
    pub fn write_wav_pcm16(&self, mut out: impl Write) -> io::Result<()> {
        let data_len = u32::try_from(self.samples.len() * 2)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too long for WAV"))?;
        let channels = u16::try_from(self.channels)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many channels"))?;
        let block_align = channels * 2;
        out.write_all(b"RIFF")?;
        out.write_all(&(36 + data_len).to_le_bytes())?;
        out.write_all(b"WAVEfmt ")?;
        out.write_all(&16u32.to_le_bytes())?;
        out.write_all(&1u16.to_le_bytes())?;
        out.write_all(&channels.to_le_bytes())?;
        out.write_all(&self.sample_rate.to_le_bytes())?;
        out.write_all(&(self.sample_rate * u32::from(block_align)).to_le_bytes())?;
        out.write_all(&block_align.to_le_bytes())?;
        out.write_all(&16u16.to_le_bytes())?;
        out.write_all(b"data")?;
        out.write_all(&data_len.to_le_bytes())?;
        let mut bytes = Vec::with_capacity(self.samples.len() * 2);
        for &s in &self.samples {
            let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        out.write_all(&bytes)
    }
}

/// Appends the per-frame average of `channels` interleaved channels to `out`.
pub fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    match channels {
        0 | 1 => out.extend_from_slice(interleaved),
        2 => out.extend(interleaved.chunks_exact(2).map(|f| 0.5 * (f[0] + f[1]))),
        n => {
            let scale = 1.0 / n as f32;
            out.extend(
                interleaved
                    .chunks_exact(n)
                    .map(|f| f.iter().sum::<f32>() * scale),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_and_channels() {
        let buf = AudioBuffer::new(8000, 2, vec![1.0, 0.0, 0.5, 0.5, -1.0, 1.0, 9.0]);
        assert_eq!(buf.frames(), 3);
        assert_eq!(buf.to_mono(), vec![0.5, 0.5, 0.0]);
        assert_eq!(buf.channel(1), vec![0.0, 0.5, 1.0]);
    }

    #[test]
    fn wav_round_trips_through_the_decoder() {
        let samples: Vec<f32> = (0..16000).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let buf = AudioBuffer::mono(16000, samples.clone());
        let mut wav = Vec::new();
        buf.write_wav_pcm16(&mut wav).unwrap();
        let back = crate::decode_bytes(wav, Some("wav")).unwrap();
        assert_eq!(back.sample_rate, 16000);
        assert_eq!(back.channels, 1);
        assert_eq!(back.frames(), samples.len());
        let max_err = back
            .samples
            .iter()
            .zip(&samples)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(max_err < 1e-4, "{max_err}");
    }
}
