//! The worker's Whisper process for the lyrics step: started on first use, shared by the jobs
//! of one process (one song at a time), started again after it dies.

use std::sync::Mutex;

use encore_lyrics::Mode;
use encore_whisper::{Installation, Whisper, WithWhisper};

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

    /// Whether Whisper takes part in aligning lyrics in `mode` (if it is installed).
    pub fn joins(&self, mode: Mode) -> bool {
        match self.when {
            LyricsWhisper::On => true,
            LyricsWhisper::Auto => mode == Mode::Refine && self.installation.is_present(),
            LyricsWhisper::Off => false,
        }
    }

    /// Runs `align` with the process (started when needed; this blocks, and waits for any
    /// other song being aligned with it). `Ok(None)`: Whisper does not join `mode`, or with
    /// `auto` it did not start. A process whose failure says it is gone is dropped, so the
    /// next song starts a new one. Whisper is never [`Whisper::required`] here: a song it
    /// cannot help with is aligned without it, and the result says why.
    pub fn align(
        &self,
        mode: Mode,
        align: impl FnOnce(&mut Whisper) -> encore_whisper::Result<WithWhisper>,
    ) -> Result<Option<encore_whisper::Result<WithWhisper>>, WhisperUnavailable> {
        if !self.joins(mode) {
            return Ok(None);
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
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
        let State::Running(whisper) = &mut *state else {
            return Ok(None);
        };
        let result = align(whisper);
        let gone = match &result {
            Err(e) => e.is_process_gone(),
            Ok(WithWhisper {
                whisper_error: Some(e),
                ..
            }) => e.is_process_gone(),
            Ok(_) => false,
        };
        if gone {
            tracing::warn!("the Whisper process is gone; the next song starts a new one");
            *state = State::Idle;
        }
        Ok(Some(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encore_lyrics::{Language, Lyrics};
    use encore_whisper::WhisperAudio;

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
    fn a_process_that_dies_is_started_again_for_the_next_song() {
        let dir = tempfile::tempdir().unwrap();
        let whisper = WhisperProcess::new(LyricsWhisper::On, dying_installation(dir.path()));
        let audio = WhisperAudio::from_mono(&[0.0; 16_000], 16_000).unwrap();
        let ask = |w: &mut Whisper| {
            w.heard_words(&audio, &Language::En).map(|_| WithWhisper {
                lyrics: Lyrics::default(),
                whisper_error: None,
            })
        };
        for song in 1..=2 {
            let got = whisper.align(Mode::Full, ask).unwrap().unwrap();
            assert!(
                matches!(&got, Err(e) if e.is_process_gone()),
                "song {song}: {got:?}"
            );
            assert_eq!(starts(dir.path()), song);
        }
    }

    #[test]
    fn auto_goes_without_a_whisper_that_does_not_start_and_on_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let broken = Installation {
            python: "/nonexistent/python".into(),
            model: dir.path().to_path_buf(),
        };
        let fail = |_: &mut Whisper| -> encore_whisper::Result<WithWhisper> {
            panic!("no Whisper to ask")
        };
        // Not present: `auto` leaves both modes alone.
        let auto = WhisperProcess::new(LyricsWhisper::Auto, broken.clone());
        assert!(!auto.joins(Mode::Refine) && !auto.joins(Mode::Full));
        assert!(auto.align(Mode::Refine, fail).unwrap().is_none());
        // Present but broken: `auto` goes without it, `on` is an error each time.
        let fake = dying_installation(dir.path());
        std::fs::write(&fake.python, "#!/bin/sh\nexit 1\n").unwrap();
        let auto = WhisperProcess::new(LyricsWhisper::Auto, fake.clone());
        assert!(auto.joins(Mode::Refine) && !auto.joins(Mode::Full));
        assert!(auto.align(Mode::Refine, fail).unwrap().is_none());
        assert!(auto.align(Mode::Refine, fail).unwrap().is_none());
        let on = WhisperProcess::new(LyricsWhisper::On, fake);
        for _ in 0..2 {
            let err = on.align(Mode::Full, fail).unwrap_err();
            assert!(err.to_string().contains("Whisper did not start"), "{err}");
        }
        let off = WhisperProcess::new(LyricsWhisper::Off, broken);
        assert!(off.align(Mode::Refine, fail).unwrap().is_none());
    }
}
