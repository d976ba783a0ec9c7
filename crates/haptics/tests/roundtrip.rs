//! Round trips through every exporter: export, parse back, same track within tolerance.

use encore_haptics::{
    AmplitudeBreakpoint, Emphasis, FrequencyBreakpoint, GenerateOptions, HapticTrack, Metadata,
    generate, parse_ahap, parse_android, parse_lofelt, parse_web, to_ahap, to_android, to_lofelt,
    to_wav, to_web,
};
use proptest::prelude::*;

/// Random valid tracks: sorted times, values in range, emphasis at or above the envelope.
fn arb_track() -> impl Strategy<Value = HapticTrack> {
    let amp = proptest::collection::vec(
        (
            0.0f64..0.5,
            0.0f32..=1.0,
            proptest::option::of((0.0f32..=1.0, 0.0f32..=1.0)),
        ),
        1..200,
    );
    let freq = proptest::collection::vec((0.0f64..0.5, 0.0f32..=1.0), 0..100);
    (amp, freq, "[a-z ]{0,12}").prop_map(|(amp, freq, name)| {
        let mut t = 0.0;
        let amplitude = amp
            .into_iter()
            .map(|(dt, a, e)| {
                t += dt;
                AmplitudeBreakpoint {
                    time: (t * 1e6f64).round() / 1e6,
                    amplitude: a,
                    emphasis: e.map(|(ea, ef)| Emphasis {
                        amplitude: ea.max(a),
                        frequency: ef,
                    }),
                }
            })
            .collect();
        let mut t = 0.0;
        let frequency = freq
            .into_iter()
            .map(|(dt, f)| {
                t += dt;
                FrequencyBreakpoint {
                    time: t,
                    frequency: f,
                }
            })
            .collect();
        HapticTrack {
            metadata: Metadata {
                project: name,
                ..Metadata::default()
            },
            amplitude,
            frequency,
        }
    })
}

fn assert_same_envelopes(a: &HapticTrack, b: &HapticTrack, tol: f32) {
    let d = a.duration_s().max(b.duration_s());
    let n = (d * 200.0) as usize + 1;
    for i in 0..n {
        let t = i as f64 / 200.0;
        // Skip instants right at a breakpoint shared by two values (a step): either side is right.
        let near_step = a
            .amplitude
            .windows(2)
            .any(|w| (w[0].time - w[1].time).abs() < 1e-9 && (w[0].time - t).abs() < 1e-6);
        if !near_step {
            assert!(
                (a.amplitude_at(t) - b.amplitude_at(t)).abs() <= tol,
                "amplitude at {t}: {} vs {}",
                a.amplitude_at(t),
                b.amplitude_at(t)
            );
        }
        if !a.frequency.is_empty() {
            assert!(
                (a.frequency_at(t) - b.frequency_at(t)).abs() <= tol,
                "frequency at {t}"
            );
        }
    }
    let ta: Vec<_> = a.transients().collect();
    let tb: Vec<_> = b.transients().collect();
    assert_eq!(ta.len(), tb.len(), "transient count");
    for (x, y) in ta.iter().zip(&tb) {
        assert!(
            (x.time - y.time).abs() < 1e-6
                && (x.intensity - y.intensity).abs() <= tol
                && (x.sharpness - y.sharpness).abs() <= tol
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn lofelt_round_trip_is_exact(track in arb_track()) {
        let json = to_lofelt(&track).unwrap();
        prop_assert_eq!(parse_lofelt(json.as_bytes()).unwrap(), track);
    }

    #[test]
    fn ahap_round_trip_keeps_the_track(track in arb_track()) {
        let json = to_ahap(&track).unwrap();
        let back = parse_ahap(json.as_bytes()).unwrap();
        assert_same_envelopes(&track, &back, 1e-5);
    }

    #[test]
    fn android_round_trip_keeps_levels_and_transients(track in arb_track()) {
        let effect = to_android(&track).unwrap();
        let back = parse_android(&serde_json::to_vec(&effect).unwrap()).unwrap();
        prop_assert_eq!(&back, &effect);
        // Every 20 ms step renders the envelope at its centre (or a transient inside it).
        let rendered = back.to_track();
        let step = 0.02;
        for (i, level) in (0..(track.duration_s() / step) as usize).map(|i| (i, rendered.amplitude_at((i as f64 + 0.5) * step))) {
            let t = (i as f64 + 0.5) * step;
            let want = track.transients().filter(|tr| (tr.time / step).floor() as usize == i).map(|tr| tr.intensity).fold(track.amplitude_at(t), f32::max);
            prop_assert!((level - want).abs() <= 0.5 / 255.0 + 1e-6, "step {}: {} vs {}", i, level, want);
        }
        prop_assert_eq!(rendered.transients().count(), track.transients().count());
    }

    #[test]
    fn web_round_trip_keeps_pulse_widths(track in arb_track()) {
        let web = to_web(&track).unwrap();
        let back = parse_web(&serde_json::to_vec(&web).unwrap()).unwrap();
        prop_assert_eq!(&back, &web);
        let levels = back.slot_levels();
        let slot = 0.05;
        for (i, &l) in levels.iter().enumerate() {
            let t = (i as f64 + 0.5) * slot;
            if t > track.duration_s() { break; }
            let want = track.transients().filter(|tr| (tr.time / slot).floor() as usize == i).map(|tr| tr.intensity).fold(track.amplitude_at(t), f32::max);
            // Pulse widths are whole milliseconds, and pulses under 8 ms are dropped.
            let tol = if want < 8.5 / 50.0 { 8.5 / 50.0 } else { 0.5 / 50.0 + 1e-6 };
            prop_assert!((l - want).abs() <= tol, "slot {}: {} vs {}", i, l, want);
        }
    }
}

fn drum_audio(sr: u32, secs: f64) -> Vec<f32> {
    let n = (secs * f64::from(sr)) as usize;
    (0..n)
        .map(|i| {
            let t = (i % (sr as usize / 2)) as f32 / sr as f32;
            0.8 * (-t * 12.0).exp() * (std::f32::consts::TAU * 55.0 * t).sin()
        })
        .collect()
}

#[test]
fn generated_tracks_round_trip_through_every_format() {
    let sr = 22_050;
    let track = generate(&drum_audio(sr, 6.0), sr, &GenerateOptions::default()).unwrap();
    assert!(track.transients().count() >= 10);
    assert_eq!(
        parse_lofelt(to_lofelt(&track).unwrap().as_bytes()).unwrap(),
        track
    );
    assert_same_envelopes(
        &track,
        &parse_ahap(to_ahap(&track).unwrap().as_bytes()).unwrap(),
        1e-5,
    );
}

#[test]
fn haptic_wav_follows_the_envelope() {
    let sr = 22_050;
    let track = generate(&drum_audio(sr, 4.0), sr, &GenerateOptions::default()).unwrap();
    let wav = to_wav(&track, 8_000).unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    let decoded = encore_audio::decode_bytes(wav, Some("wav")).unwrap();
    assert_eq!(decoded.sample_rate, 8_000);
    assert!((decoded.duration_s() - track.duration_s() - 0.1).abs() < 0.01);
    // RMS per 20 ms against the envelope: strongly correlated.
    let hop = 160;
    let rms: Vec<f32> = decoded
        .samples
        .chunks(hop)
        .map(|c| (c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let env: Vec<f32> = (0..rms.len())
        .map(|i| track.amplitude_at((i as f64 + 0.5) * 0.02))
        .collect();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (mr, me) = (mean(&rms), mean(&env));
    let cov: f32 = rms.iter().zip(&env).map(|(a, b)| (a - mr) * (b - me)).sum();
    let var = |v: &[f32], m: f32| v.iter().map(|a| (a - m).powi(2)).sum::<f32>();
    let r = cov / (var(&rms, mr) * var(&env, me)).sqrt();
    assert!(r > 0.9, "correlation {r}");
    assert!(to_wav(&track, 10).is_err());
}
