//! Web Vibration API export: on/off patterns for `navigator.vibrate(pattern)`. The API has no
//! amplitude, so intensity becomes pulse width: each 50 ms slot vibrates for
//! `intensity * 50` ms. Browsers cap a pattern's length (Chromium: 99 entries, 10 s each), so
//! the pattern is cut into segments that a player starts at their `start_ms`.

use serde::{Deserialize, Serialize};

use crate::android::step_levels;
use crate::error::{Error, Result};
use crate::model::{HapticTrack, MAX_BREAKPOINTS, MAX_DURATION_S, MAX_INPUT_BYTES};

const FORMAT: &str = "web";
/// Length of one pulse-width slot, ms.
pub(crate) const SLOT_MS: u32 = 50;
/// Shortest pulse written, ms: shorter ones are not felt on phone actuators.
pub(crate) const MIN_PULSE_MS: u32 = 8;
/// Most entries per segment (even, so every segment starts with a vibration).
const MAX_ENTRIES: usize = 98;
/// Longest entry, ms (Chromium clamps longer ones).
const MAX_ENTRY_MS: u32 = 10_000;

/// One `navigator.vibrate(pattern)` call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebSegment {
    /// When to start it, ms from the start of the track.
    pub start_ms: u64,
    /// Alternating vibrate / pause durations in ms, starting with a vibration.
    pub pattern: Vec<u32>,
}

/// The web export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebPattern {
    /// Always `"encore-web-vibration"`.
    pub format: String,
    /// Schema version, 1.
    pub version: u32,
    /// Pulse-width slot length in ms.
    pub slot_ms: u32,
    /// The segments, in time order.
    pub segments: Vec<WebSegment>,
}

/// Builds the web export of a track.
pub fn to_web(track: &HapticTrack) -> Result<WebPattern> {
    track.validate_as(FORMAT)?;
    // Runs of (vibrating?, ms), merged.
    let mut runs: Vec<(bool, u32)> = Vec::new();
    let mut push = |on: bool, ms: u32| {
        if ms == 0 {
            return;
        }
        match runs.last_mut() {
            Some((o, m)) if *o == on && *m + ms <= MAX_ENTRY_MS => *m += ms,
            _ => runs.push((on, ms)),
        }
    };
    for level in step_levels(track, f64::from(SLOT_MS) / 1000.0) {
        let mut on = (level * SLOT_MS as f32).round() as u32;
        if on < MIN_PULSE_MS {
            on = 0;
        }
        push(true, on.min(SLOT_MS));
        push(false, SLOT_MS - on.min(SLOT_MS));
    }
    // Alternate strictly, starting with a vibration: insert zero-length entries where needed.
    let mut entries: Vec<u32> = Vec::new();
    let mut expect_on = true;
    for (on, ms) in runs {
        if on != expect_on {
            entries.push(0);
        }
        entries.push(ms);
        expect_on = !on;
    }
    let mut segments = Vec::new();
    let mut start = 0u64;
    for chunk in entries.chunks(MAX_ENTRIES) {
        segments.push(WebSegment {
            start_ms: start,
            pattern: chunk.to_vec(),
        });
        start += chunk.iter().map(|&m| u64::from(m)).sum::<u64>();
    }
    Ok(WebPattern {
        format: "encore-web-vibration".into(),
        version: 1,
        slot_ms: SLOT_MS,
        segments,
    })
}

/// Parses and validates a web export written by [`to_web`].
pub fn parse_web(bytes: &[u8]) -> Result<WebPattern> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Error::LimitExceeded(format!(
            "{FORMAT} input is {} bytes, over {MAX_INPUT_BYTES}",
            bytes.len()
        )));
    }
    let p: WebPattern = serde_json::from_slice(bytes).map_err(|e| Error::json(FORMAT, &e))?;
    if p.format != "encore-web-vibration" {
        return Err(Error::invalid(
            FORMAT,
            "format",
            format!("unexpected format {:?}", p.format),
        ));
    }
    if p.version != 1 {
        return Err(Error::UnsupportedVersion {
            format: FORMAT,
            version: p.version.to_string(),
        });
    }
    if p.slot_ms == 0 || p.slot_ms > MAX_ENTRY_MS {
        return Err(Error::invalid(
            FORMAT,
            "slot_ms",
            format!("{} is outside 1..=10000", p.slot_ms),
        ));
    }
    if p.segments.len() > MAX_BREAKPOINTS {
        return Err(Error::LimitExceeded(format!(
            "more than {MAX_BREAKPOINTS} segments"
        )));
    }
    let mut end = 0u64;
    for (i, s) in p.segments.iter().enumerate() {
        if s.start_ms < end {
            return Err(Error::invalid(
                FORMAT,
                format!("segments[{i}].start_ms"),
                "overlaps the previous segment",
            ));
        }
        if s.pattern.len() > 99 {
            return Err(Error::invalid(
                FORMAT,
                format!("segments[{i}].pattern"),
                format!("{} entries (browsers play at most 99)", s.pattern.len()),
            ));
        }
        if let Some(j) = s.pattern.iter().position(|&m| m > MAX_ENTRY_MS) {
            return Err(Error::invalid(
                FORMAT,
                format!("segments[{i}].pattern[{j}]"),
                "over 10000 ms",
            ));
        }
        end = s
            .start_ms
            .saturating_add(s.pattern.iter().map(|&m| u64::from(m)).sum::<u64>());
        if end as f64 > MAX_DURATION_S * 1000.0 {
            return Err(Error::LimitExceeded(format!("pattern lasts {end} ms")));
        }
    }
    Ok(p)
}

impl WebPattern {
    /// The share of each slot spent vibrating: the intensity the pattern renders.
    pub fn slot_levels(&self) -> Vec<f32> {
        let slot = u64::from(self.slot_ms.max(1));
        let end = self.segments.last().map_or(0, |s| {
            s.start_ms + s.pattern.iter().map(|&m| u64::from(m)).sum::<u64>()
        });
        let mut on = vec![0u64; end.div_ceil(slot) as usize];
        for s in &self.segments {
            let mut t = s.start_ms;
            for (k, &ms) in s.pattern.iter().enumerate() {
                let (a, b) = (t, t + u64::from(ms));
                if k % 2 == 0 {
                    let mut x = a;
                    while x < b {
                        let i = (x / slot) as usize;
                        let slot_end = (x / slot + 1) * slot;
                        let y = b.min(slot_end);
                        if let Some(v) = on.get_mut(i) {
                            *v += y - x;
                        }
                        x = y;
                    }
                }
                t = b;
            }
        }
        on.into_iter().map(|v| v as f32 / slot as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AmplitudeBreakpoint;

    #[test]
    fn intensity_becomes_pulse_width_and_segments_stay_short() {
        let amplitude = (0..=600)
            .map(|i| AmplitudeBreakpoint {
                time: f64::from(i) * 0.05 + 0.025,
                amplitude: (i % 5) as f32 / 4.0,
                emphasis: None,
            })
            .collect();
        let track = HapticTrack {
            amplitude,
            ..HapticTrack::default()
        };
        let web = to_web(&track).unwrap();
        assert!(web.segments.len() > 1);
        assert!(web.segments.iter().all(|s| s.pattern.len() <= 98 && s.pattern.len() % 2 == 0 || s.pattern.len() <= 98));
        let levels = web.slot_levels();
        for (i, l) in levels.iter().enumerate().take(600) {
            let want = (i % 5) as f32 / 4.0;
            assert!(
                (l - want).abs() <= 0.5 / 50.0 + 1e-6,
                "slot {i}: {l} vs {want}"
            );
        }
        let json = serde_json::to_string(&web).unwrap();
        assert_eq!(parse_web(json.as_bytes()).unwrap(), web);
    }

    #[test]
    fn bad_web_json_is_refused() {
        let check = |json: &str, needle: &str| {
            let e = parse_web(json.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should contain {needle}");
        };
        let ok = r#"{"format":"encore-web-vibration","version":1,"slot_ms":50,"segments":[{"start_ms":0,"pattern":[10,40]}]}"#;
        parse_web(ok.as_bytes()).unwrap();
        check(
            &ok.replace("[10,40]", "[10,40000]"),
            "segments[0].pattern[1]",
        );
        check(&ok.replace("\"slot_ms\":50", "\"slot_ms\":0"), "slot_ms");
        check(&ok.replace("[10,40]", "[-1]"), "malformed web JSON");
    }
}
