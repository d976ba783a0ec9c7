//! SVOX Pico speech synthesis for `encore lyrics synth`, through the PyPI package `py-nanotts`
//! (Apache-2.0; its wheel carries Pico's voices for en-US, en-GB, fr-FR, es-ES, de-DE and it-IT,
//! HMM voices trained on recordings of real speakers). One Python process serves a whole run:
//! it reads one JSON request per line and answers `DONE` or `ERR message` per request.

use std::path::Path;

use anyhow::{Context, bail};

use encore_whisper::python::PythonServer;

/// The Pico voices for a synthesiser language code (empty when Pico has none).
pub fn voices_for(lang: &str) -> &'static [&'static str] {
    match lang {
        "en" => &["en-US", "en-GB"],
        "fr" => &["fr-FR"],
        "es" => &["es-ES"],
        "de" => &["de-DE"],
        "it" => &["it-IT"],
        _ => &[],
    }
}

/// The server loop run by Python.
const SCRIPT: &str = r#"
import json, sys, wave
from py_nanotts import NanoTTS
tts = NanoTTS()
print("READY", flush=True)
for line in sys.stdin:
    try:
        r = json.loads(line)
        pcm = tts.speak(r["text"], voice=r["voice"], speed=r["speed"], pitch=r["pitch"])
        if not pcm:
            raise ValueError("no audio")
        with wave.open(r["out"], "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(pcm)
        print("DONE", flush=True)
    except Exception as e:
        print("ERR " + str(e).replace("\n", " "), flush=True)
"#;

/// A running Pico server.
pub struct Pico {
    server: PythonServer,
}

impl Pico {
    /// Starts `python` (an interpreter that has `py-nanotts` installed) with the server loop.
    pub fn start(python: &Path) -> anyhow::Result<Self> {
        let server = PythonServer::start(
            "pico",
            python,
            SCRIPT,
            std::iter::empty::<&str>(),
            "py_nanotts did not load (pip install py-nanotts, then pass that interpreter as \
             --pico-python)",
        )?;
        Ok(Self { server })
    }

    /// Says `word` with `voice` into the WAV file `out`: `semitones` above the voice's usual
    /// pitch (Pico's range: one octave down to one up), `stretch` times its usual duration.
    pub fn say(
        &mut self,
        word: &str,
        voice: &str,
        semitones: f64,
        stretch: f64,
        out: &Path,
    ) -> anyhow::Result<()> {
        let path = out.to_str().context("pico: output path is not UTF-8")?;
        let _ = std::fs::remove_file(out);
        let request = serde_json::json!({
            "text": word,
            "voice": voice,
            "pitch": 2f64.powf(semitones / 12.0).clamp(0.5, 2.0),
            "speed": (1.0 / stretch).clamp(0.2, 5.0),
            "out": path,
        });
        let answer = self.server.ask(&request.to_string())?;
        if answer != "DONE" {
            bail!("pico failed on {word:?} with {voice}: {answer}");
        }
        if !out.is_file() {
            bail!("pico wrote no audio for {word:?} with {voice}");
        }
        Ok(())
    }
}
