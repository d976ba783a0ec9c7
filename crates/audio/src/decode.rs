//! Decoding any supported file to interleaved `f32` PCM, streamed chunk by chunk.
//!
//! [`Decoder`] wraps Symphonia (plus libopus for Opus) and turns every failure into an
//! [`Error`] that names the format and the reason. Hostile headers and endless streams are cut
//! off by [`Limits`].

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::OnceLock;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{
    CODEC_TYPE_NULL, CODEC_TYPE_PCM_F32LE, CODEC_TYPE_PCM_S16LE, CodecParameters, CodecRegistry,
    DecoderOptions,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions, ReadBytes};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::buffer::AudioBuffer;
use crate::error::{Error, Result};

/// Bounds that protect against malicious or absurd files. Exceeding one is an
/// [`Error::LimitExceeded`], never an allocation failure or a hang.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most channels a stream may declare.
    pub max_channels: usize,
    /// Highest sample rate accepted, in Hz.
    pub max_sample_rate: u32,
    /// Lowest sample rate accepted, in Hz.
    pub min_sample_rate: u32,
    /// Longest decoded duration accepted, in seconds.
    pub max_duration_s: f64,
    /// How many undecodable packets in a row are skipped before the stream counts as corrupt.
    pub max_consecutive_bad_packets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_channels: 32,
            max_sample_rate: 768_000,
            min_sample_rate: 1_000,
            max_duration_s: 6.0 * 3600.0,
            max_consecutive_bad_packets: 64,
        }
    }
}

/// What the decoder learned about a stream before decoding it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AudioInfo {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of interleaved channels in every chunk.
    pub channels: usize,
    /// The container, as sniffed from the first bytes ("ogg", "mp3", "flac", "wav", "mp4", ...).
    pub container: &'static str,
    /// The codec's short name ("vorbis", "mp3", "opus", ...).
    pub codec: String,
    /// Number of frames the header announces, when it announces one.
    pub frames_hint: Option<u64>,
}

impl AudioInfo {
    /// Duration announced by the header, in seconds, when known.
    pub fn duration_hint_s(&self) -> Option<f64> {
        self.frames_hint
            .map(|f| f as f64 / f64::from(self.sample_rate))
    }
}

/// One block of decoded audio.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// Interleaved samples.
    pub samples: &'a [f32],
    /// Channels interleaved in `samples`.
    pub channels: usize,
}

/// A streaming decoder: call [`Decoder::next_chunk`] until it returns `None`.
///
/// ```no_run
/// let mut dec = encore_audio::Decoder::open("song.flac".as_ref())?;
/// let channels = dec.info().channels;
/// let mut frames = 0;
/// while let Some(chunk) = dec.next_chunk()? {
///     frames += chunk.samples.len() / chunk.channels;
/// }
/// # let _ = channels;
/// # Ok::<(), encore_audio::Error>(())
/// ```
pub struct Decoder {
    /// `None` once a [`RawPcm`] reader has taken over the file.
    format: Option<Box<dyn FormatReader>>,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    track_id: u32,
    info: AudioInfo,
    limits: Limits,
    samples: Option<SampleBuffer<f32>>,
    /// Set for the common PCM layouts, which are converted straight from the packet's bytes
    /// into `pcm_samples` (the same values Symphonia's PCM decoder gives, without its planar
    /// buffer and copies).
    pcm: Option<PcmLayout>,
    pcm_samples: Vec<f32>,
    /// Set for PCM WAV files opened from a path: the data chunk is read straight from the file.
    raw: Option<RawPcm>,
    frames_decoded: u64,
    bad_packets_in_a_row: usize,
    good_packets: u64,
    finished: bool,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("info", &self.info)
            .field("frames_decoded", &self.frames_decoded)
            .finish_non_exhaustive()
    }
}

fn codec_registry() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_all::<symphonia_adapter_libopus::OpusDecoder>();
        registry
    })
}

/// Interleaved little-endian PCM that [`Decoder`] converts itself.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PcmLayout {
    /// 16-bit signed integers, scaled by 1/32768 (as Symphonia does).
    S16,
    /// 32-bit floats, as they are.
    F32,
}

impl PcmLayout {
    fn of(params: &CodecParameters, channels: usize) -> Option<Self> {
        if channels == 0 {
            return None;
        }
        let coded = params.bits_per_coded_sample.or(params.bits_per_sample);
        match params.codec {
            CODEC_TYPE_PCM_S16LE if coded == Some(16) => Some(PcmLayout::S16),
            CODEC_TYPE_PCM_F32LE => Some(PcmLayout::F32),
            _ => None,
        }
    }

    fn bytes_per_sample(self) -> usize {
        match self {
            PcmLayout::S16 => 2,
            PcmLayout::F32 => 4,
        }
    }

    crate::simd::avx2_method!(
        /// Replaces `out` with the whole frames in `bytes`; returns the number of frames.
        fn convert / convert_avx2 => convert_impl(
            &self, bytes: &[u8], channels: usize, out: &mut Vec<f32>
        ) -> usize
    );

    #[inline(always)]
    fn convert_impl(&self, bytes: &[u8], channels: usize, out: &mut Vec<f32>) -> usize {
        let width = self.bytes_per_sample();
        let frames = bytes.len() / (width * channels);
        let bytes = &bytes[..frames * channels * width];
        out.clear();
        match self {
            PcmLayout::S16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0),
            ),
            PcmLayout::F32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
        }
        frames
    }
}

/// The data chunk of a PCM WAV file, read from the file in blocks of [`RAW_CHUNK_FRAMES`]
/// frames: one copy from the kernel instead of Symphonia's buffer, packets of 1 152 frames and
/// their copies.
struct RawPcm {
    file: File,
    /// Bytes of the data chunk not read yet.
    remaining: u64,
    bytes: Vec<u8>,
}

/// Frames per chunk of [`RawPcm`] (32 kB of 16-bit stereo).
const RAW_CHUNK_FRAMES: usize = 8192;

impl RawPcm {
    /// Reads the next block of whole frames (`frame_bytes` each) into `bytes`; returns its
    /// length in bytes, short only at the end of the file.
    fn read(&mut self, frame_bytes: usize) -> std::io::Result<usize> {
        let want = ((RAW_CHUNK_FRAMES * frame_bytes) as u64).min(self.remaining) as usize;
        self.bytes.resize(want, 0);
        let mut got = 0;
        while got < want {
            match self.file.read(&mut self.bytes[got..want]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.remaining = if got < want {
            0
        } else {
            self.remaining - got as u64
        };
        Ok(got)
    }
}

/// Names the container from its magic bytes, for error messages and [`AudioInfo`].
fn sniff_container(head: &[u8]) -> &'static str {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"OggS") {
        if head.windows(8).any(|w| w == b"OpusHead") {
            "ogg/opus"
        } else if head.windows(6).any(|w| w == b"vorbis") {
            "ogg/vorbis"
        } else {
            "ogg"
        }
    } else if starts(b"fLaC") {
        "flac"
    } else if starts(b"RIFF") && head.get(8..12) == Some(b"WAVE") {
        "wav"
    } else if starts(b"FORM") {
        "aiff"
    } else if starts(b"caff") {
        "caf"
    } else if head.get(4..8) == Some(b"ftyp") {
        "mp4"
    } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        "matroska"
    } else if starts(b"ID3") || (head.len() > 1 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        if head.len() > 1 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0 {
            "adts"
        } else {
            "mp3"
        }
    } else if starts(b"\x89PNG") {
        "png image"
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        "jpeg image"
    } else if starts(b"%PDF") {
        "pdf document"
    } else if starts(b"PK\x03\x04") {
        "zip archive"
    } else if starts(b"\x7FELF") {
        "executable"
    } else if starts(b"{") || starts(b"<") || head.iter().all(|b| b.is_ascii()) && !head.is_empty()
    {
        "text"
    } else {
        "unknown"
    }
}

impl Decoder {
    /// Opens a file. The extension, when present, is a hint; the content decides.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_limits(path, Limits::default())
    }

    /// Opens a file with explicit [`Limits`].
    pub fn open_with_limits(path: &Path, limits: Limits) -> Result<Self> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            return Err(Error::Empty);
        }
        let mut head = [0u8; 64];
        let n = read_up_to(&mut file, &mut head)?;
        let container = sniff_container(&head[..n]);
        check_wav_header(&head[..n], &limits)?;
        if container == "mp4" {
            check_mp4_tables(&mut file, len)?;
        }
        // One handle for sniffing, checks and decoding: rewind it for the decoder.
        file.seek(SeekFrom::Start(0))?;
        let ext = path.extension().and_then(|e| e.to_str());
        // A second handle for reading PCM WAV data directly (`RawPcm`).
        let raw = if container == "wav" {
            file.try_clone().ok()
        } else {
            None
        };
        let stream = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
        let mut decoder = Self::from_stream(stream, ext, container, limits)?;
        if let Some(raw) = raw {
            decoder.read_pcm_directly(raw)?;
        }
        Ok(decoder)
    }

    /// Decodes from bytes in memory. `ext_hint` is an optional file extension ("mp3").
    pub fn from_bytes(bytes: Vec<u8>, ext_hint: Option<&str>) -> Result<Self> {
        Self::from_bytes_with_limits(bytes, ext_hint, Limits::default())
    }

    /// Decodes from bytes in memory with explicit [`Limits`].
    pub fn from_bytes_with_limits(
        bytes: Vec<u8>,
        ext_hint: Option<&str>,
        limits: Limits,
    ) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::Empty);
        }
        let container = sniff_container(&bytes[..bytes.len().min(64)]);
        check_wav_header(&bytes[..bytes.len().min(64)], &limits)?;
        if container == "mp4" {
            check_mp4_tables(&mut Cursor::new(&bytes[..]), bytes.len() as u64)?;
        }
        let stream = MediaSourceStream::new(
            Box::new(Cursor::new(bytes)),
            MediaSourceStreamOptions::default(),
        );
        Self::from_stream(stream, ext_hint, container, limits)
    }

    fn from_stream(
        stream: MediaSourceStream,
        ext: Option<&str>,
        container: &'static str,
        limits: Limits,
    ) -> Result<Self> {
        let mut hint = Hint::new();
        if let Some(ext) = ext {
            hint.with_extension(ext);
        }
        let format_opts = FormatOptions {
            enable_gapless: true,
            ..Default::default()
        };
        let probed = guard(container, || {
            symphonia::default::get_probe().format(
                &hint,
                stream,
                &format_opts,
                &MetadataOptions::default(),
            )
        })?
        .map_err(|e| match e {
            SymError::Unsupported(_) | SymError::IoError(_) => {
                Error::UnrecognisedFormat(match container {
                    "unknown" => "no known audio container or codec signature".to_string(),
                    c if c.ends_with("image")
                        || c.ends_with("document")
                        || c.ends_with("archive")
                        || c == "executable"
                        || c == "text" =>
                    {
                        format!("the content looks like a {c}, not audio")
                    }
                    c => format!("looks like {c} but its header could not be parsed"),
                })
            }
            other => symphonia_error(container, other),
        })?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or(Error::NoAudio)?;
        let params = track.codec_params.clone();
        let track_id = track.id;
        let codec_name = symphonia::default::get_codecs()
            .get_codec(params.codec)
            .or_else(|| codec_registry().get_codec(params.codec))
            .map(|d| d.short_name.to_string())
            .unwrap_or_else(|| format!("{}", params.codec));

        let sample_rate = params.sample_rate.ok_or_else(|| Error::Corrupt {
            format: container.to_string(),
            reason: "the stream does not declare a sample rate".into(),
        })?;
        if sample_rate < limits.min_sample_rate || sample_rate > limits.max_sample_rate {
            return Err(Error::LimitExceeded(format!(
                "sample rate {sample_rate} Hz is outside {}..={} Hz",
                limits.min_sample_rate, limits.max_sample_rate
            )));
        }
        let channels = params.channels.map(|c| c.count()).unwrap_or(0);
        if channels > limits.max_channels {
            return Err(Error::LimitExceeded(format!(
                "{channels} channels (at most {} accepted)",
                limits.max_channels
            )));
        }
        let decoder = guard(container, || {
            codec_registry().make(&params, &DecoderOptions::default())
        })?
        .map_err(|e| match e {
            SymError::Unsupported(_) => Error::UnsupportedCodec {
                container: container.to_string(),
                codec: codec_name.clone(),
            },
            other => symphonia_error(container, other),
        })?;

        let pcm = PcmLayout::of(&params, channels);
        let info = AudioInfo {
            sample_rate,
            channels,
            container,
            codec: codec_name,
            frames_hint: params.n_frames,
        };
        Ok(Decoder {
            format: Some(format),
            decoder,
            track_id,
            info,
            limits,
            samples: None,
            pcm,
            pcm_samples: Vec::new(),
            raw: None,
            frames_decoded: 0,
            bad_packets_in_a_row: 0,
            good_packets: 0,
            finished: false,
        })
    }

    /// For WAV data in a layout [`PcmLayout`] converts, reads the data chunk from `file` (a
    /// second handle on the same file) from here on, instead of through Symphonia. Symphonia
    /// has parsed the header: its stream stands at the start of the data chunk, whose length
    /// gives the frame count.
    fn read_pcm_directly(&mut self, mut file: File) -> Result<()> {
        let (Some(layout), Some(frames), Some(format)) =
            (self.pcm, self.info.frames_hint, self.format.as_ref())
        else {
            return Ok(());
        };
        if format.tracks().len() != 1 || self.frames_decoded > 0 {
            return Ok(());
        }
        let frame_bytes = (layout.bytes_per_sample() * self.info.channels) as u64;
        let Some(format) = self.format.take() else {
            return Ok(());
        };
        let start = format.into_inner().pos();
        file.seek(SeekFrom::Start(start))?;
        self.raw = Some(RawPcm {
            file,
            remaining: frames.saturating_mul(frame_bytes),
            bytes: Vec::new(),
        });
        Ok(())
    }

    /// What is known about the stream. `channels` may be corrected by the first decoded chunk
    /// when the header did not declare it.
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// Frames (samples per channel) decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.frames_decoded
    }

    /// The next chunk of interleaved samples, or `None` at the end of the stream.
    ///
    /// Undecodable packets are skipped (up to [`Limits::max_consecutive_bad_packets`] in a row);
    /// a stream that yields no audio at all is [`Error::NoAudio`].
    pub fn next_chunk(&mut self) -> Result<Option<Chunk<'_>>> {
        if self.finished {
            return Ok(None);
        }
        let container = self.info.container;
        if let (Some(raw), Some(layout)) = (self.raw.as_mut(), self.pcm) {
            let channels = self.info.channels;
            let len = raw.read(layout.bytes_per_sample() * channels)?;
            let frames = layout.convert(&raw.bytes[..len], channels, &mut self.pcm_samples);
            if frames == 0 {
                return self.finish();
            }
            self.count_frames(frames)?;
            return Ok(Some(Chunk {
                samples: &self.pcm_samples,
                channels,
            }));
        }
        if self.format.is_none() {
            return self.finish();
        }
        loop {
            let next = guard(container, || {
                self.format
                    .as_mut()
                    .map(|f| f.next_packet())
                    .unwrap_or_else(|| Err(SymError::ResetRequired))
            })?;
            let packet = match next {
                Ok(packet) => packet,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return self.finish();
                }
                Err(SymError::ResetRequired) => return self.finish(),
                Err(SymError::DecodeError(reason)) => {
                    // A damaged page or frame header: skip it like the decoder errors below.
                    self.note_bad_packet(reason)?;
                    continue;
                }
                Err(e) => {
                    if self.good_packets > 0 {
                        // Truncated or damaged tail after real audio: keep what was decoded.
                        tracing::debug!(error = %e, "stopping at a damaged tail");
                        return self.finish();
                    }
                    return Err(symphonia_error(container, e));
                }
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            if let Some(layout) = self.pcm {
                let channels = self.info.channels;
                let frames = layout.convert(packet.buf(), channels, &mut self.pcm_samples);
                self.bad_packets_in_a_row = 0;
                if frames == 0 {
                    continue;
                }
                self.count_frames(frames)?;
                return Ok(Some(Chunk {
                    samples: &self.pcm_samples,
                    channels,
                }));
            }
            let decoded = guard(container, || {
                self.decoder.decode(&packet).map(|buf| {
                    let spec = *buf.spec();
                    let frames = buf.frames();
                    (spec, frames, {
                        let needed = buf.capacity();
                        let samples = match &mut self.samples {
                            Some(sb) if sb.capacity() >= needed * spec.channels.count() => sb,
                            slot => slot.insert(SampleBuffer::new(needed as u64, spec)),
                        };
                        samples.copy_interleaved_ref(buf);
                    })
                })
            })?;
            match decoded {
                Ok((spec, frames, ())) => {
                    self.bad_packets_in_a_row = 0;
                    if frames == 0 {
                        continue;
                    }
                    let channels = spec.channels.count();
                    if self.good_packets == 0 && self.info.channels == 0 {
                        self.info.channels = channels;
                    }
                    if channels != self.info.channels || spec.rate != self.info.sample_rate {
                        return Err(Error::Corrupt {
                            format: container.to_string(),
                            reason: format!(
                                "the stream changes from {} ch at {} Hz to {channels} ch at {} Hz",
                                self.info.channels, self.info.sample_rate, spec.rate
                            ),
                        });
                    }
                    if channels == 0 || channels > self.limits.max_channels {
                        return Err(Error::LimitExceeded(format!("{channels} channels")));
                    }
                    self.count_frames(frames)?;
                    let samples = self.samples.as_ref().map(|s| s.samples()).unwrap_or(&[]);
                    let n = (frames * channels).min(samples.len());
                    return Ok(Some(Chunk {
                        samples: &samples[..n],
                        channels,
                    }));
                }
                Err(SymError::DecodeError(reason)) => self.note_bad_packet(reason)?,
                Err(SymError::IoError(_)) => return self.finish(),
                Err(e) => return Err(symphonia_error(container, e)),
            }
        }
    }

    /// Counts a good packet of `frames` frames, enforcing the duration limit.
    fn count_frames(&mut self, frames: usize) -> Result<()> {
        self.good_packets += 1;
        self.frames_decoded += frames as u64;
        let max_frames = self.limits.max_duration_s * f64::from(self.info.sample_rate);
        if self.frames_decoded as f64 > max_frames {
            return Err(Error::LimitExceeded(format!(
                "decoded audio is longer than {} s",
                self.limits.max_duration_s
            )));
        }
        Ok(())
    }

    fn note_bad_packet(&mut self, reason: &str) -> Result<()> {
        self.bad_packets_in_a_row += 1;
        tracing::debug!(reason, "skipping an undecodable packet");
        if self.bad_packets_in_a_row > self.limits.max_consecutive_bad_packets {
            return Err(Error::Corrupt {
                format: self.info.container.to_string(),
                reason: format!(
                    "{} undecodable packets in a row (last: {reason})",
                    self.bad_packets_in_a_row
                ),
            });
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Option<Chunk<'_>>> {
        self.finished = true;
        if self.good_packets == 0 {
            return Err(Error::NoAudio);
        }
        Ok(None)
    }

    /// Decodes the rest of the stream into one buffer.
    pub fn decode_all(mut self) -> Result<AudioBuffer> {
        let mut samples = Vec::new();
        if let Some(frames) = self.info.frames_hint {
            // Trust the header only within the duration limit.
            let cap =
                (frames as f64).min(self.limits.max_duration_s * f64::from(self.info.sample_rate));
            samples.reserve(
                (cap as usize)
                    .saturating_mul(self.info.channels.max(1))
                    .min(1 << 28),
            );
        }
        while let Some(chunk) = self.next_chunk()? {
            samples.extend_from_slice(chunk.samples);
        }
        Ok(AudioBuffer::new(
            self.info.sample_rate,
            self.info.channels,
            samples,
        ))
    }
}

/// Decodes a whole file into memory. For long files prefer streaming with [`Decoder`].
pub fn decode_file(path: &Path) -> Result<AudioBuffer> {
    Decoder::open(path)?.decode_all()
}

/// Decodes a whole in-memory file. `ext_hint` is an optional file extension.
pub fn decode_bytes(bytes: Vec<u8>, ext_hint: Option<&str>) -> Result<AudioBuffer> {
    Decoder::from_bytes(bytes, ext_hint)?.decode_all()
}

/// Rejects WAV headers whose sample rate Symphonia cannot represent (0 Hz makes its WAV reader
/// panic) before handing the stream over. Only the usual layout (`fmt ` right after the RIFF
/// header) is checked; anything else goes to Symphonia, whose panics are caught anyway.
fn check_wav_header(head: &[u8], limits: &Limits) -> Result<()> {
    if !(head.starts_with(b"RIFF") && head.get(8..16) == Some(b"WAVEfmt ")) {
        return Ok(());
    }
    let (Some(ch), Some(rate)) = (head.get(22..24), head.get(24..28)) else {
        return Ok(());
    };
    let channels = u16::from_le_bytes([ch[0], ch[1]]);
    let rate = u32::from_le_bytes([rate[0], rate[1], rate[2], rate[3]]);
    if rate < limits.min_sample_rate || rate > limits.max_sample_rate {
        return Err(Error::LimitExceeded(format!(
            "the WAV header declares a sample rate of {rate} Hz (accepted: {}..={} Hz)",
            limits.min_sample_rate, limits.max_sample_rate
        )));
    }
    if usize::from(channels) > limits.max_channels {
        return Err(Error::LimitExceeded(format!(
            "the WAV header declares {channels} channels (at most {} accepted)",
            limits.max_channels
        )));
    }
    Ok(())
}

/// Largest `moov` box read for the check below.
const MAX_MOOV_BYTES: u64 = 64 << 20;

/// Symphonia's MP4 reader allocates sample tables from their declared entry counts before
/// reading them; a hostile count makes it request tens of GB and the process aborts (found by
/// fuzzing). This walks the `moov` box and rejects any table whose count cannot fit in its box.
fn check_mp4_tables<R: Read + Seek>(reader: &mut R, len: u64) -> Result<()> {
    let mut pos = 0u64;
    while pos + 8 <= len {
        reader.seek(SeekFrom::Start(pos))?;
        let mut hdr = [0u8; 16];
        let n = read_up_to(reader, &mut hdr)?;
        if n < 8 {
            break;
        }
        let mut size = u64::from(u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]));
        let mut header = 8u64;
        if size == 1 && n >= 16 {
            size = u64::from_be_bytes([
                hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15],
            ]);
            header = 16;
        } else if size == 0 {
            size = len - pos;
        }
        if size < header {
            break;
        }
        if &hdr[4..8] == b"moov" {
            let body = size - header;
            if body > MAX_MOOV_BYTES {
                return Err(Error::LimitExceeded(format!(
                    "the MP4 moov box is {body} bytes (at most {MAX_MOOV_BYTES} accepted)"
                )));
            }
            let mut moov = vec![0u8; body.min(len - pos - header) as usize];
            reader.seek(SeekFrom::Start(pos + header))?;
            let got = read_up_to(reader, &mut moov)?;
            moov.truncate(got);
            return check_mp4_boxes(&moov, 0);
        }
        pos = pos.saturating_add(size);
    }
    Ok(())
}

fn check_mp4_boxes(data: &[u8], depth: usize) -> Result<()> {
    if depth > 16 {
        return Ok(());
    }
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let size =
            u32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        let kind = &data[pos + 4..pos + 8];
        let end = if size < 8 {
            data.len()
        } else {
            pos.saturating_add(size).min(data.len())
        };
        let body = &data[pos + 8..end];
        match kind {
            b"trak" | b"mdia" | b"minf" | b"stbl" | b"edts" | b"mvex" | b"moof" | b"traf" => {
                check_mp4_boxes(body, depth + 1)?
            }
            _ => {
                // Full boxes: version/flags (4 bytes), then a 32-bit entry count.
                let entry = match kind {
                    b"stsc" => 12,
                    b"stts" | b"ctts" => 8,
                    b"stco" | b"stss" => 4,
                    b"co64" => 8,
                    b"elst" => 12,
                    b"stsd" => 8,
                    _ => 0,
                };
                if entry > 0 && body.len() >= 8 {
                    let count = u32::from_be_bytes([body[4], body[5], body[6], body[7]]) as u64;
                    if count * entry > body.len() as u64 {
                        return Err(Error::Corrupt {
                            format: "mp4".into(),
                            reason: format!(
                                "the {} table declares {count} entries but its box holds {} bytes",
                                String::from_utf8_lossy(kind),
                                body.len()
                            ),
                        });
                    }
                }
                if kind == b"stsz" && body.len() >= 12 {
                    let fixed = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                    let count = u32::from_be_bytes([body[8], body[9], body[10], body[11]]) as u64;
                    if fixed == 0 && count * 4 > body.len() as u64 {
                        return Err(Error::Corrupt {
                            format: "mp4".into(),
                            reason: format!(
                                "the stsz table declares {count} sizes but its box holds {} bytes",
                                body.len()
                            ),
                        });
                    }
                }
            }
        }
        if end <= pos {
            break;
        }
        pos = end;
    }
    Ok(())
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn symphonia_error(container: &str, err: SymError) -> Error {
    match err {
        SymError::IoError(e) => Error::Io(e),
        SymError::LimitError(what) => Error::LimitExceeded(what.to_string()),
        SymError::Unsupported(what) => Error::UnsupportedCodec {
            container: container.to_string(),
            codec: what.to_string(),
        },
        other => Error::Corrupt {
            format: container.to_string(),
            reason: other.to_string(),
        },
    }
}

/// Runs third-party decoding code so that a panic inside it becomes a [`Error::Corrupt`]
/// instead of taking the process down.
fn guard<T>(container: &str, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "decoder panicked".into());
        Error::Corrupt {
            format: container.to_string(),
            reason: format!("decoder failure: {reason}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_containers() {
        let cases: &[(&[u8], &str)] = &[
            (b"OggS\0\x02........OpusHead", "ogg/opus"),
            (b"fLaC\0\0\0\x22", "flac"),
            (b"RIFF\x24\0\0\0WAVEfmt ", "wav"),
            (b"\0\0\0\x20ftypM4A ", "mp4"),
            (b"ID3\x04\0\0", "mp3"),
            (b"\x89PNG\r\n", "png image"),
            (b"hello world", "text"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sniff_container(bytes), *expected, "{bytes:?}");
        }
    }

    #[test]
    fn empty_and_garbage_inputs_are_clear_errors() {
        assert!(matches!(decode_bytes(vec![], None), Err(Error::Empty)));
        let err = decode_bytes(b"just some text, not audio at all".to_vec(), None).unwrap_err();
        assert!(err.to_string().contains("text"), "{err}");
        let err = decode_bytes(vec![0x13; 5000], None).unwrap_err();
        assert!(matches!(err, Error::UnrecognisedFormat(_)), "{err}");
    }

    /// A WAV file: `fmt ` (PCM 16-bit or float 32-bit), a LIST chunk and a chunk of odd length
    /// before the data, `data_len` announced for `data`, then a trailing chunk.
    fn wav_with_chunks(float: bool, channels: u16, data: &[u8], data_len: u32) -> Vec<u8> {
        let (format, bits) = if float { (3u16, 32u16) } else { (1, 16) };
        let rate = 44_100u32;
        let align = channels * bits / 8;
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&format.to_le_bytes());
        fmt.extend_from_slice(&channels.to_le_bytes());
        fmt.extend_from_slice(&rate.to_le_bytes());
        fmt.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        fmt.extend_from_slice(&align.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        let mut body = b"WAVE".to_vec();
        let mut chunk = |id: &[u8], len: u32, bytes: &[u8]| {
            body.extend_from_slice(id);
            body.extend_from_slice(&len.to_le_bytes());
            body.extend_from_slice(bytes);
            if bytes.len() % 2 == 1 {
                body.push(0);
            }
        };
        chunk(b"fmt ", 16, &fmt);
        chunk(b"LIST", 14, b"INFOISFT\x02\0\0\0x\0");
        chunk(b"abcd", 3, b"odd");
        chunk(b"data", data_len, data);
        chunk(b"junk", 4, b"\x7f\x7f\x7f\x7f");
        let mut out = b"RIFF".to_vec();
        // The RIFF length counts the data as announced.
        let missing = data_len as usize - data.len();
        out.extend_from_slice(&((body.len() + missing) as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn wav_read_directly_equals_symphonia() {
        let dir = tempfile::tempdir().unwrap();
        let samples: Vec<i16> = (0..3 * 20_011)
            .map(|i| ((i * 7919) % 65_536 - 32_768) as i16)
            .collect();
        let s16: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f32s: Vec<u8> = samples
            .iter()
            .flat_map(|&v| (f32::from(v) / 40_000.0).to_le_bytes())
            .collect();
        let cases = [
            (false, 3u16, &s16[..], s16.len()),
            (false, 2, &s16[..s16.len() - 4], s16.len() - 5),
            (true, 1, &f32s[..], f32s.len()),
            (true, 3, &f32s[..], f32s.len() - 3),
        ];
        for (k, (float, channels, data, len)) in cases.into_iter().enumerate() {
            let bytes = wav_with_chunks(float, channels, &data[..len], len as u32);
            let path = dir.path().join(format!("{k}.wav"));
            std::fs::write(&path, &bytes).unwrap();
            let mut direct = Decoder::open(&path).unwrap();
            assert!(direct.raw.is_some(), "case {k}");
            let mut got = Vec::new();
            while let Some(c) = direct.next_chunk().unwrap() {
                got.extend_from_slice(c.samples);
            }
            let want = decode_bytes(bytes, Some("wav")).unwrap();
            assert_eq!(direct.frames_decoded(), want.frames() as u64, "case {k}");
            assert_eq!(got, want.samples, "case {k}");
        }
        // A data chunk that announces more than the file holds: the frames that are there.
        let bytes = wav_with_chunks(false, 2, &s16[..4000], 8000);
        let path = dir.path().join("short.wav");
        std::fs::write(&path, &bytes[..bytes.len() - 12]).unwrap();
        let mut direct = Decoder::open(&path).unwrap();
        let mut n = 0;
        while let Some(c) = direct.next_chunk().unwrap() {
            n += c.samples.len();
        }
        assert_eq!(n, 2000);
    }
}
