//! Generation of a haptic track from mono audio: onsets (and beats, when given) become
//! transients, the signal level (with extra weight on the low, felt band) becomes the continuous
//! envelope, the spectral centroid becomes the frequency envelope.

use crate::analysis::{Features, features};
use crate::error::{Error, Result};
use crate::model::{
    AmplitudeBreakpoint, Emphasis, FrequencyBreakpoint, HapticTrack, MAX_DURATION_S, Metadata,
};
use crate::onsets::{PickParams, beats_from_onsets, pick_peaks};
use crate::simplify::simplify;
use crate::transients::transient_times;

/// What the track is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preset {
    /// Transients only, on beats and strong onsets; no continuous vibration.
    Rhythm,
    /// Everything: transients on envelope peaks (short-hop detector that also fires in dense
    /// textures, masked in the tail of a louder hit) and a continuous envelope following the
    /// signal.
    #[default]
    Full,
    /// Softer and sparser: lower intensity, stronger compression, rounder transients.
    Gentle,
}

impl std::str::FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rhythm" => Ok(Preset::Rhythm),
            "full" => Ok(Preset::Full),
            "gentle" => Ok(Preset::Gentle),
            other => Err(Error::InvalidArgument(format!(
                "unknown preset {other:?} (expected rhythm, full or gentle)"
            ))),
        }
    }
}

/// How to generate a track.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// The preset.
    pub preset: Preset,
    /// The listener's intensity setting, 0..=1; scales every amplitude.
    pub intensity: f32,
    /// Beat times in seconds from a beat tracker, if one ran. Transients on beats are
    /// emphasised, and the rhythm preset places its transients on them.
    pub beats_s: Option<Vec<f64>>,
    /// Largest amplitude error the envelope simplification may introduce.
    pub amplitude_tolerance: f32,
    /// Largest frequency error the envelope simplification may introduce.
    pub frequency_tolerance: f32,
    /// Overrides the preset's onset sensitivity: `(threshold, delta, min_gap_s)`, where an
    /// onset must reach `threshold` and exceed its local average by `delta` (both as shares of
    /// the track's strongest onset) and be `min_gap_s` after the previous one. With an
    /// override the full preset uses this spectral-flux onset picker (as the rhythm and gentle
    /// presets always do) instead of its short-hop envelope-peak detector.
    pub onset_sensitivity: Option<(f32, f32, f64)>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            preset: Preset::Full,
            intensity: 1.0,
            beats_s: None,
            amplitude_tolerance: 0.02,
            frequency_tolerance: 0.05,
            onset_sensitivity: None,
        }
    }
}

/// Per-preset constants.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    /// Weight of the rumble band against full-band RMS in the continuous envelope.
    low_weight: f32,
    /// Scale of the continuous envelope.
    continuous_gain: f32,
    /// Exponent of the compression curve (1 = linear, smaller = more compressed).
    gamma: f32,
    /// Release time of the envelope follower, seconds.
    release_s: f64,
    /// Scale and floor of transient intensity.
    transient_gain: f32,
    transient_floor: f32,
    /// Scale of transient sharpness.
    sharpness_scale: f32,
    /// Onset picking.
    pick: PickParams,
}

/// Levels below this share of the track's maximum are silence (-40 dB).
const GATE: f32 = 0.01;
/// Onsets within this distance of a beat count as on the beat.
const BEAT_WINDOW_S: f64 = 0.07;

fn tuning(preset: Preset) -> Tuning {
    let pick = PickParams {
        max_window_s: 0.03,
        avg_before_s: 0.1,
        avg_after_s: 0.05,
        delta: 0.01,
        threshold: 0.06,
        min_gap_s: 0.05,
    };
    match preset {
        Preset::Full => Tuning {
            low_weight: 0.3,
            continuous_gain: 1.0,
            gamma: 0.9,
            release_s: 0.05,
            transient_gain: 1.0,
            transient_floor: 0.3,
            sharpness_scale: 1.0,
            pick,
        },
        Preset::Rhythm => Tuning {
            low_weight: 0.3,
            continuous_gain: 0.0,
            gamma: 0.9,
            release_s: 0.05,
            transient_gain: 1.0,
            transient_floor: 0.4,
            sharpness_scale: 1.0,
            pick: PickParams {
                threshold: 0.3,
                min_gap_s: 0.12,
                ..pick
            },
        },
        Preset::Gentle => Tuning {
            low_weight: 0.5,
            continuous_gain: 0.6,
            gamma: 0.6,
            release_s: 0.25,
            transient_gain: 0.5,
            transient_floor: 0.2,
            sharpness_scale: 0.5,
            pick: PickParams {
                threshold: 0.3,
                min_gap_s: 0.2,
                ..pick
            },
        },
    }
}

/// Checks the inputs shared by generation and visualisation, returning a clean copy of the
/// samples (non-finite samples become silence).
pub(crate) fn checked_samples(mono: &[f32], sample_rate: u32) -> Result<Vec<f32>> {
    if sample_rate == 0 {
        return Err(Error::InvalidArgument("sample rate is 0 Hz".into()));
    }
    if mono.is_empty() {
        return Err(Error::InvalidArgument("the audio has no samples".into()));
    }
    let duration = mono.len() as f64 / f64::from(sample_rate);
    if duration > MAX_DURATION_S {
        return Err(Error::LimitExceeded(format!(
            "audio is {duration:.0} s long, over {MAX_DURATION_S} s"
        )));
    }
    Ok(mono
        .iter()
        .map(|&x| {
            if x.is_finite() {
                x.clamp(-4.0, 4.0)
            } else {
                0.0
            }
        })
        .collect())
}

/// Generates a haptic track from mono samples.
///
/// Errors: [`Error::InvalidArgument`] for no samples, a zero sample rate or an intensity outside
/// 0..=1; [`Error::LimitExceeded`] for audio over 24 hours.
pub fn generate(mono: &[f32], sample_rate: u32, options: &GenerateOptions) -> Result<HapticTrack> {
    let _span =
        tracing::debug_span!("haptics_generate", samples = mono.len(), sample_rate).entered();
    if !(0.0..=1.0).contains(&options.intensity) {
        return Err(Error::InvalidArgument(format!(
            "intensity {} is outside 0..=1",
            options.intensity
        )));
    }
    for (name, tol) in [
        ("amplitude", options.amplitude_tolerance),
        ("frequency", options.frequency_tolerance),
    ] {
        if !(0.0..=1.0).contains(&tol) {
            return Err(Error::InvalidArgument(format!(
                "{name} tolerance {tol} is outside 0..=1"
            )));
        }
    }
    let clean = checked_samples(mono, sample_rate)?;
    let feats = features(&clean, sample_rate);
    // The full preset places transients with the fine detector, unless the caller overrides
    // the (coarse) onset sensitivity.
    let fine_times = (options.preset == Preset::Full && options.onset_sensitivity.is_none())
        .then(|| transient_times(&clean, sample_rate));
    Ok(build(
        &feats,
        options,
        clean.len() as f64 / f64::from(sample_rate),
        fine_times.as_deref(),
    ))
}

/// The onset-derived beat grid of mono audio (seconds), for when no beat tracker ran.
pub fn onset_beats(mono: &[f32], sample_rate: u32) -> Result<Vec<f64>> {
    let clean = checked_samples(mono, sample_rate)?;
    let f = features(&clean, sample_rate);
    Ok(beats_from_onsets(&f.flux, f.frame_rate))
}

/// Times are kept to the microsecond: plenty for haptics, and short in JSON.
fn quantise_time(t: f64) -> f64 {
    (t * 1e6).round() / 1e6
}

fn peak(values: &[f32]) -> f32 {
    values.iter().copied().fold(0.0f32, f32::max)
}

fn build(
    f: &Features,
    options: &GenerateOptions,
    duration_s: f64,
    fine_times: Option<&[f64]>,
) -> HapticTrack {
    let mut tune = tuning(options.preset);
    if let Some((threshold, delta, min_gap_s)) = options.onset_sensitivity {
        tune.pick.threshold = threshold;
        tune.pick.delta = delta;
        tune.pick.min_gap_s = min_gap_s;
    }
    let user = options.intensity;
    let n = f.rms.len();
    let rate = f.frame_rate;

    // Continuous envelope: level mix, normalised, followed, gated, compressed.
    let (rms_max, low_max) = (peak(&f.rms), peak(&f.low));
    let mix: Vec<f32> = (0..n)
        .map(|t| {
            let r = if rms_max > 0.0 {
                f.rms[t] / rms_max
            } else {
                0.0
            };
            let l = if low_max > 0.0 {
                f.low[t] / low_max
            } else {
                0.0
            };
            (1.0 - tune.low_weight) * r + tune.low_weight * l
        })
        .collect();
    let mix_max = peak(&mix);
    let release = (-1.0 / (tune.release_s * rate)).exp() as f32;
    let mut level = 0.0f32;
    let continuous: Vec<f32> = mix
        .iter()
        .map(|&m| {
            let x = if mix_max > 0.0 { m / mix_max } else { 0.0 };
            level = if x > level {
                x
            } else {
                x + (level - x) * release
            };
            if level < GATE {
                0.0
            } else {
                (level.powf(tune.gamma) * tune.continuous_gain * user).clamp(0.0, 1.0)
            }
        })
        .collect();

    // Transients.
    let flux_max = peak(&f.flux);
    let mut onsets = pick_peaks(&f.flux, rate, &tune.pick);
    // Drop onsets in silence (below the gate within the next 50 ms).
    let look = (0.05 * rate).ceil() as usize;
    let local_level = |t: usize| -> f32 {
        let hi = (t + look + 1).min(n);
        mix[t.min(n)..hi].iter().copied().fold(0.0, f32::max) / mix_max.max(f32::MIN_POSITIVE)
    };
    onsets.retain(|&t| local_level(t) >= GATE * 3.0);
    let beats = options.beats_s.as_deref().unwrap_or(&[]);
    let near_beat = |time: f64| -> bool {
        let i = beats.partition_point(|&b| b < time);
        [i.checked_sub(1), Some(i)]
            .into_iter()
            .flatten()
            .filter_map(|j| beats.get(j))
            .any(|b| (b - time).abs() <= BEAT_WINDOW_S)
    };
    let mut transients: Vec<(f64, f32, f32)> = Vec::new();
    let strength = |t: usize| -> (f32, f32) {
        let s = if flux_max > 0.0 {
            (f.flux[t] / flux_max).sqrt()
        } else {
            0.0
        };
        let loud = local_level(t).sqrt();
        let raw = (s * (0.5 + 0.5 * loud)).clamp(0.0, 1.0);
        let intensity = tune.transient_floor + (1.0 - tune.transient_floor) * raw;
        let sharpness = (f.flux_sharpness[t] * tune.sharpness_scale).clamp(0.0, 1.0);
        (intensity, sharpness)
    };
    if options.preset == Preset::Rhythm && !beats.is_empty() {
        // Every beat, snapped to the strongest flux frame within the beat window.
        let w = (BEAT_WINDOW_S * rate).round() as usize;
        for &b in beats {
            if !(0.0..=duration_s).contains(&b) {
                continue;
            }
            let c = ((b * rate).round() as usize).min(n.saturating_sub(1));
            let (lo, hi) = (c.saturating_sub(w), (c + w + 1).min(n));
            let t = (lo..hi)
                .max_by(|&a, &b| f.flux[a].total_cmp(&f.flux[b]))
                .unwrap_or(c);
            if n > 0 && local_level(t) >= GATE * 3.0 {
                let (i, s) = strength(t);
                transients.push((quantise_time(t as f64 / rate), i, s));
            }
        }
    } else if let Some(fine_times) = fine_times {
        for &ft in fine_times {
            let t = ((ft * rate).round() as usize).min(n.saturating_sub(1));
            if n == 0 || local_level(t) < GATE * 3.0 {
                continue;
            }
            let time = quantise_time(ft);
            let (mut i, s) = strength(t);
            if near_beat(time) {
                i = (i * 1.2).min(1.0);
            }
            transients.push((time, i, s));
        }
    } else {
        for &t in &onsets {
            let time = quantise_time(t as f64 / rate);
            let (mut i, s) = strength(t);
            if near_beat(time) {
                i = (i * 1.2).min(1.0);
            }
            transients.push((time, i, s));
        }
    }
    transients.dedup_by(|b, a| (b.0 - a.0).abs() < 1e-9);

    // Amplitude breakpoints: frame samples plus one breakpoint per transient.
    let mut times: Vec<f64> = (0..n).map(|t| quantise_time(t as f64 / rate)).collect();
    let mut values = continuous.clone();
    let mut emph: Vec<Option<Emphasis>> = vec![None; n];
    for &(time, intensity, sharpness) in &transients {
        let i = times.partition_point(|&x| x < time);
        let amp = if i < n && (times[i] - time).abs() < 1e-9 {
            values[i]
        } else {
            values.get(i).copied().unwrap_or(0.0)
        };
        let e = Emphasis {
            amplitude: (intensity * tune.transient_gain * user).clamp(amp, 1.0),
            frequency: sharpness,
        };
        if i < times.len() && (times[i] - time).abs() < 1e-9 {
            emph[i] = Some(e);
        } else {
            times.insert(i, time);
            values.insert(i, amp);
            emph.insert(i, Some(e));
        }
    }
    if times.is_empty() {
        times.push(0.0);
        values.push(0.0);
        emph.push(None);
    }
    let kept = simplify(&times, &values, options.amplitude_tolerance, |i| {
        emph[i].is_some()
    });
    let amplitude = kept
        .into_iter()
        .map(|i| AmplitudeBreakpoint {
            time: times[i],
            amplitude: values[i],
            emphasis: emph[i],
        })
        .collect();

    // Frequency envelope: smoothed centroid (80 ms moving average).
    let half = ((0.04 * rate).round() as usize).max(1);
    let mut prefix = vec![0.0f64];
    for &c in &f.centroid {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + f64::from(c));
    }
    let smooth: Vec<f32> = (0..n)
        .map(|t| {
            let (lo, hi) = (t.saturating_sub(half), (t + half + 1).min(n));
            ((prefix[hi] - prefix[lo]) / (hi - lo) as f64) as f32
        })
        .collect();
    let ftimes: Vec<f64> = (0..n).map(|t| quantise_time(t as f64 / rate)).collect();
    let frequency = simplify(&ftimes, &smooth, options.frequency_tolerance, |_| false)
        .into_iter()
        .map(|i| FrequencyBreakpoint {
            time: ftimes[i],
            frequency: (smooth[i] * tune.sharpness_scale.max(0.5)).clamp(0.0, 1.0),
        })
        .collect();

    HapticTrack {
        metadata: Metadata {
            editor: concat!("encore-haptics ", env!("CARGO_PKG_VERSION")).into(),
            ..Metadata::default()
        },
        amplitude,
        frequency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 60 Hz kick (decaying) every 0.5 s and a hi-hat burst (noise) in between, about as
    /// loud as the kick (the full preset masks events more than 5 dB below a recent louder hit).
    fn drum_loop(sr: u32, secs: f64) -> Vec<f32> {
        let n = (secs * f64::from(sr)) as usize;
        let mut out = vec![0.0f32; n];
        let mut seed = 12345u32;
        let mut noise = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        };
        let step = (0.5 * f64::from(sr)) as usize;
        for k in 0..(n / step) {
            let kick = k * step;
            for i in 0..(0.2 * f64::from(sr)) as usize {
                if kick + i < n {
                    let t = i as f32 / sr as f32;
                    out[kick + i] +=
                        0.8 * (-t * 20.0).exp() * (std::f32::consts::TAU * 60.0 * t).sin();
                }
            }
            let hat = kick + step / 2;
            for i in 0..(0.05 * f64::from(sr)) as usize {
                if hat + i < n {
                    let t = i as f32 / sr as f32;
                    // High-passed noise: first difference of white noise.
                    out[hat + i] += 0.9 * (-t * 40.0).exp() * noise();
                }
            }
        }
        out
    }

    #[test]
    fn kicks_are_dull_and_hats_are_sharp() {
        let sr = 22_050;
        let track = generate(&drum_loop(sr, 4.0), sr, &GenerateOptions::default()).unwrap();
        track.validate().unwrap();
        let transients: Vec<_> = track.transients().collect();
        assert!(transients.len() >= 12, "{} transients", transients.len());
        let (mut kick, mut hat) = (Vec::new(), Vec::new());
        for tr in &transients {
            let phase = (tr.time / 0.5).fract();
            if !(0.1..=0.9).contains(&phase) {
                kick.push(tr.sharpness);
            } else if (0.4..=0.6).contains(&phase) {
                hat.push(tr.sharpness);
            }
        }
        assert!(
            kick.len() >= 6 && hat.len() >= 6,
            "kick {kick:?} hat {hat:?}"
        );
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!(mean(&kick) + 0.2 < mean(&hat), "kick {kick:?} hat {hat:?}");
        // Files stay small: far fewer breakpoints than frames.
        assert!(
            track.amplitude.len() < 4 * 86 / 2,
            "{} breakpoints",
            track.amplitude.len()
        );
    }

    #[test]
    fn presets_and_intensity_scale_the_output() {
        let sr = 22_050;
        let audio = drum_loop(sr, 3.0);
        let full = generate(&audio, sr, &GenerateOptions::default()).unwrap();
        let half = generate(
            &audio,
            sr,
            &GenerateOptions {
                intensity: 0.5,
                ..GenerateOptions::default()
            },
        )
        .unwrap();
        let rhythm = generate(
            &audio,
            sr,
            &GenerateOptions {
                preset: Preset::Rhythm,
                ..GenerateOptions::default()
            },
        )
        .unwrap();
        let gentle = generate(
            &audio,
            sr,
            &GenerateOptions {
                preset: Preset::Gentle,
                ..GenerateOptions::default()
            },
        )
        .unwrap();
        let max_amp = |t: &HapticTrack| t.amplitude.iter().map(|p| p.amplitude).fold(0.0, f32::max);
        let max_emph = |t: &HapticTrack| t.transients().map(|p| p.intensity).fold(0.0, f32::max);
        assert!((max_amp(&half) - 0.5 * max_amp(&full)).abs() < 0.05);
        assert!(max_emph(&half) <= 0.5 + 1e-6);
        assert_eq!(max_amp(&rhythm), 0.0);
        assert!(rhythm.transients().count() > 0);
        assert!(max_emph(&gentle) < max_emph(&full));
        assert!(gentle.transients().count() <= full.transients().count());
        let beats: Vec<f64> = (0..6).map(|k| k as f64 * 0.5).collect();
        let on_beats = generate(
            &audio,
            sr,
            &GenerateOptions {
                preset: Preset::Rhythm,
                beats_s: Some(beats),
                ..GenerateOptions::default()
            },
        )
        .unwrap();
        assert_eq!(on_beats.transients().count(), 6);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let check = |r: Result<HapticTrack>, needle: &str| {
            let e = r.unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        };
        let o = GenerateOptions::default();
        check(generate(&[], 22_050, &o), "no samples");
        check(generate(&[0.0; 10], 0, &o), "sample rate");
        check(
            generate(
                &[0.0; 10],
                22_050,
                &GenerateOptions {
                    intensity: f32::NAN,
                    ..o.clone()
                },
            ),
            "intensity",
        );
        check(
            generate(
                &[0.0; 10],
                22_050,
                &GenerateOptions {
                    intensity: 2.0,
                    ..o.clone()
                },
            ),
            "intensity",
        );
        // Silence and garbage samples give a valid, empty-feeling track.
        let quiet = generate(&[f32::NAN, f32::INFINITY, 0.0, 0.0], 22_050, &o).unwrap();
        quiet.validate().unwrap();
        assert_eq!(quiet.transients().count(), 0);
        let long = generate(&vec![0.0; 86_401], 1, &o);
        assert!(matches!(long, Err(Error::LimitExceeded(_))), "{long:?}");
    }
}
