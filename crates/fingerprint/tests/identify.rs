//! End-to-end identification on synthetic music: excerpts, noise, speed changes, mixtures,
//! unrelated audio, too-short and silent queries; and the whole-file audio code.

mod common;

use std::path::Path;

use common::{add_noise, excerpt, music, speed};
use encore_fingerprint::{
    AudioCode, Error, Fingerprint, MatchParams, MemoryStore, NewWork, PostingStore, RedbStore,
    SAMPLE_RATE, identify,
};

const PIECES: u64 = 8;

fn indexed() -> MemoryStore {
    let store = MemoryStore::new();
    let works: Vec<NewWork> = (0..PIECES)
        .map(|i| {
            let fp = Fingerprint::from_samples(&music(i, 40.0)).unwrap();
            NewWork {
                name: format!("piece-{i}"),
                duration_s: fp.duration_s,
                postings: fp.postings(),
            }
        })
        .collect();
    store.add_works(&works).unwrap();
    store
}

fn best(store: &dyn PostingStore, q: &[f32]) -> Option<encore_fingerprint::Match> {
    let fp = Fingerprint::for_query(q).unwrap();
    identify(store, &fp, &MatchParams::default())
        .unwrap()
        .into_iter()
        .next()
}

#[test]
fn excerpts_are_found_under_distortions() {
    let store = indexed();
    let src = music(3, 40.0);
    let clean = excerpt(&src, 11.0, 10.0);
    // (what, query, expected offset, expected speed)
    let cases: Vec<(&str, Vec<f32>, f64, f64)> = vec![
        ("clean", clean.clone(), 11.0, 1.0),
        ("5 s", excerpt(&src, 25.0, 5.0), 25.0, 1.0),
        ("noise 5 dB", add_noise(&clean, 5.0, 9), 11.0, 1.0),
        ("quiet", clean.iter().map(|v| v * 0.01).collect(), 11.0, 1.0),
        ("4 % fast", speed(&clean, 1.04), 11.0, 1.04),
        ("3 % slow", speed(&clean, 0.97), 11.0, 0.97),
    ];
    for (what, q, offset, spd) in cases {
        let m = best(&store, &q).unwrap_or_else(|| panic!("{what}: no match"));
        assert_eq!(m.name, "piece-3", "{what}");
        assert!(
            (m.offset_s - offset).abs() < 0.5,
            "{what}: offset {}",
            m.offset_s
        );
        assert!((m.speed - spd).abs() < 0.01, "{what}: speed {}", m.speed);
        assert!(m.score >= 1.0);
        assert!(m.query_start_s < m.query_end_s);
    }
}

#[test]
fn excerpt_under_louder_music_is_found() {
    let store = indexed();
    let work = excerpt(&music(5, 40.0), 20.0, 10.0);
    let other = music(1000, 10.0);
    // The registered work 6 dB under unrelated music.
    let mix: Vec<f32> = work.iter().zip(&other).map(|(a, b)| 0.5 * a + b).collect();
    let m = best(&store, &mix).expect("mixture must match");
    assert_eq!(m.name, "piece-5");
    assert!((m.offset_s - 20.0).abs() < 0.5);
}

#[test]
fn unrelated_audio_does_not_match() {
    let store = indexed();
    for seed in 2000..2010 {
        let q = music(seed, 10.0);
        assert!(best(&store, &q).is_none(), "seed {seed} matched");
    }
    // Plain noise is not music either.
    let noise: Vec<f32> = {
        let mut rng = common::Lcg(5);
        (0..80_000).map(|_| rng.unit() - 0.5).collect()
    };
    assert!(best(&store, &noise).is_none());
}

#[test]
fn short_or_silent_queries_are_not_enough_audio() {
    let store = indexed();
    let src = music(3, 40.0);
    for q in [
        excerpt(&src, 11.0, 0.9),
        vec![0.0; SAMPLE_RATE as usize * 10],
        Vec::new(),
        vec![1e-7; SAMPLE_RATE as usize * 10],
    ] {
        let fp = Fingerprint::for_query(&q).unwrap();
        let err = identify(&store, &fp, &MatchParams::default()).unwrap_err();
        assert!(matches!(err, Error::NotEnoughAudio { .. }), "{err}");
    }
}

#[test]
fn removed_works_are_no_longer_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path()).unwrap();
    let a = Fingerprint::from_samples(&music(1, 30.0)).unwrap();
    let id = store
        .add_work(&NewWork {
            name: "a".into(),
            duration_s: a.duration_s,
            postings: a.postings(),
        })
        .unwrap();
    let q = excerpt(&music(1, 30.0), 5.0, 8.0);
    assert_eq!(best(&store, &q).unwrap().work, id);
    assert!(store.remove_work(id).unwrap());
    assert!(best(&store, &q).is_none());
    assert!(store.compact().unwrap() > 0);
    assert!(best(&store, &q).is_none());
}

#[test]
fn audio_code_separates_near_duplicates_from_other_music() {
    let a = music(1, 60.0);
    let code = AudioCode::from_samples(&a).unwrap();
    let variants = [
        add_noise(&a, 30.0, 1),
        a.iter().map(|v| v * 0.3).collect(),
        a[4000..].to_vec(),
    ];
    for (i, v) in variants.iter().enumerate() {
        let d = code.hamming(&AudioCode::from_samples(v).unwrap());
        assert!(d <= 6, "variant {i}: distance {d}");
        assert!(code.is_near_duplicate(&AudioCode::from_samples(v).unwrap()));
    }
    let mut far = 0;
    for seed in 100..110 {
        let d = code.hamming(&AudioCode::from_samples(&music(seed, 60.0)).unwrap());
        if d > encore_fingerprint::NEAR_DUPLICATE_BITS {
            far += 1;
        }
    }
    assert_eq!(
        far, 10,
        "every unrelated piece must be beyond the near-duplicate radius"
    );
}

fn shared_audio() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("ENCORE_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("audio");
    dir.is_dir().then_some(dir)
}

#[test]
fn shared_recordings_are_identified() {
    let Some(dir) = shared_audio() else {
        println!("SKIP shared_recordings_are_identified: ../shared/data not found");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ogg"))
        .collect();
    files.sort();
    let store = MemoryStore::new();
    let mut audio = Vec::new();
    for f in &files {
        let x = encore_audio::load_mono(f, SAMPLE_RATE).unwrap().samples;
        let fp = Fingerprint::from_samples(&x).unwrap();
        let id = store
            .add_work(&NewWork {
                name: f.display().to_string(),
                duration_s: fp.duration_s,
                postings: fp.postings(),
            })
            .unwrap();
        audio.push((id, x));
    }
    for (id, x) in &audio {
        let secs = (x.len() / SAMPLE_RATE as usize) as f32;
        if secs < 12.0 {
            continue;
        }
        let q = add_noise(&excerpt(x, 1.0, 10.0), 20.0, 3);
        let m = best(&store, &q).unwrap_or_else(|| panic!("work {id}: no match"));
        assert_eq!(m.work, *id);
        assert!((m.offset_s - 1.0).abs() < 0.5);
    }
}
