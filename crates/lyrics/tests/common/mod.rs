//! Helpers shared by the integration tests.

use std::path::Path;

/// One word spoken by eSpeak-NG (with `args` before `-w`), as mono samples at `sample_rate`
/// without the quiet (below `gate`) before and after it. `dir` holds the temporary WAV file.
/// `None` when espeak-ng is missing or fails.
pub fn espeak_word(
    dir: &Path,
    word: &str,
    args: &[&str],
    sample_rate: u32,
    gate: f32,
) -> Option<Vec<f32>> {
    let wav = dir.join("w.wav");
    let ok = std::process::Command::new("espeak-ng")
        .args(args)
        .arg("-w")
        .arg(&wav)
        .arg(word)
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let clip = encore_audio::load_mono(&wav, sample_rate).ok()?.samples;
    let a = clip.iter().position(|s| s.abs() > gate)?;
    let b = clip.iter().rposition(|s| s.abs() > gate)?;
    Some(clip[a..=b].to_vec())
}
