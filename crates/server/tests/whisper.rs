//! The lyrics step with OpenAI Whisper: spoken lyrics (eSpeak-NG) at known times, uploaded with
//! plain text (full mode) and with LRC (refine mode), under each `lyrics_whisper` setting.
//! Every test runs on SQLite and on PostgreSQL; they SKIP when Whisper or espeak-ng is not
//! installed (scripts/install-deps.sh installs both).

mod common;

use common::{Backend, Part, Session, TestApp};
use encore_server::{LyricsWhisper, Registry};
use serde_json::Value;

dual!(
    whisper_joins_both_modes_when_on,
    auto_asks_whisper_in_both_modes_refine_in_refine_mode_and_off_never,
    a_song_whisper_cannot_help_with_is_aligned_without_it,
    on_without_a_working_whisper_retries_the_step,
);

const LINES: [&str; 3] = [
    "the river carries every light",
    "we walk along the silver road",
    "and morning finds us singing home",
];

/// Three lines spoken by eSpeak-NG with silence around them, as a mono 22.05 kHz WAV, and the
/// time each line's speech starts; `None` (with a SKIP line) when Whisper or espeak-ng is
/// missing.
fn spoken_song() -> Option<(Vec<u8>, Vec<f64>)> {
    if !encore_whisper::Installation::default_location().is_present() {
        eprintln!(
            "SKIP whisper server test: no Whisper in ~/.cache/encore (scripts/install-deps.sh)"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut samples = vec![0.0f32; 22_050];
    let mut starts = Vec::new();
    for (i, line) in LINES.iter().enumerate() {
        let path = dir.path().join(format!("{i}.wav"));
        let ok = std::process::Command::new("espeak-ng")
            .args(["-v", "en", "-s", "140", "-w"])
            .arg(&path)
            .arg(line)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIP whisper server test: espeak-ng did not run");
            return None;
        }
        let spoken = encore_audio::decode_file(&path).unwrap();
        assert_eq!(spoken.sample_rate, 22_050);
        let mono = spoken.to_mono();
        // Where the speech starts (eSpeak-NG leads with a little silence).
        let lead = mono.iter().position(|s| s.abs() > 0.02).unwrap_or(0);
        starts.push((samples.len() + lead) as f64 / 22_050.0);
        samples.extend(mono);
        samples.extend(std::iter::repeat_n(0.0, 22_050 * 3 / 2));
    }
    let mut wav = Vec::new();
    encore_audio::AudioBuffer::new(22_050, 1, samples)
        .write_wav_pcm16(&mut wav)
        .unwrap();
    Some((wav, starts))
}

fn lrc(starts: &[f64]) -> String {
    LINES
        .iter()
        .zip(starts)
        .map(|(l, t)| format!("[00:{:05.2}]{l}\n", (t - 0.2).max(0.0)))
        .collect()
}

async fn upload(
    t: &TestApp,
    s: &Session,
    title: &str,
    wav: &[u8],
    lyrics: &str,
    lang: &str,
) -> String {
    let parts = vec![
        Part::Text("title", title),
        Part::Text("artists", "Test Artist"),
        Part::Text("language", lang),
        Part::File("audio", "spoken.wav", wav),
        Part::Text("lyrics", lyrics),
    ];
    t.upload_created(s, &parts).await
}

/// The lyrics step's result and the aligned lines' start times.
async fn lyrics_of(t: &TestApp, s: &Session, id: &str) -> (Value, Vec<f64>) {
    let analysis = t
        .get(&format!("/api/works/{id}/analysis"), Some(s))
        .await
        .json();
    let l = t
        .get(&format!("/api/works/{id}/lyrics"), Some(s))
        .await
        .json();
    let starts = l["aligned"]["lines"]
        .as_array()
        .map(|lines| lines.iter().filter_map(|l| l["start_s"].as_f64()).collect())
        .unwrap_or_default();
    (analysis["lyrics"]["result"].clone(), starts)
}

async fn app(b: Backend, when: LyricsWhisper) -> Option<TestApp> {
    TestApp::with(b, Registry::standard(), |c| c.lyrics_whisper = when).await
}

async fn whisper_joins_both_modes_when_on(b: Backend) {
    let Some((wav, truth)) = spoken_song() else {
        return;
    };
    let Some(t) = app(b, LyricsWhisper::On).await else {
        return;
    };
    let s = t.signup("on@example.org", "creator").await;
    let full = upload(&t, &s, "Plain", &wav, &LINES.join("\n"), "en").await;
    let refine = upload(&t, &s, "Timed", &wav, &lrc(&truth), "en").await;
    t.drain_jobs().await;
    for (id, mode) in [(&full, "full"), (&refine, "refine")] {
        let (result, starts) = lyrics_of(&t, &s, id).await;
        assert_eq!(result["aligned"], true, "{result}");
        assert_eq!(result["mode"], mode, "{result}");
        assert_eq!(result["whisper"], true, "{result}");
        assert!(result["whisper_error"].is_null(), "{result}");
        let words: usize = LINES.iter().map(|l| l.split(' ').count()).sum();
        assert_eq!(result["words"], words, "{result}");
        assert_eq!(starts.len(), 3, "{result}");
        for (got, want) in starts.iter().zip(&truth) {
            assert!(
                (got - want).abs() < 0.5,
                "{mode}: lines at {starts:?}, spoken at {truth:?}"
            );
        }
    }
    t.cleanup().await;
}

async fn auto_asks_whisper_in_both_modes_refine_in_refine_mode_and_off_never(b: Backend) {
    let Some((wav, truth)) = spoken_song() else {
        return;
    };
    for (when, full_whisper, refine_whisper) in [
        (LyricsWhisper::Auto, true, true),
        (LyricsWhisper::Refine, false, true),
        (LyricsWhisper::Off, false, false),
    ] {
        let Some(t) = app(b, when).await else {
            return;
        };
        let s = t.signup("auto@example.org", "creator").await;
        let full = upload(&t, &s, "Plain", &wav, &LINES.join("\n"), "en").await;
        let refine = upload(&t, &s, "Timed", &wav, &lrc(&truth), "en").await;
        t.drain_jobs().await;
        let (result, _) = lyrics_of(&t, &s, &full).await;
        assert_eq!(
            (&result["mode"], &result["whisper"]),
            (&"full".into(), &full_whisper.into()),
            "{when:?}: {result}"
        );
        let (result, _) = lyrics_of(&t, &s, &refine).await;
        assert_eq!(result["mode"], "refine", "{result}");
        assert_eq!(result["whisper"], refine_whisper, "{when:?}: {result}");
        t.cleanup().await;
    }
}

async fn a_song_whisper_cannot_help_with_is_aligned_without_it(b: Backend) {
    let Some((wav, truth)) = spoken_song() else {
        return;
    };
    let Some(t) = app(b, LyricsWhisper::On).await else {
        return;
    };
    let s = t.signup("klingon@example.org", "creator").await;
    // A language Whisper does not know: the lyrics are still aligned, and the result says why
    // Whisper had no part; the next song gets Whisper again.
    let id = upload(&t, &s, "Unknown tongue", &wav, &lrc(&truth), "tlh").await;
    t.drain_jobs().await;
    let (result, starts) = lyrics_of(&t, &s, &id).await;
    assert_eq!(result["aligned"], true, "{result}");
    assert_eq!(result["whisper"], false, "{result}");
    let why = result["whisper_error"].as_str().unwrap_or_default();
    assert!(why.contains("no language tlh"), "{result}");
    assert_eq!(starts.len(), 3);
    let id = upload(&t, &s, "Known tongue", &wav, &lrc(&truth), "en").await;
    t.drain_jobs().await;
    let (result, _) = lyrics_of(&t, &s, &id).await;
    assert_eq!(result["whisper"], true, "{result}");
    t.cleanup().await;
}

async fn on_without_a_working_whisper_retries_the_step(b: Backend) {
    let Some((wav, truth)) = spoken_song() else {
        return;
    };
    // An interpreter without faster-whisper: with `on` the step fails, to be retried once the
    // operator fixes the installation, instead of aligning without Whisper.
    let Some(t) = TestApp::with(b, Registry::standard(), |c| {
        c.lyrics_whisper = LyricsWhisper::On;
        c.whisper.python = "/usr/bin/python3".into();
    })
    .await
    else {
        return;
    };
    let s = t.signup("broken@example.org", "creator").await;
    let id = upload(&t, &s, "Waiting", &wav, &lrc(&truth), "en").await;
    t.drain_jobs().await;
    let jobs = t
        .get(&format!("/api/works/{id}/jobs"), Some(&s))
        .await
        .json();
    let lyrics = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["step"] == "lyrics")
        .unwrap();
    assert_ne!(lyrics["status"], "done", "{lyrics}");
    let error = lyrics["error"].as_str().unwrap_or_default();
    assert!(error.contains("Whisper did not start"), "{lyrics}");
    t.cleanup().await;
}
