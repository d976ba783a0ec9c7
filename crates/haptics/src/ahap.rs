//! Apple Haptic and Audio Pattern (AHAP) for Core Haptics: export and validated import.
//!
//! Export layout: `HapticContinuous` events of at most 30 s (intensity 1, sharpness 0) cover
//! the amplitude envelope; `HapticIntensityControl` and `HapticSharpnessControl` parameter
//! curves of at most 16 control points carry the amplitude and frequency envelopes (each curve
//! starts on the previous curve's last point, so the envelope stays continuous);
//! `HapticTransient` events carry the emphasis points.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{
    AmplitudeBreakpoint, Emphasis, FrequencyBreakpoint, HapticTrack, MAX_BREAKPOINTS,
    MAX_INPUT_BYTES, Metadata,
};

const FORMAT: &str = "AHAP";
/// Longest continuous event written, seconds (Core Haptics' limit).
pub(crate) const MAX_CONTINUOUS_S: f64 = 30.0;
/// Most control points per parameter curve (Core Haptics' limit).
pub(crate) const MAX_CURVE_POINTS: usize = 16;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ahap {
    version: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<AhapMeta>,
    pattern: Vec<Entry>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct AhapMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    project: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    created: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameter: Option<Parameter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameter_curve: Option<Curve>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Event {
    time: f64,
    event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_duration: Option<f64>,
    #[serde(default)]
    event_parameters: Vec<EventParameter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_waveform_path: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventParameter {
    #[serde(rename = "ParameterID")]
    parameter_id: String,
    parameter_value: f32,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Parameter {
    #[serde(rename = "ParameterID")]
    parameter_id: String,
    time: f64,
    parameter_value: f32,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Curve {
    #[serde(rename = "ParameterID")]
    parameter_id: String,
    time: f64,
    parameter_curve_control_points: Vec<ControlPoint>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ControlPoint {
    time: f64,
    parameter_value: f32,
}

fn param(id: &str, value: f32) -> EventParameter {
    EventParameter {
        parameter_id: id.into(),
        parameter_value: value,
    }
}

/// Writes a track as AHAP JSON (Version 1.0) for Core Haptics.
pub fn to_ahap(track: &HapticTrack) -> Result<String> {
    track.validate_as(FORMAT)?;
    let mut pattern = Vec::new();
    let start = track.amplitude.first().map_or(0.0, |p| p.time);
    let end = track.amplitude.last().map_or(0.0, |p| p.time);
    let mut t = start;
    loop {
        let d = (end - t).min(MAX_CONTINUOUS_S);
        if d <= 0.0 && t > start {
            break;
        }
        pattern.push(Entry {
            event: Some(Event {
                time: t,
                event_type: "HapticContinuous".into(),
                event_duration: Some(d.max(0.001)),
                event_parameters: vec![
                    param("HapticIntensity", 1.0),
                    param("HapticSharpness", 0.0),
                ],
                event_waveform_path: None,
            }),
            parameter: None,
            parameter_curve: None,
        });
        t += d;
        if d <= 0.0 || t >= end {
            break;
        }
    }
    let amp: Vec<(f64, f32)> = track
        .amplitude
        .iter()
        .map(|p| (p.time, p.amplitude))
        .collect();
    let freq: Vec<(f64, f32)> = track
        .frequency
        .iter()
        .map(|p| (p.time, p.frequency))
        .collect();
    push_curves(&mut pattern, "HapticIntensityControl", &amp);
    push_curves(&mut pattern, "HapticSharpnessControl", &freq);
    for tr in track.transients() {
        pattern.push(Entry {
            event: Some(Event {
                time: tr.time,
                event_type: "HapticTransient".into(),
                event_duration: None,
                event_parameters: vec![
                    param("HapticIntensity", tr.intensity),
                    param("HapticSharpness", tr.sharpness),
                ],
                event_waveform_path: None,
            }),
            parameter: None,
            parameter_curve: None,
        });
    }
    let m = &track.metadata;
    let ahap = Ahap {
        version: 1.0,
        metadata: Some(AhapMeta {
            project: m.project.clone(),
            created: m.editor.clone(),
            description: m.description.clone(),
        }),
        pattern,
    };
    serde_json::to_string(&ahap).map_err(|e| Error::InvalidArgument(e.to_string()))
}

fn push_curves(pattern: &mut Vec<Entry>, id: &str, points: &[(f64, f32)]) {
    if points.is_empty() {
        return;
    }
    let mut i = 0;
    loop {
        let chunk = &points[i..(i + MAX_CURVE_POINTS).min(points.len())];
        let t0 = chunk[0].0;
        pattern.push(Entry {
            event: None,
            parameter: None,
            parameter_curve: Some(Curve {
                parameter_id: id.into(),
                time: t0,
                parameter_curve_control_points: chunk
                    .iter()
                    .map(|&(t, v)| ControlPoint {
                        time: t - t0,
                        parameter_value: v,
                    })
                    .collect(),
            }),
        });
        // The next curve starts on this curve's last point.
        i += chunk.len() - 1;
        if i + 1 >= points.len() {
            break;
        }
    }
}

fn check_time(path: &str, t: f64) -> Result<()> {
    if !t.is_finite() || t < 0.0 {
        return Err(Error::invalid(
            FORMAT,
            path,
            format!("time {t} is not a finite, non-negative number of seconds"),
        ));
    }
    if t > crate::model::MAX_DURATION_S {
        return Err(Error::LimitExceeded(format!(
            "{path} is {t} s, over {} s",
            crate::model::MAX_DURATION_S
        )));
    }
    Ok(())
}

fn check_range(path: &str, v: f32, lo: f32, hi: f32) -> Result<()> {
    if !(lo..=hi).contains(&v) {
        return Err(Error::invalid(
            FORMAT,
            path,
            format!("{v} is outside {lo}..={hi}"),
        ));
    }
    Ok(())
}

/// Parses and validates AHAP JSON into a track.
///
/// Continuous events multiplied by the intensity control curves give the amplitude envelope;
/// transient events become emphasis; the sharpness control curves (added to the continuous
/// events' sharpness) give the frequency envelope. Audio events are accepted and ignored.
///
/// Errors: [`Error::Json`] for malformed JSON or missing fields, [`Error::UnsupportedVersion`]
/// for a version other than 1.x, [`Error::Invalid`] (with the path, e.g. `Pattern[3].Event`)
/// for unknown event types, out-of-range values or curves over 16 points,
/// [`Error::LimitExceeded`] for oversized inputs.
pub fn parse_ahap(bytes: &[u8]) -> Result<HapticTrack> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Error::LimitExceeded(format!(
            "{FORMAT} input is {} bytes, over {MAX_INPUT_BYTES}",
            bytes.len()
        )));
    }
    let ahap: Ahap = serde_json::from_slice(bytes).map_err(|e| Error::json(FORMAT, &e))?;
    if !(1.0..2.0).contains(&ahap.version) {
        return Err(Error::UnsupportedVersion {
            format: FORMAT,
            version: ahap.version.to_string(),
        });
    }
    if ahap.pattern.len() > MAX_BREAKPOINTS {
        return Err(Error::LimitExceeded(format!(
            "more than {MAX_BREAKPOINTS} pattern entries"
        )));
    }
    // (start, end, intensity, sharpness)
    let mut continuous: Vec<(f64, f64, f32, f32)> = Vec::new();
    let mut transients: Vec<(f64, Emphasis)> = Vec::new();
    let mut intensity: Vec<(f64, f32)> = Vec::new();
    let mut sharpness: Vec<(f64, f32)> = Vec::new();
    for (i, entry) in ahap.pattern.iter().enumerate() {
        let path = format!("Pattern[{i}]");
        let present = [
            entry.event.is_some(),
            entry.parameter.is_some(),
            entry.parameter_curve.is_some(),
        ];
        if present.iter().filter(|&&b| b).count() != 1 {
            return Err(Error::invalid(
                FORMAT,
                path,
                "an entry holds exactly one of Event, Parameter, ParameterCurve",
            ));
        }
        if let Some(ev) = &entry.event {
            let path = format!("{path}.Event");
            check_time(&format!("{path}.Time"), ev.time)?;
            let (mut int, mut sharp) = (1.0f32, 0.5f32);
            for (j, p) in ev.event_parameters.iter().enumerate() {
                let ppath = format!("{path}.EventParameters[{j}]");
                match p.parameter_id.as_str() {
                    "HapticIntensity" => {
                        check_range(&ppath, p.parameter_value, 0.0, 1.0)?;
                        int = p.parameter_value;
                    }
                    "HapticSharpness" => {
                        check_range(&ppath, p.parameter_value, 0.0, 1.0)?;
                        sharp = p.parameter_value;
                    }
                    "AttackTime" | "DecayTime" | "ReleaseTime" | "Sustained" | "AudioVolume"
                    | "AudioPitch" | "AudioPan" | "AudioBrightness" => {
                        if !p.parameter_value.is_finite() {
                            return Err(Error::invalid(FORMAT, ppath, "value is not finite"));
                        }
                    }
                    other => {
                        return Err(Error::invalid(
                            FORMAT,
                            ppath,
                            format!("unknown ParameterID {other:?}"),
                        ));
                    }
                }
            }
            match ev.event_type.as_str() {
                "HapticTransient" => transients.push((
                    ev.time,
                    Emphasis {
                        amplitude: int,
                        frequency: sharp,
                    },
                )),
                "HapticContinuous" => {
                    let d = ev.event_duration.ok_or_else(|| {
                        Error::invalid(
                            FORMAT,
                            format!("{path}.EventDuration"),
                            "a HapticContinuous event needs a duration",
                        )
                    })?;
                    if !d.is_finite() || d <= 0.0 || d > MAX_CONTINUOUS_S + 1e-6 {
                        return Err(Error::invalid(
                            FORMAT,
                            format!("{path}.EventDuration"),
                            format!("duration {d} is outside 0..=30 s"),
                        ));
                    }
                    continuous.push((ev.time, ev.time + d, int, sharp));
                }
                "AudioContinuous" | "AudioCustom" => {}
                other => {
                    return Err(Error::invalid(
                        FORMAT,
                        format!("{path}.EventType"),
                        format!("unknown event type {other:?}"),
                    ));
                }
            }
        }
        if let Some(p) = &entry.parameter {
            let path = format!("{path}.Parameter");
            check_time(&format!("{path}.Time"), p.time)?;
            if !p.parameter_value.is_finite() {
                return Err(Error::invalid(FORMAT, path, "value is not finite"));
            }
        }
        if let Some(c) = &entry.parameter_curve {
            let path = format!("{path}.ParameterCurve");
            check_time(&format!("{path}.Time"), c.time)?;
            let pts = &c.parameter_curve_control_points;
            if pts.is_empty() || pts.len() > MAX_CURVE_POINTS {
                return Err(Error::invalid(
                    FORMAT,
                    format!("{path}.ParameterCurveControlPoints"),
                    format!(
                        "{} control points (1 to {MAX_CURVE_POINTS} allowed)",
                        pts.len()
                    ),
                ));
            }
            let (target, lo) = match c.parameter_id.as_str() {
                "HapticIntensityControl" => (Some(&mut intensity), 0.0),
                "HapticSharpnessControl" => (Some(&mut sharpness), -1.0),
                "HapticAttackTimeControl"
                | "HapticDecayTimeControl"
                | "HapticReleaseTimeControl"
                | "AudioVolumeControl"
                | "AudioPanControl"
                | "AudioPitchControl"
                | "AudioBrightnessControl"
                | "AudioAttackTimeControl"
                | "AudioDecayTimeControl"
                | "AudioReleaseTimeControl" => (None, -1.0),
                other => {
                    return Err(Error::invalid(
                        FORMAT,
                        format!("{path}.ParameterID"),
                        format!("unknown curve parameter {other:?}"),
                    ));
                }
            };
            let mut prev = 0.0;
            for (j, p) in pts.iter().enumerate() {
                let ppath = format!("{path}.ParameterCurveControlPoints[{j}]");
                check_time(&format!("{ppath}.Time"), p.time)?;
                if p.time < prev {
                    return Err(Error::invalid(
                        FORMAT,
                        format!("{ppath}.Time"),
                        "control points are out of time order",
                    ));
                }
                prev = p.time;
                if let Some(target) = target.as_ref() {
                    let _ = target;
                    check_range(
                        &format!("{ppath}.ParameterValue"),
                        p.parameter_value,
                        lo,
                        1.0,
                    )?;
                }
            }
            if let Some(target) = target {
                for p in pts {
                    let t = c.time + p.time;
                    check_time(&format!("{path}.Time"), t)?;
                    // Consecutive curves share their boundary point: keep it once.
                    if target.last() != Some(&(t, p.parameter_value)) {
                        target.push((t, p.parameter_value));
                    }
                }
            }
        }
    }
    let stable_sort = |v: &mut Vec<(f64, f32)>| v.sort_by(|a, b| a.0.total_cmp(&b.0));
    stable_sort(&mut intensity);
    stable_sort(&mut sharpness);
    continuous.sort_by(|a, b| a.0.total_cmp(&b.0));
    transients.sort_by(|a, b| a.0.total_cmp(&b.0));

    let event_at = |t: f64| {
        continuous
            .iter()
            .find(|c| c.0 - 1e-9 <= t && t <= c.1 + 1e-9)
    };
    let mut amplitude: Vec<AmplitudeBreakpoint> = if intensity.is_empty() {
        continuous
            .iter()
            .flat_map(|c| [(c.0, c.2), (c.1, c.2)])
            .map(|(time, amplitude)| AmplitudeBreakpoint {
                time,
                amplitude,
                emphasis: None,
            })
            .collect()
    } else {
        intensity
            .iter()
            .map(|&(time, v)| AmplitudeBreakpoint {
                time,
                amplitude: event_at(time).map_or(0.0, |c| (c.2 * v).clamp(0.0, 1.0)),
                emphasis: None,
            })
            .collect()
    };
    let frequency: Vec<FrequencyBreakpoint> = if sharpness.is_empty() {
        continuous
            .iter()
            .flat_map(|c| [(c.0, c.3), (c.1, c.3)])
            .map(|(time, frequency)| FrequencyBreakpoint { time, frequency })
            .collect()
    } else {
        sharpness
            .iter()
            .map(|&(time, v)| FrequencyBreakpoint {
                time,
                frequency: (event_at(time).map_or(0.0, |c| c.3) + v).clamp(0.0, 1.0),
            })
            .collect()
    };
    for (time, e) in transients {
        let i = amplitude.partition_point(|p| p.time < time - 1e-9);
        let mut j = i;
        while j < amplitude.len()
            && (amplitude[j].time - time).abs() <= 1e-9
            && amplitude[j].emphasis.is_some()
        {
            j += 1;
        }
        if j < amplitude.len() && (amplitude[j].time - time).abs() <= 1e-9 {
            amplitude[j].emphasis = Some(e);
        } else {
            let probe = HapticTrack {
                amplitude: amplitude.clone(),
                ..HapticTrack::default()
            };
            let a = if amplitude.is_empty() {
                0.0
            } else {
                probe.amplitude_at(time)
            };
            amplitude.insert(
                j,
                AmplitudeBreakpoint {
                    time,
                    amplitude: a,
                    emphasis: Some(e),
                },
            );
        }
    }
    if amplitude.is_empty() {
        return Err(Error::invalid(FORMAT, "Pattern", "no haptic events"));
    }
    let meta = ahap.metadata.unwrap_or_default();
    let track = HapticTrack {
        metadata: Metadata {
            editor: meta.created,
            project: meta.project,
            description: meta.description,
            ..Metadata::default()
        },
        amplitude,
        frequency,
    };
    track.validate_as(FORMAT)?;
    Ok(track)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tracks_split_into_30_s_events_and_16_point_curves() {
        let amplitude: Vec<_> = (0..=700)
            .map(|i| AmplitudeBreakpoint {
                time: f64::from(i) * 0.1,
                amplitude: (i % 10) as f32 / 10.0,
                emphasis: (i % 50 == 0).then_some(Emphasis {
                    amplitude: 1.0,
                    frequency: 0.3,
                }),
            })
            .collect();
        let track = HapticTrack {
            amplitude,
            ..HapticTrack::default()
        };
        let json = to_ahap(&track).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["Version"], 1.0);
        let pattern = v["Pattern"].as_array().unwrap();
        let continuous: Vec<_> = pattern
            .iter()
            .filter(|e| e["Event"]["EventType"] == "HapticContinuous")
            .collect();
        assert_eq!(continuous.len(), 3);
        assert!(
            continuous
                .iter()
                .all(|e| e["Event"]["EventDuration"].as_f64().unwrap() <= 30.0)
        );
        let curves: Vec<_> = pattern
            .iter()
            .filter(|e| e.get("ParameterCurve").is_some())
            .collect();
        assert!(curves.iter().all(|c| {
            c["ParameterCurve"]["ParameterCurveControlPoints"]
                .as_array()
                .unwrap()
                .len()
                <= 16
        }));
        assert_eq!(
            pattern
                .iter()
                .filter(|e| e["Event"]["EventType"] == "HapticTransient")
                .count(),
            15
        );
        let back = parse_ahap(json.as_bytes()).unwrap();
        assert_eq!(back.amplitude.len(), track.amplitude.len());
        for (a, b) in back.amplitude.iter().zip(&track.amplitude) {
            assert!((a.time - b.time).abs() < 1e-9 && (a.amplitude - b.amplitude).abs() < 1e-6);
            assert_eq!(a.emphasis, b.emphasis);
        }
    }

    #[test]
    fn bad_ahap_says_what_and_where() {
        let check = |json: &str, needle: &str| {
            let e = parse_ahap(json.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should contain {needle}");
        };
        check("[]", "malformed AHAP JSON");
        check(
            r#"{"Version":2.0,"Pattern":[]}"#,
            "unsupported AHAP version 2",
        );
        check(r#"{"Version":1.0,"Pattern":[]}"#, "no haptic events");
        check(r#"{"Version":1.0,"Pattern":[{}]}"#, "Pattern[0]");
        check(
            r#"{"Version":1.0,"Pattern":[{"Event":{"Time":0,"EventType":"Boom"}}]}"#,
            "Pattern[0].Event.EventType",
        );
        check(
            r#"{"Version":1.0,"Pattern":[{"Event":{"Time":-1,"EventType":"HapticTransient"}}]}"#,
            "Pattern[0].Event.Time",
        );
        check(
            r#"{"Version":1.0,"Pattern":[{"Event":{"Time":0,"EventType":"HapticContinuous"}}]}"#,
            "EventDuration",
        );
        check(
            r#"{"Version":1.0,"Pattern":[{"Event":{"Time":0,"EventType":"HapticContinuous","EventDuration":31}}]}"#,
            "outside 0..=30",
        );
        check(
            r#"{"Version":1.0,"Pattern":[{"Event":{"Time":0,"EventType":"HapticTransient","EventParameters":[{"ParameterID":"HapticIntensity","ParameterValue":3}]}}]}"#,
            "EventParameters[0]",
        );
        check(
            r#"{"Version":1.0,"Pattern":[{"ParameterCurve":{"ParameterID":"HapticIntensityControl","Time":0,"ParameterCurveControlPoints":[]}}]}"#,
            "0 control points",
        );
        check(
            r#"{"Version":1.0,"Pattern":[{"Event":{"Time":1e12,"EventType":"HapticTransient"}}]}"#,
            "limit exceeded",
        );
        let ok = parse_ahap(br#"{"Version":1.0,"Pattern":[{"Event":{"Time":0.5,"EventType":"HapticTransient","EventParameters":[{"ParameterID":"HapticIntensity","ParameterValue":0.8},{"ParameterID":"HapticSharpness","ParameterValue":0.4}]}},{"Event":{"Time":0,"EventType":"HapticContinuous","EventDuration":1,"EventParameters":[{"ParameterID":"HapticIntensity","ParameterValue":0.3}]}}]}"#).unwrap();
        assert_eq!(ok.transients().count(), 1);
        assert!((ok.amplitude_at(0.25) - 0.3).abs() < 1e-6);
    }
}
