//! Readers for a CMU Sphinx PTM acoustic model directory (`feat.params`, `mdef`, `means`,
//! `variances`, `sendump`) and the scorer of its context-independent senones.
//!
//! Formats (facts from the sphinxbase / pocketsphinx documentation and sources):
//!
//! - `means`, `variances`: text header `s3\n`, `name value` lines, `endhdr\n`; byte-order magic
//!   `0x11223344` (`u32`); `n_codebooks`, `n_streams`, `n_densities`, one vector length per
//!   stream, the float count (all `i32`); the `f32` data, codebook-major; a `u32` checksum when
//!   the header says `chksum0`.
//! - `mdef` (binary, magic `BMDF`): version, length of a format description and the description,
//!   ten `i32` counts (CI phones, phones, emitting states, CI senones, senones, transition
//!   matrices, senone sequences, context size, CD-tree nodes, silence id), the CI phone names
//!   (NUL-terminated, padded to 4 bytes), the CD tree (8 bytes a node), the phones
//!   (`ssid: i32, tmat: i32, attr: [i8; 4]`), the senone-sequence length (`i32`) and the
//!   sequences (`u16`).
//! - `sendump`: length-prefixed strings (`i32` length including the NUL) ending with a zero
//!   length; without `cluster_count` (or with 0), `rows` (densities) and `cols` (senones) as `i32`;
//!   then per stream and density one byte per senone: `-log` of the mixture weight in units of
//!   `1024 x ln(1.0001)`.

use std::path::Path;

/// Why a Sphinx model file was refused. Every reader is a parser of outside input: malformed or
/// truncated files give one of these, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum SphinxFileError {
    /// A file could not be read.
    #[error("{file}: {message}")]
    Io {
        /// The file name within the model directory.
        file: &'static str,
        /// The operating system's message.
        message: String,
    },
    /// The file does not start with the expected magic.
    #[error("{file}: bad magic (not a Sphinx {file} file)")]
    BadMagic {
        /// The file name within the model directory.
        file: &'static str,
    },
    /// The file ends early.
    #[error("{file}: truncated while reading {what}")]
    Truncated {
        /// The file name within the model directory.
        file: &'static str,
        /// What was being read.
        what: &'static str,
    },
    /// The stored checksum does not match the data (corruption).
    #[error("{file}: checksum mismatch (corrupt file)")]
    Checksum {
        /// The file name within the model directory.
        file: &'static str,
    },
    /// A count exceeds what this reader accepts (protection against hostile files).
    #[error("{file}: {what} is {got}, the limit is {limit}")]
    Limit {
        /// The file name within the model directory.
        file: &'static str,
        /// What was counted.
        what: &'static str,
        /// The value found.
        got: i64,
        /// The limit.
        limit: i64,
    },
    /// The file is well formed but inconsistent or not supported.
    #[error("{file}: {message}")]
    Invalid {
        /// The file name within the model directory.
        file: &'static str,
        /// What is wrong.
        message: String,
    },
}

type Res<T> = std::result::Result<T, SphinxFileError>;

fn invalid(file: &'static str, message: impl Into<String>) -> SphinxFileError {
    SphinxFileError::Invalid {
        file,
        message: message.into(),
    }
}

/// Largest counts accepted (the Debian en-us model has 42 codebooks of 128 densities, 5126
/// senones and 137 095 phones).
const MAX_CODEBOOKS: i64 = 256;
const MAX_STREAMS: i64 = 4;
const MAX_DENSITIES: i64 = 1024;
const MAX_VECLEN: i64 = 128;
const MAX_SENONES: i64 = 200_000;
const MAX_PHONES: i64 = 2_000_000;
const MAX_CI_PHONES: i64 = 256;
const MAX_STATES: i64 = 8;
const MAX_HEADER_STRING: i64 = 65_536;

/// A little-endian (or byte-swapped) cursor over a file's bytes.
struct Cursor<'a> {
    file: &'static str,
    buf: &'a [u8],
    pos: usize,
    swap: bool,
}

impl<'a> Cursor<'a> {
    fn new(file: &'static str, buf: &'a [u8]) -> Self {
        Self {
            file,
            buf,
            pos: 0,
            swap: false,
        }
    }
    fn take(&mut self, n: usize, what: &'static str) -> Res<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(SphinxFileError::Truncated {
                file: self.file,
                what,
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self, what: &'static str) -> Res<u32> {
        let b = self.take(4, what)?;
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        Ok(if self.swap { v.swap_bytes() } else { v })
    }
    fn i32(&mut self, what: &'static str) -> Res<i32> {
        Ok(self.u32(what)? as i32)
    }
    fn u16(&mut self, what: &'static str) -> Res<u16> {
        let b = self.take(2, what)?;
        let v = u16::from_le_bytes([b[0], b[1]]);
        Ok(if self.swap { v.swap_bytes() } else { v })
    }
    /// An `i32` count in `0..=limit`.
    fn count(&mut self, what: &'static str, limit: i64) -> Res<usize> {
        let v = i64::from(self.i32(what)?);
        if v < 0 {
            return Err(invalid(self.file, format!("{what} is negative ({v})")));
        }
        if v > limit {
            return Err(SphinxFileError::Limit {
                file: self.file,
                what,
                got: v,
                limit,
            });
        }
        Ok(v as usize)
    }
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// The Sphinx-3 checksum: every 32-bit word rotated into the running sum.
fn checksum_add(sum: u32, word: u32) -> u32 {
    sum.rotate_left(20).wrapping_add(word)
}

/// A Sphinx-3 binary file (`s3` header, byte-order magic): returns whether a checksum follows
/// the data, with the cursor after the magic.
fn s3_header(c: &mut Cursor<'_>) -> Res<bool> {
    let first = c.take(3, "the s3 header")?;
    if first != b"s3\n" {
        return Err(SphinxFileError::BadMagic { file: c.file });
    }
    let mut chksum = false;
    loop {
        let rest = &c.buf[c.pos..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Err(SphinxFileError::Truncated {
                file: c.file,
                what: "the header lines",
            });
        };
        if nl > 4096 {
            return Err(invalid(c.file, "header line longer than 4096 bytes"));
        }
        let line = String::from_utf8_lossy(&rest[..nl]).trim().to_string();
        c.pos += nl + 1;
        if line == "endhdr" {
            break;
        }
        if line.split_whitespace().next() == Some("chksum0") {
            chksum = true;
        }
    }
    let magic = c.u32("the byte-order magic")?;
    if magic == 0x4433_2211 {
        c.swap = true;
    } else if magic != 0x1122_3344 {
        return Err(invalid(
            c.file,
            format!("bad byte-order magic {magic:#010x}"),
        ));
    }
    Ok(chksum)
}

/// Gaussian codebooks: `codebooks x streams x densities`, each a vector of the stream's length.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Gaussians {
    pub n_codebooks: usize,
    pub n_densities: usize,
    pub veclen: Vec<usize>,
    /// All floats in file order: codebook, stream, density, dimension.
    pub data: Vec<f32>,
}

impl Gaussians {
    /// Reads `means` or `variances`.
    pub fn from_bytes(file: &'static str, bytes: &[u8]) -> Res<Self> {
        let mut c = Cursor::new(file, bytes);
        let has_sum = s3_header(&mut c)?;
        let mut sum = 0u32;
        let word = |c: &mut Cursor<'_>, what: &'static str, sum: &mut u32| -> Res<u32> {
            let v = c.u32(what)?;
            *sum = checksum_add(*sum, v);
            Ok(v)
        };
        let count = |c: &mut Cursor<'_>, what, limit: i64, sum: &mut u32| -> Res<usize> {
            let v = i64::from(word(c, what, sum)? as i32);
            if v <= 0 {
                return Err(invalid(file, format!("{what} is {v}")));
            }
            if v > limit {
                return Err(SphinxFileError::Limit {
                    file,
                    what,
                    got: v,
                    limit,
                });
            }
            Ok(v as usize)
        };
        let n_codebooks = count(&mut c, "codebooks", MAX_CODEBOOKS, &mut sum)?;
        let n_streams = count(&mut c, "streams", MAX_STREAMS, &mut sum)?;
        let n_densities = count(&mut c, "densities", MAX_DENSITIES, &mut sum)?;
        let mut veclen = Vec::with_capacity(n_streams);
        for _ in 0..n_streams {
            veclen.push(count(&mut c, "vector length", MAX_VECLEN, &mut sum)?);
        }
        let n = count(&mut c, "float count", i64::from(i32::MAX), &mut sum)?;
        let want = n_codebooks * n_densities * veclen.iter().sum::<usize>();
        if n != want {
            return Err(invalid(
                file,
                format!("float count {n} does not match the dimensions ({want})"),
            ));
        }
        if c.remaining() < n * 4 {
            return Err(SphinxFileError::Truncated {
                file,
                what: "the data",
            });
        }
        let mut data = Vec::with_capacity(n);
        for _ in 0..n {
            let v = word(&mut c, "the data", &mut sum)?;
            let x = f32::from_bits(v);
            if !x.is_finite() {
                return Err(invalid(file, "a value is not finite"));
            }
            data.push(x);
        }
        if has_sum {
            let stored = c.u32("the checksum")?;
            if stored != sum {
                return Err(SphinxFileError::Checksum { file });
            }
        }
        if c.remaining() != 0 {
            return Err(invalid(file, "trailing bytes after the data"));
        }
        Ok(Self {
            n_codebooks,
            n_densities,
            veclen,
            data,
        })
    }
}

/// The model definition, as far as context-independent scoring needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mdef {
    /// CI phone names, in id order (sorted, as Sphinx requires).
    pub ci_phones: Vec<String>,
    /// Number of senones (CI and CD).
    pub n_senones: usize,
    /// Number of CI senones (the first ones).
    pub n_ci_senones: usize,
    /// For each CI phone, its emitting states' senones.
    pub ci_senones: Vec<Vec<usize>>,
    /// For each CI phone, whether it is a filler (silence, noise).
    pub filler: Vec<bool>,
}

impl Mdef {
    /// Reads a binary `mdef`.
    pub fn from_bytes(bytes: &[u8]) -> Res<Self> {
        const FILE: &str = "mdef";
        let mut c = Cursor::new(FILE, bytes);
        let magic = c.take(4, "the magic")?;
        match magic {
            b"BMDF" => {}
            b"FDMB" => c.swap = true,
            _ => return Err(SphinxFileError::BadMagic { file: FILE }),
        }
        let version = c.i32("the version")?;
        if version != 1 {
            return Err(invalid(
                FILE,
                format!("format version {version} (this reads 1)"),
            ));
        }
        let desc = c.count("the description length", MAX_HEADER_STRING)?;
        c.take(desc, "the description")?;
        let n_ci = c.count("CI phones", MAX_CI_PHONES)?;
        let n_phone = c.count("phones", MAX_PHONES)?;
        let n_emit = c.count("emitting states", MAX_STATES)?;
        let n_ci_sen = c.count("CI senones", MAX_SENONES)?;
        let n_sen = c.count("senones", MAX_SENONES)?;
        let _n_tmat = c.count("transition matrices", MAX_PHONES)?;
        let n_sseq = c.count("senone sequences", MAX_PHONES)?;
        let _n_ctx = c.count("context size", 16)?;
        let n_cd_tree = c.count("CD-tree nodes", MAX_PHONES)?;
        let _sil = c.i32("the silence id")?;
        if n_emit == 0 {
            return Err(invalid(FILE, "heterogeneous topologies are not supported"));
        }
        if n_ci == 0 || n_phone < n_ci || n_ci_sen > n_sen || n_ci_sen < n_ci * n_emit {
            return Err(invalid(FILE, "inconsistent counts"));
        }
        let names_start = c.pos;
        let mut ci_phones = Vec::with_capacity(n_ci);
        for _ in 0..n_ci {
            let rest = &c.buf[c.pos..];
            let Some(nul) = rest.iter().position(|&b| b == 0) else {
                return Err(SphinxFileError::Truncated {
                    file: FILE,
                    what: "the CI phone names",
                });
            };
            let name = std::str::from_utf8(&rest[..nul])
                .map_err(|_| invalid(FILE, "a CI phone name is not UTF-8"))?;
            if name.is_empty() || name.len() > 32 {
                return Err(invalid(FILE, "a CI phone name is empty or too long"));
            }
            ci_phones.push(name.to_string());
            c.pos += nul + 1;
        }
        let pad = (4 - (c.pos - names_start) % 4) % 4;
        c.take(pad, "the padding")?;
        c.take(
            n_cd_tree.checked_mul(8).ok_or(SphinxFileError::Truncated {
                file: FILE,
                what: "the CD tree",
            })?,
            "the CD tree",
        )?;
        let mut ssid = Vec::with_capacity(n_ci);
        let mut filler = Vec::with_capacity(n_ci);
        for _ in 0..n_ci {
            let s = c.count("a senone sequence id", MAX_PHONES)?;
            let _tmat = c.i32("a transition matrix id")?;
            let attr = c.take(4, "the phone attributes")?;
            ssid.push(s);
            filler.push(attr[0] != 0);
        }
        c.take((n_phone - n_ci) * 12, "the phones")?;
        let sseq_len = c.count("the senone-sequence length", MAX_PHONES * MAX_STATES)?;
        if sseq_len != n_sseq * n_emit {
            return Err(invalid(FILE, "senone-sequence length does not match"));
        }
        let mut ci_senones = Vec::with_capacity(n_ci);
        let seq_start = c.pos;
        for &s in &ssid {
            if s >= n_sseq {
                return Err(invalid(FILE, "a senone sequence id is out of range"));
            }
            c.pos = seq_start;
            c.take(s * n_emit * 2, "the senone sequences")?;
            let mut states = Vec::with_capacity(n_emit);
            for _ in 0..n_emit {
                let sen = usize::from(c.u16("the senone sequences")?);
                if sen >= n_ci_sen {
                    return Err(invalid(FILE, "a CI phone uses a CD senone"));
                }
                states.push(sen);
            }
            ci_senones.push(states);
        }
        c.pos = seq_start;
        c.take(sseq_len * 2, "the senone sequences")?;
        if ci_phones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid(FILE, "CI phone names are not sorted and unique"));
        }
        Ok(Self {
            ci_phones,
            n_senones: n_sen,
            n_ci_senones: n_ci_sen,
            ci_senones,
            filler,
        })
    }
}

/// Mixture weights of the CI senones from `sendump`, as natural logs:
/// `weights[(stream x n_ci_senones + senone) x densities + density]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MixtureWeights {
    pub n_streams: usize,
    pub n_densities: usize,
    pub n_senones: usize,
    pub log_weights: Vec<f32>,
}

/// One step of the quantised log weights: `1024 x ln(1.0001)`.
const SENDUMP_STEP: f64 = 1024.0 * 0.000_099_995_000_333_308_32;

impl MixtureWeights {
    /// Reads `sendump`, keeping the first `keep` senones (the CI senones). `n_senones` is the
    /// mdef's senone count, which the file must match.
    pub fn from_bytes(bytes: &[u8], n_senones: usize, keep: usize) -> Res<Self> {
        const FILE: &str = "sendump";
        let mut c = Cursor::new(FILE, bytes);
        let first = c.i32("the title length")?;
        if !(1..1000).contains(&first) {
            if (1..1000).contains(&first.swap_bytes()) {
                c.swap = true;
            } else {
                return Err(SphinxFileError::BadMagic { file: FILE });
            }
        }
        c.pos = 0;
        let (mut n_streams, mut n_clusters) = (None, 0i64);
        loop {
            let len = c.count("a header string length", MAX_HEADER_STRING)?;
            if len == 0 {
                break;
            }
            let s = c.take(len, "a header string")?;
            let text = String::from_utf8_lossy(s);
            let text = text.trim_end_matches('\0');
            let num = |key: &str| {
                text.strip_prefix(key)
                    .and_then(|v| v.trim().parse::<i64>().ok())
            };
            if let Some(v) = num("feature_count ") {
                n_streams = Some(v);
            }
            if let Some(v) = num("cluster_count ") {
                n_clusters = v;
            }
            if let Some(v) = num("cluster_bits ")
                && v != 8
            {
                return Err(invalid(FILE, "only 8-bit mixture weights are supported"));
            }
        }
        if n_clusters != 0 {
            return Err(invalid(FILE, "clustered mixture weights are not supported"));
        }
        let rows = c.count("densities", MAX_DENSITIES)?;
        let cols = c.count("senones", MAX_SENONES)?;
        if cols != n_senones {
            return Err(invalid(
                FILE,
                format!("{cols} senones, the mdef has {n_senones}"),
            ));
        }
        let n_streams = n_streams.unwrap_or(1);
        if !(1..=MAX_STREAMS).contains(&n_streams) {
            return Err(invalid(FILE, format!("feature_count {n_streams}")));
        }
        let n_streams = n_streams as usize;
        if keep > cols {
            return Err(invalid(FILE, "fewer senones than CI senones"));
        }
        if c.remaining() != n_streams * rows * cols {
            return Err(if c.remaining() < n_streams * rows * cols {
                SphinxFileError::Truncated {
                    file: FILE,
                    what: "the weights",
                }
            } else {
                invalid(FILE, "trailing bytes after the weights")
            });
        }
        let mut log_weights = vec![0.0f32; n_streams * keep * rows];
        for f in 0..n_streams {
            for d in 0..rows {
                let row = c.take(cols, "the weights")?;
                for (s, &q) in row[..keep].iter().enumerate() {
                    log_weights[(f * keep + s) * rows + d] = (-f64::from(q) * SENDUMP_STEP) as f32;
                }
            }
        }
        Ok(Self {
            n_streams,
            n_densities: rows,
            n_senones: keep,
            log_weights,
        })
    }
}

/// The front-end settings of `feat.params` this reader supports.
pub(crate) const FEAT_PARAMS: [(&str, &str); 8] = [
    ("-lowerf", "130"),
    ("-upperf", "6800"),
    ("-nfilt", "25"),
    ("-transform", "dct"),
    ("-lifter", "22"),
    ("-feat", "1s_c_d_dd"),
    ("-svspec", "0-12/13-25/26-38"),
    ("-cmn", "batch"),
];

/// Checks `feat.params` against the features this crate computes (25 filters 130-6800 Hz, DCT,
/// lifter 22, `1s_c_d_dd` in three streams, PTM model).
pub(crate) fn check_feat_params(text: &str) -> Res<()> {
    const FILE: &str = "feat.params";
    let mut words = text.split_whitespace();
    let mut seen: Vec<(String, String)> = Vec::new();
    while let Some(k) = words.next() {
        let Some(v) = words.next() else {
            return Err(invalid(FILE, format!("{k} has no value")));
        };
        seen.push((k.to_string(), v.to_string()));
    }
    let get = |k: &str| seen.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    for (k, want) in FEAT_PARAMS {
        let got = get(k);
        // `-cmn current` is live CMN, the same normalisation over a whole file.
        let ok = got == Some(want) || (k == "-cmn" && got == Some("current"));
        if !ok {
            return Err(invalid(
                FILE,
                format!("{k} is {got:?}, this reader supports {want}"),
            ));
        }
    }
    if let Some(m) = get("-model")
        && m != "ptm"
    {
        return Err(invalid(FILE, format!("-model {m}: only ptm is supported")));
    }
    if get("-varnorm").is_some_and(|v| v != "no") {
        return Err(invalid(FILE, "-varnorm yes is not supported"));
    }
    Ok(())
}

/// Reads a whole file of the model directory.
pub(crate) fn read(dir: &Path, file: &'static str) -> Res<Vec<u8>> {
    let path = dir.join(file);
    let meta = std::fs::metadata(&path).map_err(|e| SphinxFileError::Io {
        file,
        message: format!("{}: {e}", path.display()),
    })?;
    if meta.len() > 256 << 20 {
        return Err(SphinxFileError::Limit {
            file,
            what: "file size (bytes)",
            got: meta.len() as i64,
            limit: 256 << 20,
        });
    }
    std::fs::read(&path).map_err(|e| SphinxFileError::Io {
        file,
        message: format!("{}: {e}", path.display()),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn le(v: &mut Vec<u8>, x: i32) {
        v.extend_from_slice(&x.to_le_bytes());
    }

    /// A Sphinx-3 float file (`means` / `variances`) with a checksum.
    pub(crate) fn gauden_bytes(
        n_cb: usize,
        n_dens: usize,
        value: impl Fn(usize) -> f32,
    ) -> Vec<u8> {
        let mut v = b"s3\nversion 1.0\nchksum0 yes\nendhdr\n".to_vec();
        v.extend_from_slice(&0x1122_3344u32.to_le_bytes());
        let n = n_cb * n_dens * 39;
        let mut words: Vec<u32> = vec![n_cb as u32, 3, n_dens as u32, 13, 13, 13, n as u32];
        words.extend((0..n).map(|i| value(i).to_bits()));
        let mut sum = 0u32;
        for w in &words {
            v.extend_from_slice(&w.to_le_bytes());
            sum = checksum_add(sum, *w);
        }
        v.extend_from_slice(&sum.to_le_bytes());
        v
    }

    /// A binary mdef with CI phones only.
    pub(crate) fn mdef_bytes(phones: &[&str]) -> Vec<u8> {
        let mut v = b"BMDF".to_vec();
        le(&mut v, 1);
        let desc = b"BEGIN FILE FORMAT DESCRIPTION\nEND FILE FORMAT DESCRIPTION\n\0\0\0";
        le(&mut v, desc.len() as i32);
        v.extend_from_slice(desc);
        let n = phones.len() as i32;
        for x in [n, n, 3, 3 * n, 3 * n, n, n, 3, 0, n - 1] {
            le(&mut v, x);
        }
        let start = v.len();
        for p in phones {
            v.extend_from_slice(p.as_bytes());
            v.push(0);
        }
        while !(v.len() - start).is_multiple_of(4) {
            v.push(0);
        }
        for (i, p) in phones.iter().enumerate() {
            le(&mut v, i as i32);
            le(&mut v, i as i32);
            v.extend_from_slice(&[u8::from(p.starts_with('+') || *p == "SIL"), 0, 0, 0]);
        }
        le(&mut v, 3 * n);
        for s in 0..3 * phones.len() {
            v.extend_from_slice(&(s as u16).to_le_bytes());
        }
        v
    }

    /// A sendump with every weight `q` (in quantised units).
    pub(crate) fn sendump_bytes(n_dens: usize, n_sen: usize, q: u8) -> Vec<u8> {
        let mut v = Vec::new();
        for s in ["title\0", "feature_count 3\0"] {
            le(&mut v, s.len() as i32);
            v.extend_from_slice(s.as_bytes());
        }
        le(&mut v, 0);
        le(&mut v, n_dens as i32);
        le(&mut v, n_sen as i32);
        v.extend(std::iter::repeat_n(q, 3 * n_dens * n_sen));
        v
    }

    #[test]
    fn tiny_files_read() {
        let m = Mdef::from_bytes(&mdef_bytes(&["AA", "SIL"])).unwrap();
        assert_eq!(m.ci_phones, ["AA", "SIL"]);
        assert_eq!(m.ci_senones, [vec![0, 1, 2], vec![3, 4, 5]]);
        assert_eq!(m.filler, [false, true]);
        let g = Gaussians::from_bytes("means", &gauden_bytes(2, 2, |i| i as f32)).unwrap();
        assert_eq!((g.n_codebooks, g.n_densities, g.data.len()), (2, 2, 156));
        let w = MixtureWeights::from_bytes(&sendump_bytes(2, 6, 7), 6, 6).unwrap();
        assert!((w.log_weights[0] - (-7.0 * SENDUMP_STEP) as f32).abs() < 1e-6);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let files = [
            mdef_bytes(&["AA", "SIL"]),
            gauden_bytes(2, 2, |i| i as f32),
            sendump_bytes(2, 6, 7),
        ];
        for (k, full) in files.iter().enumerate() {
            for n in 0..full.len() {
                let cut = &full[..n];
                let ok = match k {
                    0 => Mdef::from_bytes(cut).is_ok(),
                    1 => Gaussians::from_bytes("means", cut).is_ok(),
                    _ => MixtureWeights::from_bytes(cut, 6, 6).is_ok(),
                };
                assert!(!ok, "file {k} cut at {n} of {}", full.len());
            }
        }
    }

    #[test]
    fn corrupt_files_are_typed_errors() {
        // A flipped data bit: checksum.
        let mut g = gauden_bytes(2, 2, |i| i as f32);
        let at = g.len() - 20;
        g[at] ^= 1;
        assert!(matches!(
            Gaussians::from_bytes("means", &g),
            Err(SphinxFileError::Checksum { .. })
        ));
        // Bad magics.
        assert!(matches!(
            Mdef::from_bytes(b"XMDF\x01\0\0\0"),
            Err(SphinxFileError::BadMagic { .. })
        ));
        assert!(matches!(
            Gaussians::from_bytes("means", b"s4\nendhdr\n"),
            Err(SphinxFileError::BadMagic { .. })
        ));
        // Huge counts are limits, not allocations.
        let mut m = mdef_bytes(&["AA", "SIL"]);
        let n_ci_at = 12 + 60;
        m[n_ci_at..n_ci_at + 4].copy_from_slice(&100_000i32.to_le_bytes());
        assert!(matches!(
            Mdef::from_bytes(&m),
            Err(SphinxFileError::Limit { .. })
        ));
        // A senone count that does not match the mdef.
        assert!(matches!(
            MixtureWeights::from_bytes(&sendump_bytes(2, 6, 7), 9, 6),
            Err(SphinxFileError::Invalid { .. })
        ));
        // A non-finite value.
        let g = gauden_bytes(1, 1, |_| f32::NAN);
        assert!(Gaussians::from_bytes("means", &g).is_err());
        // feat.params that ask for other features.
        assert!(check_feat_params("-nfilt 40 -lowerf 130").is_err());
        assert!(check_feat_params("-lowerf").is_err());
    }
}
