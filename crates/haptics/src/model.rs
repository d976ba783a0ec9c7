//! The haptic track model: continuous amplitude and frequency envelopes with emphasis
//! (transient) events, as in Lofelt `.haptic` v1.

use crate::error::{Error, Result};

/// Largest input a parser accepts, in bytes (protection against hostile files).
pub const MAX_INPUT_BYTES: usize = 64 << 20;
/// Most breakpoints accepted per envelope (protection against hostile files).
pub const MAX_BREAKPOINTS: usize = 2_000_000;
/// Longest track accepted, in seconds (24 hours).
pub const MAX_DURATION_S: f64 = 86_400.0;

/// Who made a track and from what; every field is optional text, as in `.haptic` v1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// Tool (and version) that generated the track.
    pub editor: String,
    /// Person or company who authored it.
    pub author: String,
    /// Name of the source audio file.
    pub source: String,
    /// Project the track belongs to.
    pub project: String,
    /// Tags for search.
    pub tags: Vec<String>,
    /// Free text.
    pub description: String,
}

/// A transient accent on an amplitude breakpoint: a short, sharp pulse on top of the envelope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Emphasis {
    /// Strength, 0..=1.
    pub amplitude: f32,
    /// Normalised frequency ("sharpness"), 0 (dull, a kick) ..= 1 (sharp, a hi-hat).
    pub frequency: f32,
}

/// One point of the amplitude envelope; the envelope is linear between points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmplitudeBreakpoint {
    /// Seconds from the start.
    pub time: f64,
    /// Continuous vibration strength, 0..=1.
    pub amplitude: f32,
    /// An optional transient at this point.
    pub emphasis: Option<Emphasis>,
}

/// One point of the frequency envelope; the envelope is linear between points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrequencyBreakpoint {
    /// Seconds from the start.
    pub time: f64,
    /// Normalised frequency ("sharpness"), 0..=1.
    pub frequency: f32,
}

/// A transient event, read off the emphasis of an amplitude breakpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transient {
    /// Seconds from the start.
    pub time: f64,
    /// Strength, 0..=1.
    pub intensity: f32,
    /// Sharpness, 0..=1.
    pub sharpness: f32,
}

/// A haptic track: one continuous signal (amplitude envelope, optional frequency envelope)
/// whose amplitude breakpoints may carry transient emphasis.
///
/// Invariants (checked by [`HapticTrack::validate`], guaranteed by the generator and parsers):
/// the amplitude envelope is not empty; times are finite, non-negative, non-decreasing and at
/// most [`MAX_DURATION_S`]; every amplitude, frequency and emphasis value is within 0..=1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HapticTrack {
    /// Provenance.
    pub metadata: Metadata,
    /// Amplitude breakpoints, in time order.
    pub amplitude: Vec<AmplitudeBreakpoint>,
    /// Frequency breakpoints, in time order (may be empty: then the frequency is 0.5).
    pub frequency: Vec<FrequencyBreakpoint>,
}

impl HapticTrack {
    /// Checks the invariants; the error names the first offending breakpoint.
    pub fn validate(&self) -> Result<()> {
        self.validate_as("track")
    }

    pub(crate) fn validate_as(&self, format: &'static str) -> Result<()> {
        let base = "signals.continuous.envelopes";
        if self.amplitude.is_empty() {
            return Err(Error::invalid(
                format,
                format!("{base}.amplitude"),
                "the amplitude envelope is empty",
            ));
        }
        if self.amplitude.len() > MAX_BREAKPOINTS || self.frequency.len() > MAX_BREAKPOINTS {
            return Err(Error::LimitExceeded(format!(
                "more than {MAX_BREAKPOINTS} breakpoints in an envelope"
            )));
        }
        let mut prev = 0.0f64;
        for (i, p) in self.amplitude.iter().enumerate() {
            let path = format!("{base}.amplitude[{i}]");
            check_time(format, &path, p.time, &mut prev)?;
            check_unit(format, &format!("{path}.amplitude"), p.amplitude)?;
            if let Some(e) = p.emphasis {
                check_unit(format, &format!("{path}.emphasis.amplitude"), e.amplitude)?;
                check_unit(format, &format!("{path}.emphasis.frequency"), e.frequency)?;
            }
        }
        let mut prev = 0.0f64;
        for (i, p) in self.frequency.iter().enumerate() {
            let path = format!("{base}.frequency[{i}]");
            check_time(format, &path, p.time, &mut prev)?;
            check_unit(format, &format!("{path}.frequency"), p.frequency)?;
        }
        Ok(())
    }

    /// Time of the last breakpoint, in seconds.
    pub fn duration_s(&self) -> f64 {
        let a = self.amplitude.last().map_or(0.0, |p| p.time);
        let f = self.frequency.last().map_or(0.0, |p| p.time);
        a.max(f)
    }

    /// The continuous amplitude at `t` (linear between breakpoints, held outside them).
    pub fn amplitude_at(&self, t: f64) -> f32 {
        interpolate(&self.amplitude, t, |p| (p.time, p.amplitude)).unwrap_or(0.0)
    }

    /// The continuous frequency at `t` (0.5 when there is no frequency envelope).
    pub fn frequency_at(&self, t: f64) -> f32 {
        interpolate(&self.frequency, t, |p| (p.time, p.frequency)).unwrap_or(0.5)
    }

    /// The transients (emphasis points), in time order.
    pub fn transients(&self) -> impl Iterator<Item = Transient> + '_ {
        self.amplitude.iter().filter_map(|p| {
            p.emphasis.map(|e| Transient {
                time: p.time,
                intensity: e.amplitude,
                sharpness: e.frequency,
            })
        })
    }

    /// The amplitude envelope sampled every `1 / rate` seconds from 0 to `duration_s`.
    pub fn sample_amplitude(&self, rate: f64, duration_s: f64) -> Vec<f32> {
        let n = (duration_s * rate).ceil().max(0.0) as usize + 1;
        let mut out = Vec::with_capacity(n);
        let mut cursor = 0usize;
        for i in 0..n {
            let t = i as f64 / rate;
            while cursor + 1 < self.amplitude.len() && self.amplitude[cursor + 1].time <= t {
                cursor += 1;
            }
            out.push(lerp_at(&self.amplitude, cursor, t, |p| {
                (p.time, p.amplitude)
            }));
        }
        out
    }
}

fn check_time(format: &'static str, path: &str, t: f64, prev: &mut f64) -> Result<()> {
    if !t.is_finite() || t < 0.0 {
        return Err(Error::invalid(
            format,
            format!("{path}.time"),
            format!("time {t} is not a finite, non-negative number of seconds"),
        ));
    }
    if t > MAX_DURATION_S {
        return Err(Error::LimitExceeded(format!(
            "{path}.time is {t} s, over {MAX_DURATION_S} s"
        )));
    }
    if t < *prev {
        return Err(Error::invalid(
            format,
            format!("{path}.time"),
            format!("time {t} is before the previous breakpoint ({prev})"),
        ));
    }
    *prev = t;
    Ok(())
}

fn check_unit(format: &'static str, path: &str, v: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&v) {
        return Err(Error::invalid(
            format,
            path,
            format!("{v} is outside 0..=1"),
        ));
    }
    Ok(())
}

fn interpolate<P>(points: &[P], t: f64, f: impl Fn(&P) -> (f64, f32)) -> Option<f32> {
    if points.is_empty() {
        return None;
    }
    let idx = points.partition_point(|p| f(p).0 <= t);
    Some(lerp_at(points, idx.saturating_sub(1), t, f))
}

fn lerp_at<P>(points: &[P], i: usize, t: f64, f: impl Fn(&P) -> (f64, f32)) -> f32 {
    let Some(p) = points.get(i) else { return 0.0 };
    let (t0, v0) = f(p);
    if t <= t0 {
        return v0;
    }
    match points.get(i + 1) {
        Some(q) => {
            let (t1, v1) = f(q);
            if t1 <= t0 {
                v1
            } else {
                let x = ((t - t0) / (t1 - t0)).clamp(0.0, 1.0) as f32;
                v0 + (v1 - v0) * x
            }
        }
        None => v0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bp(time: f64, amplitude: f32) -> AmplitudeBreakpoint {
        AmplitudeBreakpoint {
            time,
            amplitude,
            emphasis: None,
        }
    }

    #[test]
    fn interpolation_is_linear_and_held_outside() {
        let track = HapticTrack {
            amplitude: vec![bp(1.0, 0.2), bp(2.0, 0.6)],
            ..HapticTrack::default()
        };
        assert_eq!(track.amplitude_at(0.0), 0.2);
        assert!((track.amplitude_at(1.5) - 0.4).abs() < 1e-6);
        assert_eq!(track.amplitude_at(3.0), 0.6);
        assert_eq!(track.frequency_at(1.0), 0.5);
        let s = track.sample_amplitude(2.0, 2.0);
        assert_eq!(s.len(), 5);
        assert!((s[3] - 0.4).abs() < 1e-6);
    }

    #[test]
    fn validation_names_the_offending_point() {
        let check = |track: HapticTrack, needle: &str| {
            let err = track.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        };
        check(HapticTrack::default(), "amplitude envelope is empty");
        check(
            HapticTrack {
                amplitude: vec![bp(1.0, 0.2), bp(0.5, 0.1)],
                ..HapticTrack::default()
            },
            "amplitude[1].time",
        );
        check(
            HapticTrack {
                amplitude: vec![bp(0.0, 1.5)],
                ..HapticTrack::default()
            },
            "amplitude[0].amplitude",
        );
        check(
            HapticTrack {
                amplitude: vec![bp(f64::NAN, 0.5)],
                ..HapticTrack::default()
            },
            "amplitude[0].time",
        );
        check(
            HapticTrack {
                amplitude: vec![bp(1e9, 0.5)],
                ..HapticTrack::default()
            },
            "limit exceeded",
        );
        let mut ok = HapticTrack {
            amplitude: vec![bp(0.0, 0.0), bp(0.0, 1.0)],
            ..HapticTrack::default()
        };
        ok.amplitude[1].emphasis = Some(Emphasis {
            amplitude: 1.0,
            frequency: 0.0,
        });
        ok.validate().unwrap();
        assert_eq!(ok.transients().count(), 1);
    }
}
