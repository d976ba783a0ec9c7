//! Android export: a `VibrationEffect.createWaveform(timings, amplitudes, -1)` waveform and a
//! `VibrationEffect.Composition` of primitives, in one JSON document.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{
    AmplitudeBreakpoint, Emphasis, HapticTrack, MAX_BREAKPOINTS, MAX_INPUT_BYTES, Metadata,
};

const FORMAT: &str = "Android";
/// Length of one waveform step, ms: about the response time of a phone's actuator.
pub(crate) const STEP_MS: u64 = 20;
/// Primitive names, as the `VibrationEffect.Composition` constants.
const PRIMITIVES: [&str; 4] = [
    "PRIMITIVE_CLICK",
    "PRIMITIVE_THUD",
    "PRIMITIVE_TICK",
    "PRIMITIVE_LOW_TICK",
];

/// One `Composition.addPrimitive(primitive, scale, delay)` call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AndroidPrimitive {
    /// `PRIMITIVE_CLICK` (strong, sharp), `PRIMITIVE_THUD` (strong, dull), `PRIMITIVE_TICK`
    /// (light, sharp) or `PRIMITIVE_LOW_TICK` (light, dull).
    pub primitive: String,
    /// Scale, 0..=1.
    pub scale: f32,
    /// Milliseconds from the previous primitive's start (from 0 for the first). Android counts
    /// the delay from the end of the previous primitive, so a player subtracts that
    /// primitive's length from `VibratorInfo.getPrimitiveDuration`.
    pub delay_ms: u64,
    /// Start time in milliseconds from the beginning of the track.
    pub time_ms: u64,
}

/// The waveform for `VibrationEffect.createWaveform(timings, amplitudes, repeat)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AndroidWaveform {
    /// Segment lengths in milliseconds.
    pub timings: Vec<u64>,
    /// Segment amplitudes, 0 (off) to 255.
    pub amplitudes: Vec<u8>,
    /// Repeat index; -1 plays once.
    pub repeat: i32,
}

/// The Android export: both variants, so the app picks composition primitives when
/// `Vibrator.arePrimitivesSupported` says so and the waveform otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AndroidEffect {
    /// Always `"encore-android-haptics"`.
    pub format: String,
    /// Schema version, 1.
    pub version: u32,
    /// The amplitude waveform (continuous envelope plus transients, in 20 ms steps).
    pub waveform: AndroidWaveform,
    /// The transients as composition primitives.
    pub composition: Vec<AndroidPrimitive>,
}

fn primitive_for(intensity: f32, sharpness: f32) -> &'static str {
    match (intensity >= 0.5, sharpness >= 0.5) {
        (true, true) => PRIMITIVES[0],
        (true, false) => PRIMITIVES[1],
        (false, true) => PRIMITIVES[2],
        (false, false) => PRIMITIVES[3],
    }
}

fn to_u8(a: f32) -> u8 {
    (a.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// The level of each 20 ms step: the envelope at the step's centre, raised to the strength of
/// any transient inside the step.
pub(crate) fn step_levels(track: &HapticTrack, step_s: f64) -> Vec<f32> {
    let n = (track.duration_s() / step_s).ceil() as usize + 1;
    let mut levels: Vec<f32> = (0..n)
        .map(|i| track.amplitude_at((i as f64 + 0.5) * step_s))
        .collect();
    for tr in track.transients() {
        let i = ((tr.time / step_s).floor() as usize).min(n - 1);
        levels[i] = levels[i].max(tr.intensity);
    }
    levels
}

/// Builds the Android export of a track.
pub fn to_android(track: &HapticTrack) -> Result<AndroidEffect> {
    track.validate_as(FORMAT)?;
    let mut timings: Vec<u64> = Vec::new();
    let mut amplitudes: Vec<u8> = Vec::new();
    for level in step_levels(track, STEP_MS as f64 / 1000.0) {
        let a = to_u8(level);
        if amplitudes.last() == Some(&a) {
            if let Some(t) = timings.last_mut() {
                *t += STEP_MS;
            }
        } else {
            amplitudes.push(a);
            timings.push(STEP_MS);
        }
    }
    let mut composition = Vec::new();
    let mut prev = 0u64;
    for tr in track.transients() {
        let time_ms = (tr.time * 1000.0).round() as u64;
        composition.push(AndroidPrimitive {
            primitive: primitive_for(tr.intensity, tr.sharpness).into(),
            scale: tr.intensity,
            delay_ms: time_ms.saturating_sub(prev),
            time_ms,
        });
        prev = time_ms;
    }
    Ok(AndroidEffect {
        format: "encore-android-haptics".into(),
        version: 1,
        waveform: AndroidWaveform {
            timings,
            amplitudes,
            repeat: -1,
        },
        composition,
    })
}

/// Parses and validates an Android export written by [`to_android`].
pub fn parse_android(bytes: &[u8]) -> Result<AndroidEffect> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Error::LimitExceeded(format!(
            "{FORMAT} input is {} bytes, over {MAX_INPUT_BYTES}",
            bytes.len()
        )));
    }
    let e: AndroidEffect = serde_json::from_slice(bytes).map_err(|e| Error::json(FORMAT, &e))?;
    if e.format != "encore-android-haptics" {
        return Err(Error::invalid(
            FORMAT,
            "format",
            format!("unexpected format {:?}", e.format),
        ));
    }
    if e.version != 1 {
        return Err(Error::UnsupportedVersion {
            format: FORMAT,
            version: e.version.to_string(),
        });
    }
    let w = &e.waveform;
    if w.timings.len() != w.amplitudes.len() {
        return Err(Error::invalid(
            FORMAT,
            "waveform",
            format!(
                "{} timings but {} amplitudes",
                w.timings.len(),
                w.amplitudes.len()
            ),
        ));
    }
    if w.timings.len() > MAX_BREAKPOINTS || e.composition.len() > MAX_BREAKPOINTS {
        return Err(Error::LimitExceeded(format!(
            "more than {MAX_BREAKPOINTS} segments or primitives"
        )));
    }
    let total: u64 = w.timings.iter().fold(0u64, |a, &t| a.saturating_add(t));
    if total as f64 > crate::model::MAX_DURATION_S * 1000.0 {
        return Err(Error::LimitExceeded(format!("waveform lasts {total} ms")));
    }
    if w.repeat < -1 || w.repeat >= w.timings.len() as i32 {
        return Err(Error::invalid(
            FORMAT,
            "waveform.repeat",
            format!("repeat index {} is out of range", w.repeat),
        ));
    }
    for (i, p) in e.composition.iter().enumerate() {
        if !PRIMITIVES.contains(&p.primitive.as_str()) {
            return Err(Error::invalid(
                FORMAT,
                format!("composition[{i}].primitive"),
                format!("unknown primitive {:?}", p.primitive),
            ));
        }
        if !(0.0..=1.0).contains(&p.scale) {
            return Err(Error::invalid(
                FORMAT,
                format!("composition[{i}].scale"),
                format!("{} is outside 0..=1", p.scale),
            ));
        }
        if p.time_ms as f64 > crate::model::MAX_DURATION_S * 1000.0 {
            return Err(Error::LimitExceeded(format!(
                "composition[{i}].time_ms is {} ms",
                p.time_ms
            )));
        }
    }
    Ok(e)
}

impl AndroidEffect {
    /// The track this effect renders: the waveform as a step envelope, the primitives as
    /// emphasis (sharp primitives at sharpness 0.75, dull ones at 0.25).
    pub fn to_track(&self) -> HapticTrack {
        let mut amplitude = Vec::new();
        let mut t = 0u64;
        for (&ms, &a) in self.waveform.timings.iter().zip(&self.waveform.amplitudes) {
            let v = f32::from(a) / 255.0;
            amplitude.push(AmplitudeBreakpoint {
                time: t as f64 / 1000.0,
                amplitude: v,
                emphasis: None,
            });
            t += ms;
            amplitude.push(AmplitudeBreakpoint {
                time: t as f64 / 1000.0,
                amplitude: v,
                emphasis: None,
            });
        }
        for p in &self.composition {
            let time = p.time_ms as f64 / 1000.0;
            let sharp = matches!(p.primitive.as_str(), "PRIMITIVE_CLICK" | "PRIMITIVE_TICK");
            let i = amplitude.partition_point(|b| b.time <= time);
            let a = amplitude
                .get(i.saturating_sub(1))
                .map_or(0.0, |b| b.amplitude);
            amplitude.insert(
                i,
                AmplitudeBreakpoint {
                    time,
                    amplitude: a,
                    emphasis: Some(Emphasis {
                        amplitude: p.scale.max(a),
                        frequency: if sharp { 0.75 } else { 0.25 },
                    }),
                },
            );
        }
        if amplitude.is_empty() {
            amplitude.push(AmplitudeBreakpoint {
                time: 0.0,
                amplitude: 0.0,
                emphasis: None,
            });
        }
        HapticTrack {
            metadata: Metadata::default(),
            amplitude,
            frequency: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_follow_strength_and_sharpness() {
        assert_eq!(primitive_for(0.9, 0.9), "PRIMITIVE_CLICK");
        assert_eq!(primitive_for(0.9, 0.1), "PRIMITIVE_THUD");
        assert_eq!(primitive_for(0.2, 0.9), "PRIMITIVE_TICK");
        assert_eq!(primitive_for(0.2, 0.1), "PRIMITIVE_LOW_TICK");
    }

    #[test]
    fn bad_android_json_is_refused() {
        let check = |json: &str, needle: &str| {
            let e = parse_android(json.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should contain {needle}");
        };
        let ok = r#"{"format":"encore-android-haptics","version":1,"waveform":{"timings":[20],"amplitudes":[255],"repeat":-1},"composition":[]}"#;
        parse_android(ok.as_bytes()).unwrap();
        check(&ok.replace("[255]", "[256]"), "malformed Android JSON");
        check(&ok.replace("[255]", "[1,2]"), "1 timings but 2 amplitudes");
        check(&ok.replace("\"version\":1", "\"version\":9"), "version 9");
        check(
            &ok.replace("\"repeat\":-1", "\"repeat\":5"),
            "waveform.repeat",
        );
        check(
            &ok.replace(
                "[]}",
                r#"[{"primitive":"PRIMITIVE_BANG","scale":1,"delay_ms":0,"time_ms":0}]}"#,
            ),
            "composition[0].primitive",
        );
        check(
            &ok.replace(
                "[]}",
                r#"[{"primitive":"PRIMITIVE_TICK","scale":2,"delay_ms":0,"time_ms":0}]}"#,
            ),
            "composition[0].scale",
        );
    }
}
