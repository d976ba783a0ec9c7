//! Lofelt `.haptic` v1 JSON: reading (validated) and writing, exactly the documented schema.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{
    AmplitudeBreakpoint, Emphasis, FrequencyBreakpoint, HapticTrack, MAX_INPUT_BYTES, Metadata,
};

const FORMAT: &str = ".haptic";

#[derive(Serialize, Deserialize)]
struct File {
    version: Version,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<Meta>,
    signals: Signals,
}

#[derive(Deserialize)]
struct Probe {
    version: Version,
}

#[derive(Serialize, Deserialize)]
struct Version {
    major: u32,
    #[serde(default)]
    minor: u32,
    #[serde(default)]
    patch: u32,
}

#[derive(Serialize, Deserialize, Default)]
struct Meta {
    #[serde(default)]
    editor: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    project: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    description: String,
}

#[derive(Serialize, Deserialize)]
struct Signals {
    continuous: Continuous,
}

#[derive(Serialize, Deserialize)]
struct Continuous {
    envelopes: Envelopes,
}

#[derive(Serialize, Deserialize)]
struct Envelopes {
    amplitude: Vec<AmpPoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    frequency: Vec<FreqPoint>,
}

#[derive(Serialize, Deserialize)]
struct AmpPoint {
    time: f64,
    amplitude: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    emphasis: Option<Emph>,
}

#[derive(Serialize, Deserialize)]
struct Emph {
    amplitude: f32,
    frequency: f32,
}

#[derive(Serialize, Deserialize)]
struct FreqPoint {
    time: f64,
    frequency: f32,
}

/// Parses and validates a Lofelt `.haptic` v1 file (any 1.x minor version; unknown fields
/// are ignored as the versioning rules require).
///
/// Errors: [`Error::Json`] (with line and column) for malformed JSON or missing required
/// fields, [`Error::UnsupportedVersion`] for a major version other than 1, [`Error::Invalid`]
/// (with the JSON path) for values out of range or times out of order,
/// [`Error::LimitExceeded`] for inputs over [`MAX_INPUT_BYTES`](crate::MAX_INPUT_BYTES) or
/// too many breakpoints.
pub fn parse_lofelt(bytes: &[u8]) -> Result<HapticTrack> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Error::LimitExceeded(format!(
            "{FORMAT} input is {} bytes, over {MAX_INPUT_BYTES}",
            bytes.len()
        )));
    }
    // The version decides how to read the rest, so look at it first.
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| Error::json(FORMAT, &e))?;
    if probe.version.major != 1 {
        let v = probe.version;
        return Err(Error::UnsupportedVersion {
            format: FORMAT,
            version: format!("{}.{}.{}", v.major, v.minor, v.patch),
        });
    }
    let file: File = serde_json::from_slice(bytes).map_err(|e| Error::json(FORMAT, &e))?;
    let meta = file.metadata.unwrap_or_default();
    let env = file.signals.continuous.envelopes;
    let track = HapticTrack {
        metadata: Metadata {
            editor: meta.editor,
            author: meta.author,
            source: meta.source,
            project: meta.project,
            tags: meta.tags,
            description: meta.description,
        },
        amplitude: env
            .amplitude
            .into_iter()
            .map(|p| AmplitudeBreakpoint {
                time: p.time,
                amplitude: p.amplitude,
                emphasis: p.emphasis.map(|e| Emphasis {
                    amplitude: e.amplitude,
                    frequency: e.frequency,
                }),
            })
            .collect(),
        frequency: env
            .frequency
            .into_iter()
            .map(|p| FrequencyBreakpoint {
                time: p.time,
                frequency: p.frequency,
            })
            .collect(),
    };
    track.validate_as(FORMAT)?;
    Ok(track)
}

/// Writes a track as Lofelt `.haptic` v1.0.0 JSON (after validating it).
pub fn to_lofelt(track: &HapticTrack) -> Result<String> {
    track.validate_as(FORMAT)?;
    let m = &track.metadata;
    let file = File {
        version: Version {
            major: 1,
            minor: 0,
            patch: 0,
        },
        metadata: Some(Meta {
            editor: m.editor.clone(),
            author: m.author.clone(),
            source: m.source.clone(),
            project: m.project.clone(),
            tags: m.tags.clone(),
            description: m.description.clone(),
        }),
        signals: Signals {
            continuous: Continuous {
                envelopes: Envelopes {
                    amplitude: track
                        .amplitude
                        .iter()
                        .map(|p| AmpPoint {
                            time: p.time,
                            amplitude: p.amplitude,
                            emphasis: p.emphasis.map(|e| Emph {
                                amplitude: e.amplitude,
                                frequency: e.frequency,
                            }),
                        })
                        .collect(),
                    frequency: track
                        .frequency
                        .iter()
                        .map(|p| FreqPoint {
                            time: p.time,
                            frequency: p.frequency,
                        })
                        .collect(),
                },
            },
        },
    };
    serde_json::to_string(&file).map_err(|e| Error::InvalidArgument(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_example_shape() {
        let json = br#"{"version":{"major":1,"minor":0,"patch":0},
            "metadata":{"editor":"x","author":"","source":"a.wav","project":"","tags":["t"],"description":""},
            "signals":{"continuous":{"envelopes":{
              "amplitude":[{"time":0,"amplitude":0.2},{"time":0.1,"amplitude":0.9,"emphasis":{"amplitude":1.0,"frequency":0.7}}],
              "frequency":[{"time":0,"frequency":0.5}]}}}}"#;
        let t = parse_lofelt(json).unwrap();
        assert_eq!(t.amplitude.len(), 2);
        assert_eq!(t.metadata.tags, vec!["t".to_string()]);
        let tr: Vec<_> = t.transients().collect();
        assert_eq!(tr.len(), 1);
        assert_eq!(tr[0].sharpness, 0.7);
    }

    #[test]
    fn bad_files_say_what_and_where() {
        let check = |json: &str, needle: &str| {
            let e = parse_lofelt(json.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should contain {needle}");
        };
        let wrap = |amp: &str| {
            format!(
                r#"{{"version":{{"major":1}},"signals":{{"continuous":{{"envelopes":{{"amplitude":{amp}}}}}}}}}"#
            )
        };
        check("", "line 1");
        check("{", "malformed .haptic JSON");
        check(
            r#"{"version":{"major":2},"signals":{}}"#,
            "unsupported .haptic version 2.0.0",
        );
        check(r#"{"version":{"major":1}}"#, "missing field `signals`");
        check(&wrap("[]"), "amplitude envelope is empty");
        check(
            &wrap(r#"[{"time":0,"amplitude":1.5}]"#),
            "amplitude[0].amplitude",
        );
        check(
            &wrap(r#"[{"time":-1,"amplitude":0.5}]"#),
            "amplitude[0].time",
        );
        check(
            &wrap(r#"[{"time":1,"amplitude":0.5},{"time":0.5,"amplitude":0.5}]"#),
            "amplitude[1].time",
        );
        check(
            &wrap(r#"[{"time":0,"amplitude":0.5,"emphasis":{"amplitude":0.5}}]"#),
            "missing field `frequency`",
        );
        check(
            &wrap(r#"[{"time":0,"amplitude":0.5,"emphasis":{"amplitude":0.5,"frequency":7}}]"#),
            "emphasis.frequency",
        );
        check(
            &wrap(r#"[{"time":1e300,"amplitude":0.5}]"#),
            "limit exceeded",
        );
        check(&wrap(r#"[{"time":"0","amplitude":0.5}]"#), "invalid type");
    }
}
