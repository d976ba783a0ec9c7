//! Festival speech synthesis for `encore lyrics synth`: voices made from recordings of real
//! speakers (diphone and HTS voices from Debian's `festvox-*` packages), beside eSpeak-NG's
//! formant voices. One `festival --pipe` process serves a whole run; each word is one
//! utterance written to a WAV file.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{Context, bail};

/// Where Debian's Festival voices live.
const VOICES_DIR: &str = "/usr/share/festival/voices";

/// How a voice's pitch and tempo are set.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Control {
    /// Diphone voice with a flat fundamental (`DuffInt`) at `base_hz` times the note ratio, and
    /// `Duration_Stretch` for tempo.
    FlatPitch { base_hz: f64 },
    /// HTS voice: its own intonation shifted by whole semitones (`-fm`), tempo by `-r`.
    Hts,
    /// Its own intonation (the Italian diphone voices reject `DuffInt`); tempo only.
    Natural,
}

/// A Festival voice the synthesiser can use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FestivalVoice {
    /// Festival's name (`voice_NAME` selects it).
    pub name: &'static str,
    /// The synthesiser's language code it speaks (`en`, `it`).
    lang: &'static str,
    /// Folder under [`VOICES_DIR`] that exists when the voice is installed.
    dir: &'static str,
    control: Control,
}

const VOICES: [FestivalVoice; 5] = [
    FestivalVoice {
        name: "kal_diphone",
        lang: "en",
        dir: "english/kal_diphone",
        control: Control::FlatPitch { base_hz: 105.0 },
    },
    FestivalVoice {
        name: "ked_diphone",
        lang: "en",
        dir: "english/ked_diphone",
        control: Control::FlatPitch { base_hz: 110.0 },
    },
    FestivalVoice {
        name: "cmu_us_slt_arctic_hts",
        lang: "en",
        dir: "us/cmu_us_slt_arctic_hts",
        control: Control::Hts,
    },
    FestivalVoice {
        name: "lp_diphone",
        lang: "it",
        dir: "italian/lp_diphone",
        control: Control::Natural,
    },
    FestivalVoice {
        name: "pc_diphone",
        lang: "it",
        dir: "italian/pc_diphone",
        control: Control::Natural,
    },
];

/// The installed Festival voices for a language code (empty when Festival has none).
pub fn voices_for(lang: &str) -> Vec<FestivalVoice> {
    VOICES
        .iter()
        .filter(|v| v.lang == lang && Path::new(VOICES_DIR).join(v.dir).is_dir())
        .copied()
        .collect()
}

/// The language codes some Festival voice here speaks, installed or not (`en`, `it`).
pub fn languages() -> Vec<&'static str> {
    let mut langs: Vec<&str> = VOICES.iter().map(|v| v.lang).collect();
    langs.dedup();
    langs
}

/// The Debian packages with Festival voices for a language code, for error messages.
pub fn packages_for(lang: &str) -> &'static str {
    match lang {
        "en" => "festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts",
        "it" => "festival festvox-italp16k festvox-itapc16k",
        _ => "festival (Debian has no voice for this language)",
    }
}

/// A running `festival --pipe`.
pub struct Festival {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    current: Option<&'static str>,
}

/// Marker Festival prints after each utterance, so the reader knows it is done.
const DONE: &str = "ENCORE-FESTIVAL-DONE";

impl Festival {
    /// Starts Festival.
    pub fn start() -> anyhow::Result<Self> {
        let mut child = Command::new("festival")
            .arg("--pipe")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("running festival (Debian package festival)")?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("festival: no pipes");
        };
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            current: None,
        })
    }

    /// Says `word` with `voice` into the WAV file `out`: `semitones` above the voice's usual
    /// pitch (a flat note for diphone voices), `stretch` times its usual duration.
    pub fn say(
        &mut self,
        word: &str,
        voice: FestivalVoice,
        semitones: f64,
        stretch: f64,
        out: &Path,
    ) -> anyhow::Result<()> {
        if word
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            bail!("festival: word {word:?} has characters Scheme strings cannot carry here");
        }
        let path = out.to_str().context("festival: output path is not UTF-8")?;
        if path.contains('"') || path.contains('\\') {
            bail!("festival: output path {path:?} has quotes or backslashes");
        }
        let _ = std::fs::remove_file(out);
        let mut script = String::new();
        if self.current != Some(voice.name) {
            script.push_str(&format!("(voice_{})\n", voice.name));
            self.current = Some(voice.name);
        }
        match voice.control {
            Control::FlatPitch { base_hz } => {
                let hz = base_hz * 2f64.powf(semitones / 12.0);
                script.push_str(&format!(
                    "(set! duffint_params '((start {hz:.1}) (end {hz:.1})))\n\
                     (Parameter.set 'Int_Method 'DuffInt)\n\
                     (Parameter.set 'Int_Target_Method Int_Targets_Default)\n\
                     (Parameter.set 'Duration_Stretch {stretch:.3})\n"
                ));
            }
            Control::Hts => script.push_str(&format!(
                "(set! hts_engine_params (append {}::hts_engine_params \
                 '((\"-r\" {:.3}) (\"-fm\" {semitones:.2}))))\n",
                voice.name,
                1.0 / stretch
            )),
            Control::Natural => {
                script.push_str(&format!("(Parameter.set 'Duration_Stretch {stretch:.3})\n"))
            }
        }
        script.push_str(&format!(
            "(utt.save.wave (utt.synth (Utterance Text \"{word}\")) \"{path}\" 'riff)\n\
             (format t \"{DONE}\\n\")\n(fflush nil)\n"
        ));
        self.stdin
            .write_all(script.as_bytes())
            .and_then(|()| self.stdin.flush())
            .context("festival: writing a command (did it exit?)")?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("festival exited while saying {word:?} with {}", voice.name);
            }
            if line.trim_end() == DONE {
                break;
            }
        }
        if !out.is_file() {
            bail!("festival wrote no audio for {word:?} with {}", voice.name);
        }
        Ok(())
    }
}

impl Drop for Festival {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
