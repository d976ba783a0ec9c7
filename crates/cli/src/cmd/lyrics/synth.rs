//! `encore lyrics synth`: a synthetic benchmark with exact word times. Each word is synthesised
//! on its own with eSpeak-NG (Mandarin as `cmn`, one Han character per word), trimmed, and placed
//! at a known time over music rendered with FluidSynth from a MIDI file written here; the voice
//! is centred, the accompaniment spread in stereo. The output has the JamendoLyrics layout.
//! With `--festival SHARE`, that share of the lines in English and Italian is spoken by
//! Festival's voices instead, which are built from recordings of real speakers; with
//! `--pico SHARE`, a share of the lines in English, French, Spanish, German and Italian by SVOX
//! Pico's voices (HMM voices trained on real speakers).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use encore_audio::AudioBuffer;

use super::festival::{self, Festival, FestivalVoice};
use super::pico::{self, Pico};
use super::{Command, ExitCode, SynthArgs};

const SR: u32 = 22_050;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn vocabulary(voice: &str) -> anyhow::Result<(&'static [&'static str], &'static str)> {
    Ok(match voice {
        "en" => (
            &[
                "love", "night", "heart", "dream", "light", "fire", "rain", "sky", "baby", "dance",
                "tonight", "forever", "feel", "hold", "time", "home", "road", "sun", "moon",
                "star", "world", "together", "alone", "sweet", "morning",
            ],
            "English",
        ),
        "fr" => (
            &[
                "amour", "nuit", "coeur", "rêve", "lumière", "feu", "pluie", "ciel", "danse",
                "toujours", "sentir", "temps", "maison", "route", "soleil", "lune", "étoile",
                "monde", "ensemble", "seul", "doux", "matin", "chanson", "vie",
            ],
            "French",
        ),
        "es" => (
            &[
                "amor", "noche", "corazón", "sueño", "luz", "fuego", "lluvia", "cielo", "bailar",
                "siempre", "sentir", "tiempo", "casa", "camino", "sol", "luna", "estrella",
                "mundo", "juntos", "solo", "dulce", "mañana", "canción", "vida",
            ],
            "Spanish",
        ),
        "de" => (
            &[
                "liebe", "nacht", "herz", "traum", "licht", "feuer", "regen", "himmel", "tanzen",
                "immer", "fühlen", "zeit", "haus", "straße", "sonne", "mond", "stern", "welt",
                "zusammen", "allein", "süß", "morgen", "lied", "leben",
            ],
            "German",
        ),
        "it" => (
            &[
                "amore", "notte", "cuore", "sogno", "luce", "fuoco", "pioggia", "cielo", "ballare",
                "sempre", "sentire", "tempo", "casa", "strada", "sole", "luna", "stella", "mondo",
                "insieme", "solo", "dolce", "mattina", "canzone", "vita",
            ],
            "Italian",
        ),
        "cmn" => (
            &[
                "我", "你", "爱", "心", "梦", "光", "火", "雨", "天", "夜", "风", "花", "月", "星",
                "家", "路", "海", "山", "歌", "唱", "笑", "泪", "春", "美", "远", "想", "等", "走",
                "飞", "来",
            ],
            "Mandarin",
        ),
        other => bail!("no synthetic vocabulary for {other:?} (have cmn, en, fr, es, de, it)"),
    })
}

/// Sentences of 3 to 8 words for `--text`, from plain text or a fortune file (entries between
/// lines holding only `%`). Sentences end at `.`, `!`, `?`, `;`, `:` and at an entry's end; a
/// sentence with digits, symbols inside a word or an all-capitals word (an acronym) is left out,
/// since a singer would not sing it as written.
fn sentences(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for entry in lines.split(|l| l.trim() == "%") {
        let joined = entry
            .iter()
            .filter(|l| !l.trim_start().starts_with("--"))
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        'sentence: for sentence in joined.split(['.', '!', '?', ';', ':']) {
            let mut words = Vec::new();
            for token in sentence.split(|c: char| c.is_whitespace() || c == '-') {
                let word = token.trim_matches(|c: char| !c.is_alphabetic());
                if word.is_empty() {
                    if token.chars().any(|c| c.is_alphanumeric()) {
                        continue 'sentence;
                    }
                    continue;
                }
                let letters = word.chars().filter(|c| c.is_alphabetic()).count();
                if word
                    .chars()
                    .any(|c| !c.is_alphabetic() && c != '\'' && c != '’')
                    || (letters > 1 && word.chars().all(|c| !c.is_lowercase()))
                {
                    continue 'sentence;
                }
                words.push(word.to_string());
            }
            if (3..=8).contains(&words.len()) {
                out.push(words);
            }
        }
    }
    out
}

/// `--text LANG=FILE` options: each language's sentences.
fn texts(specs: &[String]) -> anyhow::Result<std::collections::HashMap<String, Vec<Vec<String>>>> {
    let mut out = std::collections::HashMap::new();
    for spec in specs {
        let (lang, file) = spec
            .split_once('=')
            .with_context(|| format!("--text {spec:?}: expected LANG=FILE"))?;
        let bytes = std::fs::read(file).with_context(|| format!("--text: reading {file}"))?;
        let found = sentences(&String::from_utf8_lossy(&bytes));
        if found.is_empty() {
            bail!("--text: {file} has no sentence of 3 to 8 plain words");
        }
        out.entry(lang.trim().to_string())
            .or_insert_with(Vec::new)
            .extend(found);
    }
    Ok(out)
}

/// Synthesises one word and trims its leading and trailing silence.
fn speak(word: &str, voice: &str, pitch: u32, speed: u32, tmp: &Path) -> anyhow::Result<Vec<f32>> {
    let wav = tmp.join("word.wav");
    let status = Command::new("espeak-ng")
        .args([
            "-v",
            voice,
            "-p",
            &pitch.to_string(),
            "-s",
            &speed.to_string(),
            "-w",
        ])
        .arg(&wav)
        .arg("--")
        .arg(word)
        .status()
        .context("running espeak-ng (Debian package espeak-ng)")?;
    if !status.success() {
        bail!("espeak-ng failed on {word:?}");
    }
    trimmed(&wav)
}

/// A voice from recordings of real speakers, for one line.
#[derive(Debug, Clone, Copy)]
enum RealVoice {
    Festival(FestivalVoice),
    Pico(&'static str),
}

/// What a run's voices draw on: the Festival and Pico processes, each started on first use,
/// and the `--text` sentences per language.
struct Engines {
    festival: Option<Festival>,
    pico: Option<Pico>,
    python: PathBuf,
    texts: std::collections::HashMap<String, Vec<Vec<String>>>,
}

impl Engines {
    /// [`speak`] with a voice of a real speaker: `semitones` above the voice's usual pitch,
    /// `stretch` times its usual duration.
    fn speak(
        &mut self,
        voice: RealVoice,
        word: &str,
        semitones: f64,
        stretch: f64,
        tmp: &Path,
    ) -> anyhow::Result<Vec<f32>> {
        let wav = tmp.join("word.wav");
        match voice {
            RealVoice::Festival(v) => {
                let festival = match &mut self.festival {
                    Some(f) => f,
                    none => none.insert(Festival::start()?),
                };
                festival.say(word, v, semitones, stretch, &wav)?;
            }
            RealVoice::Pico(v) => {
                let pico = match &mut self.pico {
                    Some(p) => p,
                    none => none.insert(Pico::start(&self.python)?),
                };
                pico.say(word, v, semitones, stretch, &wav)?;
            }
        }
        trimmed(&wav)
    }
}

/// A synthesised word's samples at [`SR`] without leading and trailing silence.
fn trimmed(wav: &Path) -> anyhow::Result<Vec<f32>> {
    let buf = encore_audio::load_mono(wav, SR)?;
    let s = buf.samples;
    let frame = 220;
    let loud: Vec<bool> = s
        .chunks(frame)
        .map(|c| (c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32).sqrt() > 0.02)
        .collect();
    let first = loud.iter().position(|&l| l).unwrap_or(0) * frame;
    let last = (loud.iter().rposition(|&l| l).map_or(loud.len(), |i| i + 1) * frame).min(s.len());
    let mut word = s[first..last.max(first)].to_vec();
    // 3 ms fades: the cut is not a click.
    let fade = (0.003 * f64::from(SR)) as usize;
    let n = word.len();
    for i in 0..fade.min(n / 2) {
        let g = (0.5 - 0.5 * (std::f64::consts::PI * i as f64 / fade as f64).cos()) as f32;
        word[i] *= g;
        word[n - 1 - i] *= g;
    }
    Ok(word)
}

/// Makes a spoken word sung: the steadiest loud stretch (the vowel) is held for `hold_s` more
/// by overlap-adding pitch-period grains, then vibrato (`depth` relative pitch deviation at `rate`
/// Hz) is applied by a modulated delay.
fn sing(clip: &[f32], hold_s: f64, depth: f64, rate: f64) -> Vec<f32> {
    let sr = f64::from(SR);
    let win = (0.04 * sr) as usize;
    let mut out = clip.to_vec();
    if clip.len() > 3 * win {
        // Loudest 40 ms window away from the edges.
        let (mut best, mut best_e) = (win, 0.0f32);
        for start in (win / 2..clip.len() - 2 * win).step_by(win / 4) {
            let e: f32 = clip[start..start + win].iter().map(|x| x * x).sum();
            if e > best_e {
                best_e = e;
                best = start;
            }
        }
        // Pitch period by autocorrelation, 80-400 Hz.
        let seg = &clip[best..best + win];
        let (lo, hi) = ((sr / 400.0) as usize, (sr / 80.0) as usize);
        let mut period = lo;
        let mut best_r = f32::MIN;
        for lag in lo..hi.min(win - 1) {
            let r: f32 = seg[..win - lag]
                .iter()
                .zip(&seg[lag..])
                .map(|(a, b)| a * b)
                .sum();
            if r > best_r {
                best_r = r;
                period = lag;
            }
        }
        // The hold: two-period grains around `best`, Hann-windowed and overlap-added one period
        // apart (the windows sum to one), so the note has no click at each period; it starts
        // and ends on `clip[best]`, where the rest of the word joins it.
        let period = period.max(1);
        let reps = ((hold_s * sr) as usize) / period;
        let hold_len = reps * period;
        let mut held = Vec::with_capacity(clip.len() + hold_len);
        held.extend_from_slice(&clip[..best]);
        let mut note = vec![0.0f32; hold_len];
        for k in 0..=reps {
            for j in 0..2 * period {
                let Some(at) = (k * period + j).checked_sub(period) else {
                    continue;
                };
                if at >= hold_len {
                    break;
                }
                let phase = std::f64::consts::PI * (j as f64 - period as f64) / period as f64;
                let w = 0.5 * (1.0 + phase.cos());
                note[at] += w as f32 * clip[best + j - period];
            }
        }
        held.extend_from_slice(&note);
        held.extend_from_slice(&clip[best..]);
        out = held;
    }
    let amp = depth * sr / (std::f64::consts::TAU * rate);
    (0..out.len())
        .map(|i| {
            let pos = i as f64 + amp * (std::f64::consts::TAU * rate * i as f64 / sr).sin();
            let k = pos.floor().clamp(0.0, (out.len() - 1) as f64) as usize;
            let frac = (pos - k as f64).clamp(0.0, 1.0) as f32;
            let next = out[(k + 1).min(out.len() - 1)];
            out[k] * (1.0 - frac) + next * frac
        })
        .collect()
}

/// A recording from `--music`, as stereo at [`SR`], looped to `n` samples.
fn recording(path: &str, n: usize) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    let buf = encore_audio::decode_file(Path::new(path)).with_context(|| path.to_string())?;
    let (l, r) = if buf.channels >= 2 {
        (buf.channel(0), buf.channel(1))
    } else {
        (buf.channel(0), buf.channel(0))
    };
    let l = encore_audio::resample(&l, buf.sample_rate, SR)?;
    let r = encore_audio::resample(&r, buf.sample_rate, SR)?;
    if l.is_empty() {
        bail!("{path}: no audio");
    }
    let lp = (0..n).map(|i| l[i % l.len()]).collect();
    let rp = (0..n).map(|i| r[i % r.len().max(1)]).collect();
    Ok((lp, rp))
}

fn vlq(mut v: u32, out: &mut Vec<u8>) {
    let mut bytes = vec![(v & 0x7f) as u8];
    v >>= 7;
    while v > 0 {
        bytes.push(((v & 0x7f) as u8) | 0x80);
        v >>= 7;
    }
    out.extend(bytes.iter().rev());
}

/// A standard MIDI file (format 0): piano chords panned left, strings panned right, bass and
/// drums in the centre, I-V-vi-IV in a random key.
fn midi(duration_s: f64, rng: &mut Rng) -> (Vec<u8>, f64) {
    const TPQ: u32 = 480;
    let bpm = rng.range(84.0, 124.0);
    let beat_s = 60.0 / bpm;
    let key = (rng.next() % 12) as u8;
    let mut ev: Vec<(u32, Vec<u8>)> = vec![
        (0, vec![0xC0, 0]),
        (0, vec![0xB0, 10, 24]),
        (0, vec![0xC1, 33]),
        (0, vec![0xB1, 10, 64]),
        (0, vec![0xC2, 48]),
        (0, vec![0xB2, 10, 104]),
        (0, vec![0xB9, 10, 64]),
    ];
    let chords: [[u8; 3]; 4] = [[0, 4, 7], [7, 11, 14], [9, 12, 16], [5, 9, 12]];
    let bars = (duration_s / (4.0 * beat_s)).ceil() as u32 + 1;
    for bar in 0..bars {
        let t0 = bar * 4 * TPQ;
        let ch = chords[(bar % 4) as usize];
        for (i, n) in ch.iter().enumerate() {
            let note = 48 + key + n;
            ev.push((t0, vec![0x90, note, 70]));
            ev.push((t0 + 4 * TPQ - 10, vec![0x80, note, 0]));
            let s = 60 + key + n + if i == 0 { 12 } else { 0 };
            ev.push((t0, vec![0x92, s, 45]));
            ev.push((t0 + 4 * TPQ - 10, vec![0x82, s, 0]));
        }
        for beat in 0..4u32 {
            let t = t0 + beat * TPQ;
            if beat % 2 == 0 {
                ev.push((t, vec![0x91, 36 + key % 12 + ch[0], 90]));
                ev.push((t + 2 * TPQ - 20, vec![0x81, 36 + key % 12 + ch[0], 0]));
                ev.push((t, vec![0x99, 36, 100]));
            } else {
                ev.push((t, vec![0x99, 38, 90]));
            }
            for half in 0..2 {
                ev.push((t + half * TPQ / 2, vec![0x99, 42, 60]));
            }
        }
    }
    ev.sort_by_key(|e| e.0);
    let mut track = Vec::new();
    let us = (beat_s * 1e6) as u32;
    track.extend([
        0x00,
        0xFF,
        0x51,
        0x03,
        (us >> 16) as u8,
        (us >> 8) as u8,
        us as u8,
    ]);
    let mut last = 0;
    for (t, bytes) in ev {
        vlq(t - last, &mut track);
        track.extend(bytes);
        last = t;
    }
    track.extend([0x00, 0xFF, 0x2F, 0x00]);
    let mut out = b"MThd".to_vec();
    out.extend([0, 0, 0, 6, 0, 0, 0, 1, (TPQ >> 8) as u8, TPQ as u8]);
    out.extend(b"MTrk");
    out.extend((track.len() as u32).to_be_bytes());
    out.extend(track);
    (out, bpm)
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        0.0
    } else {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }
}

struct Placed {
    text: String,
    start: f64,
    end: f64,
    line_end: bool,
}

fn song(
    voice: &str,
    index: usize,
    args: &SynthArgs,
    rng: &mut Rng,
    engines: &mut Engines,
    out: &Path,
    tmp: &Path,
) -> anyhow::Result<(String, &'static str)> {
    let (vocab, language) = vocabulary(voice)?;
    let name = format!("synth_{voice}_{index:02}");
    let mut voice_track: Vec<f32> = Vec::new();
    let mut placed: Vec<Placed> = Vec::new();
    let mut lines_text: Vec<String> = Vec::new();
    let mut t = rng.range(3.0, 9.0);
    let n_lines = 8 + (rng.next() % 3) as usize;
    let han = voice == "cmn";
    const VARIANTS: [&str; 8] = ["", "+m3", "+f2", "+f4", "+m7", "+f1", "+klatt2", "+m1"];
    // Pentatonic scale degrees in semitones (Festival melodies; eSpeak's are in its own units).
    const SCALE: [f64; 10] = [0.0, 2.0, 4.0, 7.0, 9.0, 12.0, 14.0, 16.0, 19.0, 21.0];
    // No draw unless asked for, so that `--festival 0` draws the random numbers it drew before
    // the option existed.
    let festival_voices = if args.festival > 0.0 {
        festival::voices_for(voice)
    } else {
        Vec::new()
    };
    let pico_voices = if args.pico > 0.0 {
        pico::voices_for(voice)
    } else {
        &[]
    };
    for li in 0..n_lines {
        let pitch = rng.range(30.0, 70.0) as u32;
        let speed = rng.range(100.0, 150.0) as u32;
        let voice_name = if args.variants {
            format!(
                "{voice}{}",
                VARIANTS[(rng.next() % VARIANTS.len() as u64) as usize]
            )
        } else {
            voice.to_string()
        };
        let real_voice = if !festival_voices.is_empty() && rng.unit() < args.festival {
            let v = festival_voices[(rng.next() % festival_voices.len() as u64) as usize];
            Some(RealVoice::Festival(v))
        } else if !pico_voices.is_empty() && rng.unit() < args.pico {
            let v = pico_voices[(rng.next() % pico_voices.len() as u64) as usize];
            Some(RealVoice::Pico(v))
        } else {
            None
        };
        // The line's register for Festival and Pico, from eSpeak's pitch (30-70): -4..+4 semitones.
        let register = (f64::from(pitch) - 50.0) / 5.0;
        // A melody: a random walk over a pentatonic scale, one note per word.
        let mut degree = (rng.next() % 5) as i32;
        // A real sentence (`--text`), or random words drawn one by one below.
        let sentence = engines
            .texts
            .get(voice)
            .map(|t| t[(rng.next() % t.len() as u64) as usize].clone());
        let n_words = match &sentence {
            Some(s) => s.len(),
            None if han => 5 + (rng.next() % 4) as usize,
            None => 3 + (rng.next() % 4) as usize,
        };
        let mut words = Vec::new();
        for wi in 0..n_words {
            let w = match &sentence {
                Some(s) => s[wi].as_str(),
                None => rng.pick(vocab),
            };
            let clip = if args.sung {
                degree = (degree + (rng.next() % 5) as i32 - 2).clamp(0, 9);
                let step = [0, 4, 8, 14, 18, 24, 28, 32, 38, 42][degree as usize];
                let note_pitch = (pitch as i32 - 16 + step).clamp(5, 95) as u32;
                let slow = (f64::from(speed) * rng.range(0.6, 0.9)) as u32;
                let spoken = match real_voice {
                    Some(v) => {
                        let semitones = register + SCALE[degree as usize] - 9.0;
                        let stretch = 160.0 / f64::from(slow.max(1));
                        engines.speak(v, w, semitones, stretch, tmp)?
                    }
                    None => speak(w, &voice_name, note_pitch, slow, tmp)?,
                };
                let hold = if rng.unit() < 0.5 {
                    rng.range(0.05, 0.3)
                } else {
                    rng.range(0.3, 1.2)
                };
                let depth = rng.range(0.0, 0.025);
                let rate = rng.range(4.5, 6.5);
                sing(&spoken, hold, depth, rate)
            } else if let Some(v) = real_voice {
                let stretch = 160.0 / f64::from(speed.max(1));
                engines.speak(v, w, register, stretch, tmp)?
            } else {
                speak(w, &voice_name, pitch, speed, tmp)?
            };
            // Sung notes last longer than speech: stretch nothing, but leave room as a singer would.
            let start = t;
            let at = (start * f64::from(SR)) as usize;
            if voice_track.len() < at + clip.len() {
                voice_track.resize(at + clip.len(), 0.0);
            }
            for (i, s) in clip.iter().enumerate() {
                voice_track[at + i] += s;
            }
            let end = start + clip.len() as f64 / f64::from(SR);
            placed.push(Placed {
                text: w.to_string(),
                start,
                end,
                line_end: false,
            });
            words.push(w.to_string());
            t = end + rng.range(0.03, 0.35);
        }
        if let Some(p) = placed.last_mut() {
            p.line_end = true;
        }
        lines_text.push(if han { words.concat() } else { words.join(" ") });
        t += if li % 4 == 3 {
            rng.range(6.0, 12.0)
        } else {
            rng.range(0.8, 3.5)
        };
    }
    let duration = t + 3.0;
    // Accompaniment.
    let (mid, _bpm) = midi(duration, rng);
    let mid_path = tmp.join("song.mid");
    let music_path = tmp.join("music.wav");
    std::fs::write(&mid_path, mid)?;
    let status = Command::new("fluidsynth")
        .args(["-ni", "-q", "-g", "0.5", "-r", &SR.to_string(), "-F"])
        .arg(&music_path)
        .arg(&args.soundfont)
        .arg(&mid_path)
        .status()
        .context("running fluidsynth (Debian packages fluidsynth, fluid-soundfont-gm)")?;
    if !status.success() {
        bail!("fluidsynth failed");
    }
    let music = encore_audio::decode_file(&music_path)?;
    let (ml, mr) = if music.channels >= 2 {
        (music.channel(0), music.channel(1))
    } else {
        (music.channel(0), music.channel(0))
    };
    let ml = encore_audio::resample(&ml, music.sample_rate, SR)?;
    let mr = encore_audio::resample(&mr, music.sample_rate, SR)?;
    let n = (duration * f64::from(SR)) as usize;
    let recordings: Vec<&str> = args
        .music
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let (ml, mr) = if !recordings.is_empty() && rng.unit() < args.music_share {
        let pick = recordings[(rng.next() % recordings.len() as u64) as usize];
        recording(pick, n)?
    } else {
        (ml, mr)
    };
    let (ml, mr) = if args.a_cappella > 0.0 && rng.unit() < args.a_cappella {
        (vec![0.0; n], vec![0.0; n])
    } else {
        (ml, mr)
    };
    let music_rms = rms(&ml[..ml.len().min(n)]).max(1e-4);
    let voiced: Vec<f32> = voice_track
        .iter()
        .copied()
        .filter(|v| v.abs() > 1e-3)
        .collect();
    let (snr_lo, snr_hi) = args
        .snr
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)))
        .context("--snr: expected LO,HI in dB")?;
    let snr_db = rng.range(snr_lo, snr_hi);
    let gain = if music_rms <= 1e-4 {
        0.25 / rms(&voiced).max(1e-4)
    } else {
        (music_rms * 10f32.powf(snr_db as f32 / 20.0)) / rms(&voiced).max(1e-4)
    };
    let mut inter = Vec::with_capacity(2 * n);
    let mut peak = 0.0f32;
    for i in 0..n {
        let v = voice_track.get(i).copied().unwrap_or(0.0) * gain;
        let l = v + ml.get(i).copied().unwrap_or(0.0);
        let r = v + mr.get(i).copied().unwrap_or(0.0);
        peak = peak.max(l.abs()).max(r.abs());
        inter.push(l);
        inter.push(r);
    }
    if peak > 0.99 {
        inter.iter_mut().for_each(|x| *x *= 0.99 / peak);
    }
    let file = std::fs::File::create(out.join("audio").join(format!("{name}.wav")))?;
    AudioBuffer::new(SR, 2, inter).write_wav_pcm16(std::io::BufWriter::new(file))?;
    // Lyrics and annotations.
    std::fs::write(
        out.join("lyrics").join(format!("{name}.txt")),
        lines_text.join("\n") + "\n",
    )?;
    let words_txt: Vec<&str> = placed.iter().map(|p| p.text.as_str()).collect();
    std::fs::write(
        out.join("lyrics").join(format!("{name}.words.txt")),
        words_txt.join("\n"),
    )?;
    let mut csv = String::from("word_start,word_end,line_end\n");
    let mut lines_csv = String::from("start_time,end_time,lyrics_line\n");
    let mut line_start = None;
    let mut li = 0;
    for p in &placed {
        let le = if p.line_end {
            format!("{:.6}", p.end)
        } else {
            "nan".into()
        };
        let _ = writeln!(csv, "{:.6},{:.6},{le}", p.start, p.end);
        let s = *line_start.get_or_insert(p.start);
        if p.line_end {
            let _ = writeln!(lines_csv, "{s:.6},{:.6},{}", p.end, lines_text[li]);
            li += 1;
            line_start = None;
        }
    }
    std::fs::write(
        out.join("annotations/words").join(format!("{name}.csv")),
        csv,
    )?;
    std::fs::write(
        out.join("annotations/lines").join(format!("{name}.csv")),
        lines_csv,
    )?;
    Ok((name, language))
}

/// Runs `encore lyrics synth`.
pub fn synth(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let out = &args.out;
    for (flag, share) in [("--festival", args.festival), ("--pico", args.pico)] {
        if !(0.0..=1.0).contains(&share) {
            bail!("{flag}: expected a share between 0 and 1, got {share}");
        }
    }
    let voices: Vec<&str> = args
        .langs
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let texts = texts(&args.texts)?;
    if let Some(lang) = texts.keys().find(|l| !voices.contains(&l.as_str())) {
        bail!("--text: {lang} is not one of --langs {}", args.langs);
    }
    if texts.contains_key("cmn") {
        bail!("--text: Mandarin lines are single Han characters; --text is for spaced languages");
    }
    for sub in ["audio", "lyrics", "annotations/words", "annotations/lines"] {
        std::fs::create_dir_all(out.join(sub))
            .with_context(|| format!("creating {}", out.join(sub).display()))?;
    }
    let tmp = out.join(".work");
    std::fs::create_dir_all(&tmp)?;
    let mut rng = Rng::new(args.seed);
    let mut meta = String::from("Filepath,Language\n");
    if args.festival > 0.0 {
        let known = festival::languages();
        let covered: Vec<&str> = voices
            .iter()
            .copied()
            .filter(|v| known.contains(v))
            .collect();
        for lang in &covered {
            if festival::voices_for(lang).is_empty() {
                bail!(
                    "--festival: no Festival voice for {lang:?} is installed (Debian packages: {})",
                    festival::packages_for(lang)
                );
            }
        }
        if covered.is_empty() {
            bail!(
                "--festival: Festival voices exist here for {} only, not for {}",
                known.join(", "),
                args.langs
            );
        }
    }
    if args.pico > 0.0 && voices.iter().all(|v| pico::voices_for(v).is_empty()) {
        bail!(
            "--pico: Pico voices exist for en, fr, es, de and it only, not for {}",
            args.langs
        );
    }
    let mut engines = Engines {
        festival: None,
        pico: None,
        python: args.pico_python.clone(),
        texts,
    };
    let bar = crate::output::progress_bar((voices.len() * args.songs) as u64, "synthesising");
    for voice in &voices {
        for i in 0..args.songs {
            let (name, language) = song(voice, i, &args, &mut rng, &mut engines, out, &tmp)?;
            let _ = writeln!(meta, "{name}.wav,{language}");
            println!(
                "{}",
                out.join("audio").join(format!("{name}.wav")).display()
            );
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    std::fs::write(out.join("JamendoLyrics.csv"), meta)?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::sentences;

    #[test]
    fn sentences_come_from_fortune_entries_and_leave_out_what_is_not_singable() {
        let text = "The quick brown fox jumps. Too short!\n%\nIt's a well-known fact: \
                    the NASA budget has 3 parts; nobody reads\nfine print.\n\t-- Someone Famous\n%\n";
        let got: Vec<String> = sentences(text).iter().map(|s| s.join(" ")).collect();
        assert_eq!(
            got,
            [
                "The quick brown fox jumps",
                "It's a well known fact",
                "nobody reads fine print"
            ]
        );
    }
}
