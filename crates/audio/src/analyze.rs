//! [`analyze_file`]: one streaming pass over a file that yields tempo, beats, downbeats, onsets
//! and loudness, with memory bounded by the length of the onset envelope (not of the audio).

use std::path::Path;

use crate::ANALYSIS_SAMPLE_RATE;
use crate::beat::{
    BarFeatures, OnsetDetectParams, TempoParams, detect_onsets, downbeats, estimate_tempo,
    local_tempo, tempogram, track_beats,
};
use crate::decode::{AudioInfo, Decoder};
use crate::error::{Error, Result};
use crate::loudness::{Loudness, LoudnessMeter};
use crate::onset::{Envelope, OnsetParams};
use crate::resample::Resampler;
use crate::spectral::{MelFilterbank, PowerSpectrum, power_to_db};

/// Everything `encore analyze` reports about one file. Serialises to the JSON contract of
/// `ARCHITECTURE.md`; undefined figures (silence) serialise as `null`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Analysis {
    /// Decoded duration in seconds.
    pub duration_s: f64,
    /// The file's own sample rate, Hz.
    pub sample_rate: u32,
    /// The file's own channel count.
    pub channels: usize,
    /// Container name ("wav", "ogg/vorbis", ...).
    pub container: String,
    /// Codec short name.
    pub codec: String,
    /// Global tempo in BPM; `None` when no periodicity was found (silence).
    pub tempo_bpm: Option<f64>,
    /// Beat times in seconds.
    pub beats_s: Vec<f64>,
    /// Times of the beats that start bars, in seconds (a subset of `beats_s`).
    pub downbeats_s: Vec<f64>,
    /// Beats per bar inferred for the downbeats (3 or 4), when there are downbeats.
    pub meter: Option<usize>,
    /// Onset times in seconds.
    pub onsets_s: Vec<f64>,
    /// BS.1770-4 / EBU R128 loudness of the original channels.
    pub loudness: Loudness,
}

/// Options of [`analyze_decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AnalyzeOptions {
    /// Onset strength parameters.
    pub onset: OnsetParams,
    /// Onset peak-picking parameters.
    pub detect: OnsetDetectParams,
    /// Tempo and beat tracking parameters.
    pub tempo: TempoParams,
}

/// Analyses a file (see [`Analysis`]). Streams: peak memory is a few MB plus about 50 bytes
/// per second of audio.
pub fn analyze_file(path: &Path) -> Result<Analysis> {
    analyze_decoder(Decoder::open(path)?, &AnalyzeOptions::default())
}

/// Analyses a file held in memory. `ext_hint` is an optional extension ("mp3").
pub fn analyze_bytes(bytes: Vec<u8>, ext_hint: Option<&str>) -> Result<Analysis> {
    analyze_decoder(
        Decoder::from_bytes(bytes, ext_hint)?,
        &AnalyzeOptions::default(),
    )
}

/// Analyses everything `decoder` yields: loudness on the original channels, the rest on mono
/// resampled to [`ANALYSIS_SAMPLE_RATE`].
pub fn analyze_decoder(mut decoder: Decoder, opts: &AnalyzeOptions) -> Result<Analysis> {
    let _span = tracing::info_span!("analyze", container = decoder.info().container).entered();
    let sample_rate = decoder.info().sample_rate;
    let mut resampler = Resampler::for_analysis(sample_rate, ANALYSIS_SAMPLE_RATE)?;
    let mut meter: Option<LoudnessMeter> = None;
    let mut features = FeatureStream::new(ANALYSIS_SAMPLE_RATE, &opts.onset);
    while let Some(chunk) = decoder.next_chunk()? {
        meter
            .get_or_insert_with(|| LoudnessMeter::new(sample_rate, chunk.channels))
            .push(chunk.samples);
        features.push_with(|buf| resampler.push_interleaved(chunk.samples, chunk.channels, buf));
    }
    features.push_with(|buf| resampler.finish(buf));
    let info = decoder.info();
    let frames = decoder.frames_decoded();
    check_not_truncated(info, frames)?;
    let (env, bar) = features.finish();
    let rhythm = analyze_envelope(&env, &bar, opts);
    let loudness = meter
        .unwrap_or_else(|| LoudnessMeter::new(sample_rate, info.channels))
        .finish();
    Ok(Analysis {
        duration_s: frames as f64 / f64::from(sample_rate),
        sample_rate,
        channels: info.channels,
        container: info.container.to_string(),
        codec: info.codec.clone(),
        tempo_bpm: rhythm.tempo_bpm,
        beats_s: rhythm.beats_s,
        downbeats_s: rhythm.downbeats_s,
        meter: rhythm.meter,
        onsets_s: rhythm.onsets_s,
        loudness,
    })
}

/// A header that announces much more audio than the stream holds means a truncated file (or a
/// lying header): an error rather than a silently shorter analysis.
fn check_not_truncated(info: &AudioInfo, frames: u64) -> Result<()> {
    let Some(declared) = info.frames_hint else {
        return Ok(());
    };
    let rate = u64::from(info.sample_rate.max(1));
    let tolerance = (declared / 100).max(rate);
    if frames + tolerance < declared {
        return Err(Error::Corrupt {
            format: info.container.to_string(),
            reason: format!(
                "truncated: the header announces {:.1} s of audio but only {:.1} s could be decoded",
                declared as f64 / rate as f64,
                frames as f64 / rate as f64
            ),
        });
    }
    Ok(())
}

/// Tempo, beats, downbeats and onsets of an onset envelope.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Rhythm {
    /// Global tempo, BPM.
    pub tempo_bpm: Option<f64>,
    /// Beat times, seconds.
    pub beats_s: Vec<f64>,
    /// Downbeat times, seconds.
    pub downbeats_s: Vec<f64>,
    /// Beats per bar of the downbeats.
    pub meter: Option<usize>,
    /// Onset times, seconds.
    pub onsets_s: Vec<f64>,
}

/// Frames by which the spectral-flux peak precedes the sound that causes it: a centred frame
/// starts to see an onset half a frame early (librosa shifts its envelope the same way).
fn envelope_lead_frames(opts: &OnsetParams) -> f64 {
    0.5 * opts.frame_s / opts.hop_s
}

/// Width (octaves) of the prior that keeps the local tempo near the global tempo.
const LOCAL_PRIOR_OCTAVES: f64 = 0.5;

/// Runs onset detection, tempo estimation, beat tracking and downbeat detection on `env`.
pub fn analyze_envelope(env: &Envelope, bar: &BarFeatures, opts: &AnalyzeOptions) -> Rhythm {
    let _span = tracing::debug_span!("rhythm", frames = env.values.len()).entered();
    let lead = envelope_lead_frames(&opts.onset).floor() / env.frame_rate;
    let time = |t: usize| (env.time_of(t) + lead).max(0.0);
    let onsets_s = detect_onsets(env, &opts.detect)
        .into_iter()
        .map(time)
        .collect();
    let tg = tempogram(env, &opts.tempo);
    let tempo_bpm = estimate_tempo(&tg, &opts.tempo);
    // The local tempo curve stays near the global tempo's metrical level.
    let local_params = TempoParams {
        prior_bpm: tempo_bpm.unwrap_or(opts.tempo.prior_bpm),
        prior_octaves: if tempo_bpm.is_some() {
            LOCAL_PRIOR_OCTAVES
        } else {
            opts.tempo.prior_octaves
        },
        ..opts.tempo
    };
    let Some(period) = local_tempo(&tg, env.values.len(), &local_params) else {
        return Rhythm {
            tempo_bpm,
            onsets_s,
            ..Rhythm::default()
        };
    };
    let beats = track_beats(env, &period, &opts.tempo);
    let down = downbeats(env, bar, &beats);
    let meter = (down.len() >= 2).then(|| down[1] - down[0]);
    Rhythm {
        tempo_bpm,
        beats_s: beats.iter().map(|&b| time(b)).collect(),
        downbeats_s: down.iter().map(|&i| time(beats[i])).collect(),
        meter,
        onsets_s,
    }
}

/// Analyses a mono signal already in memory (no loudness, no file).
pub fn analyze_mono(samples: &[f32], sample_rate: u32, opts: &AnalyzeOptions) -> Result<Rhythm> {
    let mut resampler = Resampler::for_analysis(sample_rate, ANALYSIS_SAMPLE_RATE)?;
    let mut out = Vec::new();
    resampler.push(samples, &mut out);
    resampler.finish(&mut out);
    let mut features = FeatureStream::new(ANALYSIS_SAMPLE_RATE, &opts.onset);
    features.push(&out);
    let (env, bar) = features.finish();
    Ok(analyze_envelope(&env, &bar, opts))
}

/// Number of coarse bands kept per frame for downbeat detection.
const BAR_BANDS: usize = 12;
/// Mel bands below this frequency count as "low" (kick drums, bass).
const LOW_HZ: f64 = 200.0;

/// Streaming log-mel spectral flux: the same values as [`crate::onset_strength`], computed
/// from chunks so the signal never has to be held in memory.
pub(crate) struct FeatureStream {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    fft: PowerSpectrum,
    bank: MelFilterbank,
    floor_db: f32,
    n_low: usize,
    /// Samples not yet fully consumed; `buf[0]` is absolute sample `buf_start`.
    buf: Vec<f32>,
    buf_start: i64,
    total: u64,
    next_frame: u64,
    prev: Vec<f32>,
    env: Vec<f32>,
    bar: BarFeatures,
    frame_rate: f64,
    // Scratch.
    power: Vec<f32>,
    mel: Vec<f32>,
    db: Vec<f32>,
}

impl FeatureStream {
    pub(crate) fn new(sample_rate: u32, params: &OnsetParams) -> Self {
        let sr = f64::from(sample_rate.max(1));
        let n_fft = ((params.frame_s * sr).round() as usize)
            .next_power_of_two()
            .max(64);
        let hop = ((params.hop_s * sr).round() as usize).max(1);
        let bank = MelFilterbank::new(sample_rate, n_fft, params.n_mels.max(1), 0.0, sr / 2.0);
        let n_mels = bank.n_mels();
        let fft = PowerSpectrum::new(n_fft);
        let window = (0..n_fft)
            .map(|i| {
                let x = std::f64::consts::TAU * i as f64 / n_fft as f64;
                (0.5 - 0.5 * x.cos()) as f32
            })
            .collect();
        let top = crate::spectral::hz_to_mel(sr / 2.0);
        let n_low = (0..n_mels)
            .take_while(|&m| {
                crate::spectral::mel_to_hz(top * (m + 1) as f64 / (n_mels + 1) as f64) < LOW_HZ
            })
            .count()
            .max(1);
        FeatureStream {
            n_fft,
            hop,
            window,
            fft,
            bank,
            floor_db: params.floor_db,
            n_low,
            buf: vec![0.0; n_fft / 2],
            buf_start: -((n_fft / 2) as i64),
            total: 0,
            next_frame: 0,
            prev: vec![params.floor_db; n_mels],
            env: Vec::new(),
            bar: BarFeatures {
                n_bands: BAR_BANDS,
                ..BarFeatures::default()
            },
            frame_rate: sr / hop as f64,
            power: vec![0.0; n_fft / 2 + 1],
            mel: vec![0.0; n_mels],
            db: vec![0.0; n_mels],
        }
    }

    pub(crate) fn push(&mut self, samples: &[f32]) {
        self.push_with(|buf| buf.extend_from_slice(samples));
    }

    /// Lets `append` add samples to the end of the buffer directly (no copy through a
    /// buffer of the caller's), then computes the frames that became complete.
    pub(crate) fn push_with(&mut self, append: impl FnOnce(&mut Vec<f32>)) {
        let before = self.buf.len();
        append(&mut self.buf);
        self.total += self.buf.len().saturating_sub(before) as u64;
        self.drain_frames();
    }

    /// Computes every frame whose window lies inside the buffer, then drops consumed samples.
    fn drain_frames(&mut self) {
        let half = (self.n_fft / 2) as i64;
        loop {
            let start = (self.next_frame * self.hop as u64) as i64 - half;
            let end = start + self.n_fft as i64;
            if end > self.buf_start + self.buf.len() as i64 {
                break;
            }
            let off = (start - self.buf_start) as usize;
            let frame = &self.buf[off..off + self.n_fft];
            self.fft.power(frame, &self.window, &mut self.power);
            self.frame();
        }
        let next_start = (self.next_frame * self.hop as u64) as i64 - half;
        let drop = (next_start - self.buf_start).clamp(0, self.buf.len() as i64) as usize;
        self.buf.drain(..drop);
        self.buf_start += drop as i64;
    }

    crate::simd::avx2_method!(
        /// Features of the frame whose power spectrum is `self.power`.
        fn frame / frame_avx2 => frame_impl(&mut self)
    );

    #[inline(always)]
    fn frame_impl(&mut self) {
        self.bank.apply(&self.power, &mut self.mel);
        let floor = 10f32.powf(self.floor_db / 10.0);
        power_to_db(&self.mel, floor, &mut self.db);
        let first = self.next_frame == 0;
        let (mut flux, mut low) = (0.0f32, 0.0f32);
        for (m, (&db, p)) in self.db.iter().zip(self.prev.iter_mut()).enumerate() {
            if !first {
                let inc = (db - *p).max(0.0);
                flux += inc;
                if m < self.n_low {
                    low += inc;
                }
            }
            *p = db;
        }
        let n_mels = self.mel.len();
        self.env.push(flux / n_mels as f32);
        self.bar.low_onset.push(low / self.n_low as f32);
        let per = n_mels.div_ceil(BAR_BANDS);
        for b in 0..BAR_BANDS {
            let band = &self.db[(b * per).min(n_mels)..((b + 1) * per).min(n_mels)];
            let mean = if band.is_empty() {
                0.0
            } else {
                band.iter().sum::<f32>() / band.len() as f32
            };
            self.bar.bands.push(mean);
        }
        self.next_frame += 1;
    }

    /// Zero-pads the end (centred frames, like [`crate::Stft`]) and returns the envelope and
    /// the bar features.
    pub(crate) fn finish(mut self) -> (Envelope, BarFeatures) {
        let n_frames = if self.total == 0 {
            0
        } else {
            1 + self.total / self.hop as u64
        };
        if self.next_frame < n_frames {
            self.buf.resize(self.buf.len() + self.n_fft, 0.0);
            while self.next_frame < n_frames {
                let before = self.next_frame;
                self.drain_frames();
                if self.next_frame == before {
                    self.buf.resize(self.buf.len() + self.n_fft, 0.0);
                }
            }
        }
        let n = n_frames as usize;
        self.env.truncate(n);
        self.bar.low_onset.truncate(n);
        self.bar.bands.truncate(n * BAR_BANDS);
        (
            Envelope {
                values: self.env,
                frame_rate: self.frame_rate,
            },
            self.bar,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onset::onset_strength;

    #[test]
    fn streaming_envelope_equals_onset_strength() {
        let sr = 22_050;
        let signal: Vec<f32> = (0..sr * 3 + 123)
            .map(|i| {
                let t = i as f32 / sr as f32;
                (std::f32::consts::TAU * 330.0 * t).sin()
                    * if (t * 2.0).fract() < 0.1 { 1.0 } else { 0.1 }
            })
            .collect();
        let params = OnsetParams::default();
        let whole = onset_strength(&signal, sr as u32, &params);
        let mut fs = FeatureStream::new(sr as u32, &params);
        for c in signal.chunks(1000) {
            fs.push(c);
        }
        let (env, bar) = fs.finish();
        assert_eq!(env.values.len(), whole.values.len());
        assert_eq!(bar.low_onset.len(), env.values.len());
        assert_eq!(bar.bands.len(), env.values.len() * BAR_BANDS);
        for (a, b) in env.values.iter().zip(&whole.values) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
}
