//! The worker's Whisper process for the lyrics step: started on first use, shared by the jobs
//! of one process and held only while it answers a question (the hybrid model's passes of
//! concurrent jobs run in parallel), started again after it dies.

use std::sync::Mutex;

use encore_lyrics::{HeardWord, Language, Lyrics, Mode};
use encore_whisper::{Installation, Listener, Whisper, WhisperAudio};

use crate::config::LyricsWhisper;

/// Whisper for the lyrics step, as configured ([`crate::Config::lyrics_whisper`]).
#[derive(Debug)]
pub struct WhisperProcess {
    when: LyricsWhisper,
    installation: Installation,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
enum State {
    /// Not started yet, or gone.
    #[default]
    Idle,
    Running(Whisper),
    /// With `auto`, it did not start once: this process aligns without it (a restart retries).
    Broken,
}

/// Why the lyrics step could not use Whisper when it had to (`on`).
#[derive(Debug, thiserror::Error)]
#[error("Whisper did not start: {0}")]
pub struct WhisperUnavailable(#[source] pub encore_whisper::Error);

impl WhisperProcess {
    /// Nothing is started until a song needs it.
    pub fn new(when: LyricsWhisper, installation: Installation) -> Self {
        WhisperProcess {
            when,
            installation,
            state: Mutex::new(State::Idle),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether Whisper takes part in aligning lyrics in `mode`, starting its process when
    /// needed (this blocks, about a second). `Ok(false)`: not in this mode, or with `auto` or
    /// `refine` not installed or not starting. With `on`, a process that does not start is an
    /// error (the step is retried later).
    pub fn joins(&self, mode: Mode) -> Result<bool, WhisperUnavailable> {
        let wanted = match self.when {
            LyricsWhisper::On => true,
            LyricsWhisper::Auto => self.installation.is_present(),
            LyricsWhisper::Refine => mode == Mode::Refine && self.installation.is_present(),
            LyricsWhisper::Off => false,
        };
        if !wanted {
            return Ok(false);
        }
        let mut state = self.state();
        if matches!(*state, State::Idle) {
            let _span = tracing::info_span!("whisper_start").entered();
            match Whisper::start(&self.installation, false) {
                Ok(w) => *state = State::Running(w),
                Err(e) if self.when == LyricsWhisper::On => return Err(WhisperUnavailable(e)),
                Err(e) => {
                    tracing::warn!("Whisper did not start; lyrics are aligned without it: {e}");
                    *state = State::Broken;
                }
            }
        }
        Ok(matches!(*state, State::Running(_)))
    }

    /// Asks the process one question, holding it only meanwhile (started again when it is
    /// gone). A failure that says the process is gone drops it, so the next question starts a
    /// new one.
    fn ask<R>(
        &self,
        question: impl FnOnce(&mut Whisper) -> encore_whisper::Result<R>,
    ) -> encore_whisper::Result<R> {
        let mut state = self.state();
        if matches!(*state, State::Idle) {
            *state = State::Running(Whisper::start(&self.installation, false)?);
        }
        let State::Running(whisper) = &mut *state else {
            return Err(encore_whisper::Error::Reported(
                "the process did not start".into(),
            ));
        };
        let answer = question(whisper);
        if answer
            .as_ref()
            .is_err_and(encore_whisper::Error::is_process_gone)
        {
            tracing::warn!("the Whisper process is gone; the next question starts a new one");
            *state = State::Idle;
        }
        answer
    }
}

/// The shared process as a [`Listener`]: never required (a song Whisper cannot help with is
/// aligned without it, and the step's result says why).
impl Listener for &WhisperProcess {
    fn required(&self) -> bool {
        false
    }

    fn word_starts(
        &mut self,
        audio: &WhisperAudio,
        lyrics: &Lyrics,
        lang: &Language,
    ) -> encore_whisper::Result<Vec<Option<f64>>> {
        self.ask(|w| w.word_starts(audio, lyrics, lang))
    }

    fn starts_around_lines(
        &mut self,
        audio: &WhisperAudio,
        lyrics: &Lyrics,
        lang: &Language,
        margin_s: f64,
    ) -> encore_whisper::Result<Vec<Option<f64>>> {
        self.ask(|w| w.starts_around_lines(audio, lyrics, lang, margin_s))
    }

    fn heard_words(
        &mut self,
        audio: &WhisperAudio,
        lang: &Language,
    ) -> encore_whisper::Result<Vec<HeardWord>> {
        self.ask(|w| w.heard_words(audio, lang))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in interpreter that counts its starts, says `READY`, and exits on the first
    /// request: a Whisper process that dies mid-song.
    fn dying_installation(dir: &std::path::Path) -> Installation {
        use std::os::unix::fs::PermissionsExt;
        let python = dir.join("python");
        std::fs::write(
            &python,
            format!(
                "#!/bin/sh\necho start >> {}\necho READY\nread request\nexit 0\n",
                dir.join("starts").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(dir.join("model")).unwrap();
        std::fs::write(dir.join("model/model.bin"), b"").unwrap();
        Installation {
            python,
            model: dir.join("model"),
        }
    }

    fn starts(dir: &std::path::Path) -> usize {
        std::fs::read_to_string(dir.join("starts"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    #[test]
    fn a_process_that_dies_is_started_again_for_the_next_question() {
        let dir = tempfile::tempdir().unwrap();
        let whisper = WhisperProcess::new(LyricsWhisper::On, dying_installation(dir.path()));
        assert!(whisper.joins(Mode::Full).unwrap());
        assert_eq!(starts(dir.path()), 1);
        let audio = WhisperAudio::from_mono(&[0.0; 16_000], 16_000).unwrap();
        let mut listener = &whisper;
        assert!(!listener.required());
        for question in 1..=2 {
            let err = listener.heard_words(&audio, &Language::En).unwrap_err();
            assert!(err.is_process_gone(), "question {question}: {err}");
            assert_eq!(starts(dir.path()), question);
        }
        // The third question finds no process and starts one.
        let _ = listener.heard_words(&audio, &Language::En);
        assert_eq!(starts(dir.path()), 3);
    }

    #[test]
    fn auto_goes_without_a_whisper_that_does_not_start_and_on_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let broken = Installation {
            python: "/nonexistent/python".into(),
            model: dir.path().to_path_buf(),
        };
        // Not present: `auto` and `refine` leave both modes alone.
        for when in [LyricsWhisper::Auto, LyricsWhisper::Refine] {
            let w = WhisperProcess::new(when, broken.clone());
            assert!(!w.joins(Mode::Refine).unwrap() && !w.joins(Mode::Full).unwrap());
        }
        // Present but broken: `auto` tries it in either mode, goes without it and does not
        // try again; `refine` does not try it for full mode; `on` is an error each time.
        let fake = dying_installation(dir.path());
        std::fs::write(
            &fake.python,
            "#!/bin/sh\necho start >> \"$0.starts\"\nexit 1\n",
        )
        .unwrap();
        let tries = || {
            std::fs::read_to_string(dir.path().join("python.starts"))
                .map_or(0, |s| s.lines().count())
        };
        let auto = WhisperProcess::new(LyricsWhisper::Auto, fake.clone());
        assert!(!auto.joins(Mode::Full).unwrap());
        assert_eq!(tries(), 1);
        assert!(!auto.joins(Mode::Refine).unwrap());
        assert!(!auto.joins(Mode::Full).unwrap());
        assert_eq!(tries(), 1);
        let refine = WhisperProcess::new(LyricsWhisper::Refine, fake.clone());
        assert!(!refine.joins(Mode::Full).unwrap());
        assert_eq!(tries(), 1);
        assert!(!refine.joins(Mode::Refine).unwrap());
        assert_eq!(tries(), 2);
        let on = WhisperProcess::new(LyricsWhisper::On, fake);
        for _ in 0..2 {
            let err = on.joins(Mode::Full).unwrap_err();
            assert!(err.to_string().contains("Whisper did not start"), "{err}");
        }
        assert_eq!(tries(), 4);
        let off = WhisperProcess::new(LyricsWhisper::Off, broken);
        assert!(!off.joins(Mode::Refine).unwrap());
    }
}
