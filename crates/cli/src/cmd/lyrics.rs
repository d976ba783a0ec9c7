//! `encore lyrics`: align lyrics to audio, evaluate on a JamendoLyrics-style folder, and
//! generate a synthetic benchmark with exact word times.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use encore_lyrics::{
    AcousticModel, AlignOptions, Aligner, BroadClassModel, Format, HybridModel, Language, Lyrics,
    MedianAligner, Mode, OnsetMetrics, PronunciationDict, SphinxHybridModel, SphinxModel,
};
use encore_whisper::{Installation, Whisper, WhisperAudio, full_with_whisper, refine_with_whisper};

/// Arguments of `encore lyrics`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// The `encore lyrics` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Align lyrics (plain text, one line per lyric line, or LRC) to an audio file.
    Align(AlignArgs),
    /// Evaluate alignment on a JamendoLyrics-layout folder (mp3/, lyrics/, annotations/).
    Eval(EvalArgs),
    /// Generate a synthetic benchmark (eSpeak-NG, Festival or Pico words at known times over
    /// FluidSynth music).
    Synth(SynthArgs),
    /// Train a hybrid acoustic model (GMM-HMM flat start, then an MLP) on folders of songs.
    Train(TrainArgs),
}

/// How to align.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Line times given (line-timed LRC): find word times.
    Refine,
    /// Plain lyrics: find line and word times.
    Full,
}

/// Output format of `encore lyrics align`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// `{"lines": [{"text","start_s","end_s","words": [...]}]}`.
    Json,
    /// LRC with line times.
    Lrc,
    /// Enhanced LRC with word times.
    Elrc,
    /// TTML (Apple Music style, word spans).
    Ttml,
    /// SubRip.
    Srt,
    /// WebVTT with word timestamps.
    Vtt,
}

/// Arguments of `encore lyrics align`.
#[derive(Debug, clap::Args)]
pub struct AlignArgs {
    /// The audio file.
    pub audio: PathBuf,
    /// The lyrics: plain text (one lyric line per line) or LRC (any format this crate reads).
    pub lyrics: PathBuf,
    /// Print JSON (the default output).
    #[arg(long)]
    pub json: bool,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Alignment mode; default: refine when every line has a time, full otherwise.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Language (en, fr, es, de, zh, or any eSpeak-NG voice); guessed when absent.
    #[arg(long)]
    pub lang: Option<String>,
    /// Use eSpeak-NG (`espeak-ng`, must be installed) for pronunciation instead of rules.
    #[arg(long)]
    pub espeak: bool,
    /// English pronunciation dictionary (CMUdict format) looked up before the rules; default:
    /// Debian's copy from `pocketsphinx-en-us` when installed; `none` for rules only.
    #[arg(long)]
    pub dict: Option<PathBuf>,
    /// Acoustic model: a model file from `encore lyrics train`, `broad` for the untrained
    /// broad-class model; default: the shipped hybrid model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Phone identity from a CMU Sphinx PTM model added to the hybrid model's broad classes:
    /// `sphinx` for Debian's pocketsphinx-en-us model, a model directory, or `none`. Default:
    /// Debian's model in refine mode when it is installed (better there), none in full mode.
    #[arg(long)]
    pub phones: Option<PathBuf>,
    /// Each word's median time over three aligners (the hybrid model with the Sphinx phones,
    /// the hybrid model alone, the broad-class model); needs the phones. Better on synthetic
    /// songs, equal on jamendo-dev, about 1.3 times the CPU time (docs/readme/lyrics.md).
    #[arg(long)]
    pub median: bool,
    #[command(flatten)]
    pub whisper: WhisperArgs,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// OpenAI Whisper base (`--whisper`): a third opinion in refine mode; in full mode, hints for
/// the line pass and a second look for each line.
#[derive(Debug, Clone, clap::Args)]
pub struct WhisperArgs {
    /// When OpenAI Whisper base joins. Refine mode: each word's median start over the hybrid
    /// model with the Sphinx phones, the hybrid model alone, and Whisper's attention. Full mode:
    /// what Whisper hears, matched to the lyrics, steers the line pass; then Whisper looks for
    /// each line again within 8 s of it, the line moves there and its words are aligned as in
    /// refine mode. `auto` (the default): refine mode only, when faster-whisper and the model
    /// are installed (scripts/install-deps.sh) and the other options allow it; `--whisper`
    /// (`on`): both modes, an error when it cannot run; `--whisper=off`: never. Full mode with
    /// Whisper runs at about 6x real time.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value_t = WhisperUse::Auto,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "on"
    )]
    pub whisper: WhisperUse,
    /// Python with faster-whisper; default: ~/.cache/encore/venv-whisper/bin/python.
    #[arg(long, value_name = "PYTHON")]
    pub whisper_python: Option<PathBuf>,
    /// Folder of a CTranslate2 Whisper model; default: ~/.cache/encore/whisper-base.
    #[arg(long, value_name = "DIR")]
    pub whisper_model: Option<PathBuf>,
}

/// The values of `--whisper`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WhisperUse {
    /// Refine mode only, when installed and the other options allow it.
    Auto,
    /// Both modes; an error when Whisper cannot run.
    On,
    /// Never.
    Off,
}

impl WhisperArgs {
    /// Whether Whisper joins `mode` (if it runs at all).
    fn joins(&self, mode: Mode) -> bool {
        match self.whisper {
            WhisperUse::On => true,
            WhisperUse::Auto => mode == Mode::Refine,
            WhisperUse::Off => false,
        }
    }

    /// Where Whisper is looked for: the flags, else [`Installation::default_location`].
    fn installation(&self) -> Installation {
        let default = Installation::default_location();
        Installation {
            python: self.whisper_python.clone().unwrap_or(default.python),
            model: self.whisper_model.clone().unwrap_or(default.model),
        }
    }

    /// A note for a person at a terminal who runs full mode without Whisper although it is
    /// installed: `--whisper` places lines far better there, but is too slow to be the default.
    fn suggest_for_full_mode(&self, mode: Mode, usable: bool) {
        if mode == Mode::Full
            && self.whisper == WhisperUse::Auto
            && usable
            && std::io::stderr().is_terminal()
            && self.installation().is_present()
        {
            eprintln!(
                "note: full mode without Whisper; with --whisper, lines are placed far more \
                 accurately (word-onset error 0.87 s instead of 6.02 s on jamendo-dev) at about \
                 6x real time instead of about 47x"
            );
        }
    }

    /// The Whisper server for a run over `modes`. `usable` says whether the other options
    /// allow Whisper (else `None`; the callers refuse `on` with their own message first).
    /// With `auto`, a missing installation means no Whisper, and one that does not start is a
    /// warning.
    fn start(&self, modes: &[Mode], usable: bool) -> anyhow::Result<Option<Whisper>> {
        if !usable || !modes.iter().any(|&m| self.joins(m)) {
            return Ok(None);
        }
        let installation = self.installation();
        if self.whisper == WhisperUse::Auto {
            if !installation.is_present() {
                tracing::debug!(
                    ?installation,
                    "Whisper is not installed; refine mode runs without it"
                );
                return Ok(None);
            }
            return Ok(Whisper::start(&installation, false)
                .inspect_err(|e| {
                    tracing::warn!("Whisper did not start, aligning without it: {e}");
                })
                .ok());
        }
        Whisper::start(&installation, true)
            .context("starting Whisper (--whisper-python and --whisper-model choose others)")
            .map(Some)
    }
}

/// Arguments of `encore lyrics eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A folder with `mp3/` (or `audio/`), `lyrics/NAME.txt`, `annotations/words/NAME.csv`,
    /// `annotations/lines/NAME.csv` and optionally `JamendoLyrics.csv` (languages).
    pub dir: PathBuf,
    /// Which modes to run.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Use eSpeak-NG for pronunciation.
    #[arg(long)]
    pub espeak: bool,
    /// English pronunciation dictionary (CMUdict format) looked up before the rules; default:
    /// Debian's copy from `pocketsphinx-en-us` when installed; `none` for rules only.
    #[arg(long)]
    pub dict: Option<PathBuf>,
    /// Only songs whose name contains one of these (comma-separated).
    #[arg(long)]
    pub only: Option<String>,
    /// Print one JSON object per song and mode, then the averages.
    #[arg(long)]
    pub json: bool,
    /// Tuning: position-prior weight of the word pass (default from the library).
    #[arg(long)]
    pub fine_weight: Option<f32>,
    /// Tuning: position-prior weight of the line pass.
    #[arg(long)]
    pub coarse_weight: Option<f32>,
    /// Tuning: states per syllable in the line pass.
    #[arg(long)]
    pub coarse_states: Option<usize>,
    /// Tuning: one line-pass state per consonant too.
    #[arg(long)]
    pub coarse_consonants: bool,
    /// Tuning: frames averaged into one line-pass frame.
    #[arg(long)]
    pub coarse_factor: Option<usize>,
    /// Tuning: cost of entering filler between lines.
    #[arg(long)]
    pub filler_cost: Option<f32>,
    /// Tuning: cost of entering a pause between words in the word pass.
    #[arg(long)]
    pub pause_cost: Option<f32>,
    /// Tuning: weight of the voiced-onset cue at word starts in the word pass (0: off).
    #[arg(long)]
    pub onset_weight: Option<f32>,
    /// Tuning: weight of the per-song adaptation in a second word pass (0: one word pass).
    #[arg(long)]
    pub adapt_weight: Option<f32>,
    /// Tuning: full mode with --whisper, cost per frame and second of a hinted word away from
    /// where Whisper heard it.
    #[arg(long)]
    pub hint_weight: Option<f32>,
    /// Tuning: full mode with --whisper, seconds a heard word's span is widened by.
    #[arg(long)]
    pub hint_margin: Option<f64>,
    /// Each word's median time over three aligners (as `align --median`); needs the phones.
    #[arg(long)]
    pub median: bool,
    #[command(flatten)]
    pub whisper: WhisperArgs,
    /// Acoustic model: a model file, `broad`, or (default) the shipped hybrid model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Phone identity from a CMU Sphinx PTM model added to the hybrid model's broad classes:
    /// `sphinx` for Debian's pocketsphinx-en-us model, a model directory, or `none`. Default:
    /// Debian's model in refine mode when it is installed (better there), none in full mode.
    #[arg(long)]
    pub phones: Option<PathBuf>,
    /// Tuning: weight of the Sphinx phone score (with `--phones`).
    #[arg(long)]
    pub phone_weight: Option<f32>,
    /// Tuning: score letter-rule, IPA and pinyin phones as their nearest ARPAbet phone (with
    /// `--phones`; default: by their broad class).
    #[arg(long)]
    pub nearest_phones: bool,
    /// Tuning: acoustic scale of a hybrid model (default: the one in the model file).
    #[arg(long)]
    pub scale: Option<f32>,
    /// Tuning: vocal-activity threshold of the broad-class model (robust z units).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Tuning: vocal-activity slope of the broad-class model.
    #[arg(long)]
    pub slope: Option<f32>,
}

/// Arguments of `encore lyrics synth`.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Output folder (JamendoLyrics layout; created).
    pub out: PathBuf,
    /// Languages, as eSpeak-NG voices (comma-separated): `cmn` (Mandarin), `en`, `fr`, `es`, `de`, `it`.
    #[arg(long, default_value = "cmn,en,fr,es,de")]
    pub langs: String,
    /// Songs per language.
    #[arg(long, default_value_t = 1)]
    pub songs: usize,
    /// Random seed (the same seed makes the same benchmark).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// SoundFont for FluidSynth.
    #[arg(long, default_value = "/usr/share/sounds/sf2/FluidR3_GM.sf2")]
    pub soundfont: PathBuf,
    /// Sung words: pitch following a melody, held (lengthened) vowels, vibrato.
    #[arg(long)]
    pub sung: bool,
    /// Random eSpeak-NG voice variants (male and female) per line.
    #[arg(long)]
    pub variants: bool,
    /// Range of the voice-to-accompaniment level in dB, `LO,HI`.
    #[arg(long, default_value = "-3,3", allow_hyphen_values = true)]
    pub snr: String,
    /// Recordings (comma-separated) looped under the voice in place of the MIDI accompaniment
    /// for a share of the songs (see `--music-share`).
    #[arg(long)]
    pub music: Option<String>,
    /// Share of songs over a recording from `--music` instead of MIDI music.
    #[arg(long, default_value_t = 0.5)]
    pub music_share: f64,
    /// Share of songs with no accompaniment at all (voice only).
    #[arg(long, default_value_t = 0.0)]
    pub a_cappella: f64,
    /// Share of lines (in `en` and `it`) spoken by Festival voices made from recordings of real
    /// speakers (Debian's festvox-kallpc16k, -kdlpc16k, -us-slt-hts, -italp16k, -itapc16k)
    /// instead of eSpeak-NG. At 0 no random number is drawn for it, so the rest of a seed's
    /// songs stay as they are.
    #[arg(long, default_value_t = 0.0)]
    pub festival: f64,
    /// Share of lines (in `en`, `fr`, `es`, `de` and `it`; after the Festival share) spoken by
    /// SVOX Pico voices, HMM voices trained on recordings of real speakers, through the PyPI
    /// package `py-nanotts`. At 0 no random number is drawn for it.
    #[arg(long, default_value_t = 0.0)]
    pub pico: f64,
    /// Python interpreter that has `py-nanotts` installed (for `--pico`).
    #[arg(long, default_value = "python3")]
    pub pico_python: PathBuf,
    /// Real sentences for a language's lines instead of random words, `LANG=FILE` (repeatable):
    /// plain text or a fortune file (entries between `%` lines), for example Debian's
    /// `fortunes-min`, `fortunes-de`, `fortunes-es` or `fortunes-it`. Each line sings one
    /// sentence of 3 to 8 words, drawn at random.
    #[arg(long = "text", value_name = "LANG=FILE")]
    pub texts: Vec<String>,
}

/// Runs `encore lyrics`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Sub::Align(a) => align(a),
        Sub::Eval(a) => eval(a),
        Sub::Synth(a) => synth(a),
        Sub::Train(a) => train::train(a),
    }
}

fn read_lyrics(path: &Path) -> anyhow::Result<Lyrics> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let format = path
        .extension()
        .and_then(|e| e.to_str())
        .and_then(Format::from_extension)
        .unwrap_or_else(|| Format::sniff(&text));
    encore_lyrics::parse(&text, format).with_context(|| format!("{}", path.display()))
}

/// The hybrid model named on the command line: a model file or the shipped default; `None` for
/// `broad` (the broad-class model).
fn load_hybrid(spec: Option<&Path>) -> anyhow::Result<Option<HybridModel>> {
    if is_broad(spec) {
        return Ok(None);
    }
    Ok(Some(match spec {
        Some(p) => {
            HybridModel::load(p).with_context(|| format!("loading model {}", p.display()))?
        }
        None => HybridModel::default_model().context("the shipped default model")?,
    }))
}

/// The acoustic model named on the command line (see [`load_hybrid`]).
fn load_model(spec: Option<&Path>) -> anyhow::Result<Box<dyn AcousticModel>> {
    Ok(match load_hybrid(spec)? {
        Some(h) => Box::new(h),
        None => Box::new(BroadClassModel::default()),
    })
}

/// The `--phones` argument: `sphinx` (Debian's pocketsphinx-en-us model), a Sphinx model
/// directory, or `none`; absent: Debian's model when installed in refine mode, where it was
/// measured better on real songs (docs/readme/lyrics.md), and none in full mode, where it was
/// worse, nor with the broad-class model (`broad`), which cannot take phones.
fn load_phones(
    spec: Option<&Path>,
    mode: Mode,
    broad: bool,
) -> anyhow::Result<Option<Arc<SphinxModel>>> {
    let dir = match spec {
        None if mode == Mode::Refine && !broad => {
            return Ok(SphinxModel::installed().map(Arc::new));
        }
        None => return Ok(None),
        Some(p) if p.as_os_str() == "none" => return Ok(None),
        Some(p) if p.as_os_str() == "sphinx" => {
            let dir = Path::new(SphinxModel::DEBIAN_DIR);
            if !dir.exists() {
                bail!(
                    "--phones sphinx: {} is missing; install Debian's pocketsphinx-en-us \
                     (scripts/install-deps.sh) or give the model directory",
                    dir.display()
                );
            }
            dir
        }
        Some(p) => p,
    };
    Ok(Some(Arc::new(SphinxModel::load(dir).with_context(
        || format!("loading the Sphinx model in {}", dir.display()),
    )?)))
}

/// The `--dict` argument: a file, `none`, or (absent) Debian's copy when it is installed.
fn load_dictionary(spec: Option<&Path>) -> anyhow::Result<Option<Arc<PronunciationDict>>> {
    match spec {
        None => Ok(PronunciationDict::installed().map(Arc::new)),
        Some(p) if p.as_os_str() == "none" => Ok(None),
        Some(p) => Ok(Some(Arc::new(
            PronunciationDict::load(p).with_context(|| format!("{}", p.display()))?,
        ))),
    }
}

fn contract_json(lyrics: &Lyrics) -> serde_json::Value {
    let lines: Vec<serde_json::Value> = lyrics
        .lines
        .iter()
        .map(|l| {
            let words: Vec<serde_json::Value> = l
                .words
                .iter()
                .map(|w| {
                    serde_json::json!({
                        "text": w.text, "start_s": w.start_s, "end_s": w.end_s, "confidence": w.confidence,
                    })
                })
                .collect();
            serde_json::json!({ "text": l.text, "start_s": l.start_s, "end_s": l.end_s, "words": words })
        })
        .collect();
    serde_json::json!({ "lines": lines })
}

/// Warns when line times start at or after the audio's end (`duration_s`): the LRC does not
/// fit this audio (another recording, or an offset), and those lines' words can only be put at
/// its end.
fn warn_lines_after_the_end(lyrics: &Lyrics, duration_s: f64, path: &Path) {
    let mut late = lyrics.lines_starting_after(duration_s);
    if let Some(first) = late.next() {
        tracing::warn!(
            "{}: {} lyric line(s) start after the audio ends at {duration_s:.2} s (the first: {:?} \
             at {:.2} s); their words are placed at the end. Is it the LRC of this recording, and \
             its offset right?",
            path.display(),
            1 + late.count(),
            first.text,
            first.start_s.unwrap_or_default(),
        );
    }
}

fn align(args: AlignArgs) -> anyhow::Result<ExitCode> {
    let lyrics = read_lyrics(&args.lyrics)?;
    if lyrics.lines.is_empty() {
        bail!("{}: no lyric lines", args.lyrics.display());
    }
    let mode = match args.mode {
        Some(ModeArg::Refine) => Mode::Refine,
        Some(ModeArg::Full) => Mode::Full,
        None if lyrics.is_line_timed() => Mode::Refine,
        None => Mode::Full,
    };
    let audio = encore_audio::decode_file(&args.audio)
        .with_context(|| format!("{}", args.audio.display()))?;
    if mode == Mode::Refine {
        warn_lines_after_the_end(&lyrics, audio.duration_s(), &args.lyrics);
    }
    let lang = args.lang.as_deref().map(Language::from_code);
    let phones = load_phones(
        args.phones.as_deref(),
        mode,
        is_broad(args.model.as_deref()),
    )?;
    let options = AlignOptions {
        mode,
        language: lang,
        espeak: args.espeak,
        dictionary: load_dictionary(args.dict.as_deref())?,
        ..AlignOptions::default()
    };
    let context = || {
        format!(
            "aligning {} to {}",
            args.lyrics.display(),
            args.audio.display()
        )
    };
    let hybrid = load_hybrid(args.model.as_deref())?;
    let usable = !args.median && (mode == Mode::Full || (hybrid.is_some() && phones.is_some()));
    if args.whisper.whisper == WhisperUse::On && !usable {
        if args.median {
            bail!("--whisper and --median are two different medians; choose one");
        }
        bail!(
            "--whisper in refine mode needs a hybrid model and the Sphinx phones (pocketsphinx-en-us)"
        );
    }
    let mut whisper = args.whisper.start(&[mode], usable)?;
    args.whisper.suggest_for_full_mode(mode, usable);
    if let (Some(whisper), Mode::Refine, Some(hybrid), Some(phones)) =
        (&mut whisper, mode, &hybrid, &phones)
    {
        let (hybrid, phones) = (hybrid.clone(), phones.clone());
        let features = encore_lyrics::extract_features(&audio)
            .with_context(|| format!("{}", args.audio.display()))?;
        let heard_audio = WhisperAudio::from_buffer(&audio)?;
        let aligned = refine_with_whisper(
            whisper,
            hybrid,
            phones,
            options,
            &heard_audio,
            &features,
            &lyrics,
        )
        .with_context(context)?;
        return write_aligned(
            &aligned.lyrics,
            args.format,
            args.json,
            args.output.as_deref(),
        );
    }
    // Full mode with Whisper aligns words inside the lines it moved as refine mode does.
    let refine = match &whisper {
        Some(_) => hybrid.clone().zip(load_phones(
            args.phones.as_deref(),
            Mode::Refine,
            is_broad(args.model.as_deref()),
        )?),
        None => None,
    };
    let options_for_whisper = options.clone();
    // A median over one aligner is that aligner's alignment.
    let aligner = match (hybrid, phones) {
        (Some(hybrid), Some(phones)) if args.median => {
            MedianAligner::of_three(hybrid, phones, options)
        }
        _ if args.median => bail!("--median needs a hybrid model and the Sphinx phones"),
        (Some(hybrid), phones) => {
            MedianAligner::new(vec![Aligner::recommended(hybrid, phones, options)])
        }
        (None, Some(_)) => bail!("--phones needs a hybrid model (not --model broad)"),
        (None, None) => MedianAligner::new(vec![Aligner::new(
            Box::new(BroadClassModel::default()),
            options,
        )]),
    };
    tracing::debug!(model = aligner.name(), "aligning");
    let aligned = match &mut whisper {
        Some(whisper) => {
            let features = encore_lyrics::extract_features(&audio)
                .with_context(|| format!("{}", args.audio.display()))?;
            let heard_audio = WhisperAudio::from_buffer(&audio)?;
            full_with_whisper(
                whisper,
                &aligner,
                refine,
                options_for_whisper,
                &heard_audio,
                &features,
                &lyrics,
            )
            .map(|a| a.lyrics)
            .map_err(anyhow::Error::from)
        }
        None => aligner
            .align_audio(&audio, &lyrics)
            .map_err(anyhow::Error::from),
    }
    .with_context(context)?;
    write_aligned(&aligned, args.format, args.json, args.output.as_deref())
}

/// Writes an alignment in the asked format (JSON by default) to `output` or stdout.
fn write_aligned(
    aligned: &Lyrics,
    format: Option<FormatArg>,
    json: bool,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let format = match (format, json) {
        (Some(FormatArg::Lrc), _) => Some(Format::Lrc),
        (Some(FormatArg::Elrc), _) => Some(Format::Elrc),
        (Some(FormatArg::Ttml), _) => Some(Format::Ttml),
        (Some(FormatArg::Srt), _) => Some(Format::Srt),
        (Some(FormatArg::Vtt), _) => Some(Format::Vtt),
        (Some(FormatArg::Json), _) | (None, _) => None,
    };
    let text = match format {
        Some(f) => encore_lyrics::write(aligned, f),
        None => serde_json::to_string(&contract_json(aligned))? + "\n",
    };
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One song of an evaluation folder.
struct Song {
    name: String,
    audio: PathBuf,
    text: PathBuf,
    words_csv: PathBuf,
    lines_csv: PathBuf,
    language: Option<Language>,
}

fn find_songs(dir: &Path, only: Option<&str>) -> anyhow::Result<Vec<Song>> {
    let mut langs = std::collections::HashMap::new();
    if let Ok(meta) = std::fs::read_to_string(dir.join("JamendoLyrics.csv")) {
        let mut lines = meta.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let fp = header.iter().position(|h| *h == "Filepath");
        let lg = header.iter().position(|h| *h == "Language");
        if let (Some(fp), Some(lg)) = (fp, lg) {
            for l in lines {
                let cols: Vec<&str> = l.split(',').collect();
                if let (Some(f), Some(g)) = (cols.get(fp), cols.get(lg)) {
                    let stem = Path::new(f)
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or("")
                        .to_string();
                    langs.insert(stem, Language::from_code(g));
                }
            }
        }
    }
    let audio_dir = if dir.join("mp3").is_dir() {
        dir.join("mp3")
    } else {
        dir.join("audio")
    };
    let mut songs = Vec::new();
    let entries = std::fs::read_dir(&audio_dir)
        .with_context(|| format!("reading {}", audio_dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if let Some(only) = only
            && !only.split(',').any(|o| name.contains(o.trim()))
        {
            continue;
        }
        songs.push(Song {
            audio: path.clone(),
            text: dir.join("lyrics").join(format!("{name}.txt")),
            words_csv: dir.join("annotations/words").join(format!("{name}.csv")),
            lines_csv: dir.join("annotations/lines").join(format!("{name}.csv")),
            language: langs.get(&name).cloned(),
            name,
        });
    }
    songs.sort_by(|a, b| a.name.cmp(&b.name));
    if songs.is_empty() {
        bail!("no songs in {}", audio_dir.display());
    }
    Ok(songs)
}

/// The first column of a CSV with a header, as numbers.
fn csv_column(path: &Path, col: usize) -> anyhow::Result<Vec<f64>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .skip(1)
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let cell = l.split(',').nth(col).unwrap_or("").trim();
            cell.parse::<f64>()
                .with_context(|| format!("{} line {}: bad number {cell:?}", path.display(), i + 2))
        })
        .collect()
}

/// Reference line times as an LRC document (start and end per line).
fn reference_lrc(song: &Song) -> anyhow::Result<Lyrics> {
    let text = std::fs::read_to_string(&song.lines_csv)
        .with_context(|| format!("reading {}", song.lines_csv.display()))?;
    let mut lrc = String::new();
    for (i, l) in text.lines().skip(1).enumerate() {
        let mut cols = l.splitn(3, ',');
        let (Some(s), Some(e), Some(t)) = (cols.next(), cols.next(), cols.next()) else {
            bail!(
                "{} line {}: expected start,end,text",
                song.lines_csv.display(),
                i + 2
            );
        };
        let s: f64 = s
            .trim()
            .parse()
            .with_context(|| format!("{} line {}", song.lines_csv.display(), i + 2))?;
        let e: f64 = e
            .trim()
            .parse()
            .with_context(|| format!("{} line {}", song.lines_csv.display(), i + 2))?;
        let stamp = |t: f64| {
            let cs = (t * 100.0).round() as u64;
            format!("{:02}:{:02}.{:02}", cs / 6000, (cs / 100) % 60, cs % 100)
        };
        let _ = writeln!(
            lrc,
            "[{}]{}\n[{}]",
            stamp(s),
            t.trim().trim_matches('"'),
            stamp(e)
        );
    }
    Ok(encore_lyrics::parse(&lrc, Format::Lrc)?)
}

fn onsets(lyrics: &Lyrics) -> Vec<f64> {
    lyrics
        .lines
        .iter()
        .flat_map(|l| l.words.iter().map(|w| w.start_s.unwrap_or(0.0)))
        .collect()
}

/// Words spread evenly: over the whole song (full) or inside each reference line (refine).
fn even_baseline(lyrics: &Lyrics, duration: f64, mode: Mode, lang: &Language) -> Vec<f64> {
    let count = |text: &str| encore_lyrics::tokenize(text, lang).len();
    match mode {
        Mode::Full => {
            let n: usize = lyrics.lines.iter().map(|l| count(&l.text)).sum();
            (0..n)
                .map(|i| duration * i as f64 / n.max(1) as f64)
                .collect()
        }
        Mode::Refine => lyrics
            .lines
            .iter()
            .flat_map(|l| {
                let s = l.start_s.unwrap_or(0.0);
                let e = l.end_s.unwrap_or(s);
                let n = count(&l.text);
                (0..n).map(move |i| s + (e - s) * i as f64 / n.max(1) as f64)
            })
            .collect(),
    }
}

fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let songs = find_songs(&args.dir, args.only.as_deref())?;
    let modes: Vec<Mode> = match args.mode {
        Some(ModeArg::Refine) => vec![Mode::Refine],
        Some(ModeArg::Full) => vec![Mode::Full],
        None => vec![Mode::Refine, Mode::Full],
    };
    let dictionary = load_dictionary(args.dict.as_deref())?;
    let broad = is_broad(args.model.as_deref());
    if args.phones.is_some() && broad {
        bail!("--phones needs a hybrid model (not --model broad)");
    }
    // Phones per mode: the default differs (see `load_phones`).
    let phones_by_mode: Vec<(Mode, Option<Arc<SphinxModel>>)> = modes
        .iter()
        .map(|&m| Ok((m, load_phones(args.phones.as_deref(), m, broad)?)))
        .collect::<anyhow::Result<_>>()?;
    let hybrid = load_hybrid(args.model.as_deref())?;
    let models_allow = !args.median
        && hybrid.is_some()
        && !phones_by_mode
            .iter()
            .any(|(m, p)| *m == Mode::Refine && p.is_none());
    let tuning = args.scale.is_some() || args.phone_weight.is_some() || args.nearest_phones;
    if args.whisper.whisper == WhisperUse::On {
        if !models_allow {
            bail!(
                "--whisper needs a hybrid model, the Sphinx phones in refine mode, and no --median"
            );
        }
        if tuning {
            bail!(
                "--whisper uses the model's own scale and phone weight; drop --scale, --phone-weight and --nearest-phones"
            );
        }
    }
    let mut whisper = args.whisper.start(&modes, models_allow && !tuning)?;
    // Full mode with Whisper aligns words inside the lines it moved as refine mode does, with
    // refine mode's phones (already loaded when refine mode runs too).
    let refine_phones = match &whisper {
        Some(_) if modes.contains(&Mode::Full) && args.whisper.joins(Mode::Full) => {
            match phones_by_mode.iter().find(|(m, _)| *m == Mode::Refine) {
                Some((_, p)) => p.clone(),
                None => load_phones(args.phones.as_deref(), Mode::Refine, broad)?,
            }
        }
        _ => None,
    };
    if !args.json {
        let base = hybrid
            .as_ref()
            .map_or("broad-class-v1".to_string(), |m| m.header.name.clone());
        for (mode, phones) in &phones_by_mode {
            let mut extra = match (phones.is_some(), args.median) {
                (true, true) => {
                    " + sphinx CI phones, median with the model alone and broad-class-v1"
                }
                (true, false) if *mode == Mode::Refine && whisper.is_some() => {
                    " + sphinx CI phones, median with the model alone and Whisper base"
                }
                (true, false) => " + sphinx CI phones",
                _ => "",
            }
            .to_string();
            if whisper.is_some() && args.whisper.joins(*mode) && *mode == Mode::Full {
                extra += ", line pass steered by what Whisper base hears";
                if refine_phones.is_some() {
                    extra += ", lines looked for again by Whisper, words as in refine mode";
                }
            }
            let name = if *mode == Mode::Refine {
                "refine"
            } else {
                "full"
            };
            println!("model ({name}): {base}{extra}");
        }
    }
    let bar = crate::output::progress_bar((songs.len() * modes.len()) as u64, "aligning");
    let mut results: Vec<(Mode, Vec<OnsetMetrics>, Vec<OnsetMetrics>)> =
        modes.iter().map(|m| (*m, Vec::new(), Vec::new())).collect();
    let mut audio_s = 0.0;
    let mut compute_s = 0.0;
    for song in &songs {
        let _span = tracing::info_span!("lyrics_eval_song", song = %song.name).entered();
        let reference = csv_column(&song.words_csv, 0)?;
        let t0 = Instant::now();
        let audio = encore_audio::decode_file(&song.audio)
            .with_context(|| format!("{}", song.audio.display()))?;
        let features = encore_lyrics::extract_features(&audio)
            .with_context(|| format!("{}", song.audio.display()))?;
        // Resampled to Whisper's 16 kHz once per song, for every question Whisper is asked.
        let heard_audio = match &whisper {
            Some(_) => Some(
                WhisperAudio::from_buffer(&audio)
                    .with_context(|| format!("{}", song.audio.display()))?,
            ),
            None => None,
        };
        let mut song_compute = t0.elapsed().as_secs_f64();
        let duration = audio.duration_s();
        let lang = song.language.clone().unwrap_or_else(|| {
            Language::guess(&std::fs::read_to_string(&song.text).unwrap_or_default())
        });
        for (mode, got, base) in &mut results {
            let input = match mode {
                Mode::Refine => reference_lrc(song)?,
                Mode::Full => {
                    let text = std::fs::read_to_string(&song.text)
                        .with_context(|| format!("reading {}", song.text.display()))?;
                    Lyrics::from_plain_text(&text)
                }
            };
            let t1 = Instant::now();
            let mut options = AlignOptions {
                mode: *mode,
                language: song.language.clone(),
                espeak: args.espeak,
                dictionary: dictionary.clone(),
                ..AlignOptions::default()
            };
            if let Some(w) = args.fine_weight {
                options.position_weight_fine = w;
            }
            if let Some(w) = hybrid.as_ref().and_then(|m| m.header.coarse_weight) {
                options.position_weight_coarse = w;
            }
            if let Some(w) = args.coarse_weight {
                options.position_weight_coarse = w;
            }
            if let Some(c) = args.filler_cost {
                options.filler_cost = c;
            }
            if let Some(c) = args.pause_cost {
                options.pause_cost = c;
            }
            if let Some(w) = args.onset_weight {
                options.onset_weight = w;
            }
            if let Some(w) = args.hint_weight {
                options.hint_weight = w;
            }
            if let Some(m) = args.hint_margin {
                options.hint_margin_s = m;
            }
            // `--median` runs as `MedianAligner::of_three`: every member adapts to the song.
            options.adapt_weight = match args.adapt_weight {
                Some(w) => w,
                None if args.median => encore_lyrics::MEDIAN_ADAPT_WEIGHT,
                None => options.adapt_weight,
            };
            if let Some(k) = args.coarse_states {
                options.coarse_syllable_states = k;
            }
            let phones = phones_by_mode
                .iter()
                .find(|(m, _)| m == mode)
                .and_then(|(_, p)| p.clone());
            options.coarse_consonants = args.coarse_consonants || phones.is_some();
            if let Some(k) = args.coarse_factor {
                options.coarse_factor = k;
            }
            let options_for_whisper = options.clone();
            let broad_model = || {
                let mut model = BroadClassModel::default();
                if let Some(t) = args.threshold {
                    model.threshold = t;
                }
                if let Some(k) = args.slope {
                    model.slope = k;
                }
                model
            };
            // As `encore lyrics align` (`Aligner::recommended`, `MedianAligner::of_three` with
            // `--median`), here with the tuning flags applied.
            let aligner = match &hybrid {
                None => MedianAligner::new(vec![Aligner::new(Box::new(broad_model()), options)]),
                Some(h) => {
                    let mut m = h.clone();
                    if let Some(s) = args.scale {
                        m.header.scale = s;
                    }
                    match &phones {
                        Some(p) => {
                            let with_phones: Box<dyn AcousticModel> = Box::new(
                                SphinxHybridModel::new(
                                    m.clone(),
                                    p.clone(),
                                    args.phone_weight
                                        .unwrap_or(encore_lyrics::DEFAULT_PHONE_WEIGHT),
                                )
                                .with_nearest_phones(args.nearest_phones),
                            );
                            let mut members = vec![Aligner::new(with_phones, options.clone())];
                            if args.median {
                                members.push(Aligner::new(Box::new(m), options.clone()));
                                members.push(Aligner::new(Box::new(broad_model()), options));
                            }
                            MedianAligner::new(members)
                        }
                        None => MedianAligner::new(vec![Aligner::new(Box::new(m), options)]),
                    }
                }
            };
            let aligned = match (&mut whisper, &heard_audio, &hybrid, &phones) {
                (Some(w), Some(a), Some(h), Some(p)) if *mode == Mode::Refine => {
                    refine_with_whisper(
                        w,
                        h.clone(),
                        p.clone(),
                        options_for_whisper.clone(),
                        a,
                        &features,
                        &input,
                    )
                    .map(|a| a.lyrics)
                    .map_err(Into::into)
                }
                (Some(w), Some(a), _, _) if args.whisper.joins(*mode) => full_with_whisper(
                    w,
                    &aligner,
                    hybrid.clone().zip(refine_phones.clone()),
                    options_for_whisper,
                    a,
                    &features,
                    &input,
                )
                .map(|a| a.lyrics)
                .map_err(Into::into),
                _ => aligner
                    .align_features(&features, &input)
                    .map_err(anyhow::Error::from),
            }
            .with_context(|| format!("aligning {}", song.name))?;
            song_compute += t1.elapsed().as_secs_f64();
            let m = encore_lyrics::evaluate(&onsets(&aligned), &reference)
                .with_context(|| song.name.clone())?;
            let b =
                encore_lyrics::evaluate(&even_baseline(&input, duration, *mode, &lang), &reference)
                    .with_context(|| format!("{} (even baseline)", song.name))?;
            let mode_name = if *mode == Mode::Refine {
                "refine"
            } else {
                "full"
            };
            if args.json {
                crate::output::print_json_line(&serde_json::json!({
                    "song": song.name, "mode": mode_name, "metrics": m, "even_baseline": b,
                }))?;
            } else {
                println!(
                    "{:<34} {:<6} AAE {:6.2} s  median {:5.2} s  <0.3s {:5.1}%  <1s {:5.1}%   (even: AAE {:6.2} s)",
                    song.name,
                    mode_name,
                    m.aae_s,
                    m.median_s,
                    100.0 * m.within_0_3,
                    100.0 * m.within_1_0,
                    b.aae_s
                );
            }
            got.push(m);
            base.push(b);
            bar.inc(1);
        }
        audio_s += duration;
        compute_s += song_compute;
    }
    bar.finish_and_clear();
    for (mode, got, base) in &results {
        let (Some(m), Some(b)) = (encore_lyrics::average(got), encore_lyrics::average(base)) else {
            continue;
        };
        let mode_name = if *mode == Mode::Refine {
            "refine"
        } else {
            "full"
        };
        if args.json {
            crate::output::print_json_line(&serde_json::json!({
                "song": "MEAN", "mode": mode_name, "songs": got.len(), "metrics": m, "even_baseline": b,
            }))?;
        } else {
            println!(
                "{:<34} {:<6} AAE {:6.2} s  median {:5.2} s  <0.3s {:5.1}%  <1s {:5.1}%   (even: AAE {:6.2} s)",
                format!("MEAN over {} songs", got.len()),
                mode_name,
                m.aae_s,
                m.median_s,
                100.0 * m.within_0_3,
                100.0 * m.within_1_0,
                b.aae_s
            );
        }
    }
    let speed = if compute_s > 0.0 {
        audio_s / compute_s
    } else {
        0.0
    };
    if args.json {
        crate::output::print_json_line(
            &serde_json::json!({ "audio_s": audio_s, "compute_s": compute_s, "realtime_factor": speed }),
        )?;
    } else {
        println!(
            "{audio_s:.0} s of audio in {compute_s:.1} s ({speed:.0}x real time, decode included, all modes)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

mod festival;
mod pico;
mod synth;
mod train;
use synth::synth;
pub use train::TrainArgs;

/// Whether `--model` names the untrained broad-class model.
fn is_broad(spec: Option<&Path>) -> bool {
    spec.is_some_and(|p| p.as_os_str() == "broad")
}
