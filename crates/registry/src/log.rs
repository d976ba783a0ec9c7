//! The log: sequencing batches of entries into the tiled tree, signing and publishing
//! checkpoints (after witness cosigning, when configured), proofs, and the start-up checks
//! that refuse a forked or inconsistent state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tracing::{debug, info_span, warn};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::hash::{Hash, perfect_root};
use crate::merkle::{self, SubtreeSource};
use crate::note::{Note, NoteSigner, NoteVerifier};
use crate::storage::Storage;
use crate::tiles::{self, Edge, FullTile, TILE_WIDTH, bundle_path, tile_path};
use crate::timestamp::LogTimestamper;
use crate::witness::WitnessClient;

/// Path of the published checkpoint.
pub const CHECKPOINT_PATH: &str = "checkpoint";
/// Path of the log's private latest signed checkpoint, written before asking witnesses.
pub const STAGED_PATH: &str = "staged-checkpoint";
/// Largest entry: bundles prefix entries with a u16 length.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;
/// Most entries accepted in one batch.
pub const MAX_BATCH: usize = 1 << 20;

/// A witness the log asks for cosignatures, with its cosignature verifier.
pub struct LogWitness {
    /// Talks to the witness.
    pub client: Box<dyn WitnessClient>,
    /// Verifies its cosignatures.
    pub verifier: NoteVerifier,
}

impl std::fmt::Debug for LogWitness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogWitness({})", self.verifier.name())
    }
}

/// Full tiles read from storage, by (level, index).
type TileCache = HashMap<(u8, u64), Arc<Vec<Hash>>>;

/// A transparency log over a [`Storage`].
pub struct Log<S: Storage> {
    storage: S,
    signer: NoteSigner,
    verifier: NoteVerifier,
    edge: Edge,
    bundle: Vec<Vec<u8>>,
    published: Vec<u8>,
    published_size: u64,
    staged: Option<Vec<u8>>,
    index: HashMap<Hash, u64>,
    cache: Mutex<TileCache>,
    witnesses: Vec<LogWitness>,
    witness_sizes: Vec<Option<u64>>,
    quorum: usize,
    timestamper: Option<LogTimestamper>,
}

impl<S: Storage> std::fmt::Debug for Log<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Log({}, size {})", self.signer.name(), self.edge.size())
    }
}

/// Source of subtree hashes for the tree described by an edge, reading full tiles from storage.
struct TreeView<'a, S: Storage> {
    log: &'a Log<S>,
    edge: &'a Edge,
}

impl<S: Storage> SubtreeSource for TreeView<'_, S> {
    fn complete_subtree(&self, level: u8, index: u64) -> Result<Hash> {
        if let Some(h) = self.edge.subtree_in_partial(level, index) {
            return Ok(h);
        }
        let tl = level / 8;
        let k = level % 8;
        let first = index << k;
        let tile = self.log.full_tile(tl, first / TILE_WIDTH)?;
        let off = (first % TILE_WIDTH) as usize;
        Ok(perfect_root(&tile[off..off + (1 << k)]))
    }
}

impl<S: Storage> Log<S> {
    /// Creates a new, empty log: publishes the signed checkpoint of the empty tree. Fails if
    /// the storage already holds a checkpoint.
    pub fn create(storage: S, signer: NoteSigner) -> Result<Self> {
        let cp = Checkpoint {
            origin: signer.name().to_owned(),
            size: 0,
            root: Hash::empty(),
            extensions: vec![],
        };
        let note = sign_checkpoint(&signer, &cp);
        storage
            .put_checkpoint(CHECKPOINT_PATH, None, note.as_bytes())
            .map_err(|e| match e {
                Error::Conflict => Error::Inconsistent("a log already exists here".into()),
                e => e,
            })?;
        Log::open(storage, signer)
    }

    /// Opens an existing log and checks it: the checkpoint's signature and origin, the partial
    /// tiles and bundle against the checkpoint's root, every full leaf tile against the level
    /// above, and (when present) that the staged checkpoint extends the published one.
    pub fn open(storage: S, signer: NoteSigner) -> Result<Self> {
        let _span = info_span!("log_open", origin = signer.name()).entered();
        let verifier = signer.verifier();
        let published = storage.get(CHECKPOINT_PATH)?.ok_or_else(|| {
            Error::Inconsistent("no checkpoint: not a log directory (run init)".into())
        })?;
        let pub_cp = verify_checkpoint(&published, &verifier)?;
        let staged = storage.get(STAGED_PATH)?;
        let staged_cp = match &staged {
            Some(b) => Some(verify_checkpoint(b, &verifier)?),
            None => None,
        };
        let head = match &staged_cp {
            Some(s) if s.size > pub_cp.size => s.clone(),
            Some(s) if s.size == pub_cp.size && s.root != pub_cp.root => {
                return Err(Error::Inconsistent(format!(
                    "staged and published checkpoints of size {} have different roots: fork",
                    s.size
                )));
            }
            _ => pub_cp.clone(),
        };
        let mut log = Log {
            storage,
            signer,
            verifier,
            edge: Edge::new(),
            bundle: Vec::new(),
            published,
            published_size: pub_cp.size,
            staged,
            index: HashMap::new(),
            cache: Mutex::new(HashMap::new()),
            witnesses: Vec::new(),
            witness_sizes: Vec::new(),
            quorum: 0,
            timestamper: None,
        };
        log.load_head(&head)?;
        if head.size != pub_cp.size {
            let proof = log.consistency_proof(pub_cp.size, head.size)?;
            merkle::verify_consistency(pub_cp.size, head.size, &pub_cp.root, &head.root, &proof)
                .map_err(|e| {
                    Error::Inconsistent(format!(
                        "staged checkpoint does not extend the published one: {e}"
                    ))
                })?;
        }
        Ok(log)
    }

    fn load_head(&mut self, head: &Checkpoint) -> Result<()> {
        let size = head.size;
        let mut partials = Vec::new();
        for (level, n, w) in tiles::tile_partials(size) {
            let path = tile_path(level, n, w);
            let data = self.storage.get(&path)?.ok_or_else(|| {
                Error::Inconsistent(format!(
                    "tile {path} needed by the checkpoint of size {size} is missing"
                ))
            })?;
            partials.push(tiles::parse_tile(&path, &data, w)?);
        }
        self.edge = Edge::from_partials(size, partials)?;
        if self.edge.root() != head.root {
            return Err(Error::Inconsistent(format!(
                "partial tiles give root {} but the checkpoint of size {size} says {}: fork or corruption",
                self.edge.root(),
                head.root
            )));
        }
        let w = size % TILE_WIDTH;
        self.bundle = if w > 0 {
            self.read_bundle(size / TILE_WIDTH, w)?
        } else {
            Vec::new()
        };
        for (i, e) in self.bundle.iter().enumerate() {
            if Hash::leaf(e) != self.edge.partial(0)[i] {
                return Err(Error::Inconsistent(format!(
                    "entry {} does not match its leaf hash in the tile",
                    size - w + i as u64
                )));
            }
        }
        // Every full leaf tile must hash to its entry one level up; this also loads the
        // de-duplication index.
        self.index.clear();
        let full = size / TILE_WIDTH;
        let view = TreeView {
            log: self,
            edge: &self.edge,
        };
        let mut index = HashMap::with_capacity(size as usize);
        for n in 0..full {
            let tile = self.full_tile(0, n)?;
            if perfect_root(&tile) != view.complete_subtree(8, n)? {
                return Err(Error::Inconsistent(format!(
                    "leaf tile {} does not match the tree above",
                    tile_path(0, n, 256)
                )));
            }
            for (i, h) in tile.iter().enumerate() {
                index.entry(*h).or_insert(n * TILE_WIDTH + i as u64);
            }
            self.cache_clear_level0(n);
        }
        for (i, h) in self.edge.partial(0).iter().enumerate() {
            index.entry(*h).or_insert(full * TILE_WIDTH + i as u64);
        }
        self.index = index;
        Ok(())
    }

    fn cache_clear_level0(&self, n: u64) {
        self.lock_cache().remove(&(0, n));
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, TileCache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn full_tile(&self, level: u8, n: u64) -> Result<Arc<Vec<Hash>>> {
        if let Some(t) = self.lock_cache().get(&(level, n)) {
            return Ok(t.clone());
        }
        let path = tile_path(level, n, TILE_WIDTH);
        let data = self
            .storage
            .get(&path)?
            .ok_or_else(|| Error::Inconsistent(format!("tile {path} is missing")))?;
        let t = Arc::new(tiles::parse_tile(&path, &data, TILE_WIDTH)?);
        let mut c = self.lock_cache();
        if c.len() > 4096 {
            c.clear();
        }
        c.insert((level, n), t.clone());
        Ok(t)
    }

    fn read_bundle(&self, n: u64, w: u64) -> Result<Vec<Vec<u8>>> {
        let path = bundle_path(n, w);
        let data = self
            .storage
            .get(&path)?
            .ok_or_else(|| Error::Inconsistent(format!("entry bundle {path} is missing")))?;
        let entries = tiles::parse_bundle(&data)?;
        if entries.len() as u64 != w {
            return Err(Error::Inconsistent(format!(
                "entry bundle {path} has {} entries",
                entries.len()
            )));
        }
        Ok(entries)
    }

    /// Requires `quorum` valid cosignatures from `witnesses` before each checkpoint is published.
    pub fn set_witnesses(&mut self, witnesses: Vec<LogWitness>, quorum: usize) -> Result<()> {
        if quorum > witnesses.len() {
            return Err(Error::WitnessPolicy {
                got: witnesses.len(),
                need: quorum,
                detail: "fewer witnesses than the quorum".into(),
            });
        }
        self.witness_sizes = vec![None; witnesses.len()];
        self.witnesses = witnesses;
        self.quorum = quorum;
        Ok(())
    }

    /// Obtains an RFC 3161 timestamp token over each new checkpoint from a timestamp authority
    /// and carries it on the published note (see [`crate::timestamp`]); `None` turns it off.
    /// Like witnesses, the TSA only ever sees checkpoints that were staged first.
    pub fn set_timestamper(&mut self, timestamper: Option<LogTimestamper>) {
        self.timestamper = timestamper;
    }

    /// The log's verifier key.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The published checkpoint note (with cosignatures).
    pub fn checkpoint_note(&self) -> &[u8] {
        &self.published
    }

    /// The published tree size; every entry below it is acknowledged.
    pub fn size(&self) -> u64 {
        self.published_size
    }

    /// The sequenced tree size, including entries signed but not yet published.
    pub fn sequenced_size(&self) -> u64 {
        self.edge.size()
    }

    /// The index of an entry already in the log (sequenced), if any.
    pub fn find(&self, entry: &[u8]) -> Option<u64> {
        self.index.get(&Hash::leaf(entry)).copied()
    }

    /// Reads entry `index` (below the sequenced size).
    pub fn entry(&self, index: u64) -> Result<Vec<u8>> {
        let size = self.edge.size();
        if index >= size {
            return Err(Error::OutOfRange(format!(
                "entry {index} is not in a log of size {size}"
            )));
        }
        let n = index / TILE_WIDTH;
        let i = (index % TILE_WIDTH) as usize;
        if n == size / TILE_WIDTH {
            return Ok(self.bundle[i].clone());
        }
        let path = bundle_path(n, TILE_WIDTH);
        let data = self
            .storage
            .get(&path)?
            .ok_or_else(|| Error::Inconsistent(format!("{path} is missing")))?;
        let entries = tiles::parse_bundle(&data)?;
        let e = entries
            .get(i)
            .cloned()
            .ok_or_else(|| Error::Inconsistent(format!("{path} is short")))?;
        if Hash::leaf(&e) != self.leaf_hash(index)? {
            return Err(Error::Inconsistent(format!(
                "entry {index} does not match its leaf hash"
            )));
        }
        Ok(e)
    }

    fn leaf_hash(&self, index: u64) -> Result<Hash> {
        TreeView {
            log: self,
            edge: &self.edge,
        }
        .complete_subtree(0, index)
    }

    /// Inclusion proof of `index` in the tree of the current sequenced size.
    pub fn inclusion_proof(&self, index: u64) -> Result<Vec<Hash>> {
        merkle::inclusion_proof(
            &TreeView {
                log: self,
                edge: &self.edge,
            },
            index,
            self.edge.size(),
        )
    }

    /// Consistency proof from `old` to `new` (both at most the sequenced size; `new` must be the
    /// sequenced size or a size whose tiles are still stored).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        if new != self.edge.size() {
            return Err(Error::OutOfRange(format!(
                "consistency proofs are built to the current size {}",
                self.edge.size()
            )));
        }
        merkle::consistency_proof(
            &TreeView {
                log: self,
                edge: &self.edge,
            },
            old,
            new,
        )
    }

    /// Sequences a batch, writes its tiles, signs a checkpoint, collects the witness quorum,
    /// and publishes the checkpoint. Returns each entry's index once the published checkpoint
    /// covers it (identical entries, in the log or in the batch, share one index). On error,
    /// no entry of this batch is acknowledged.
    pub fn append(&mut self, entries: &[Vec<u8>], now: u64) -> Result<Vec<u64>> {
        let _span =
            info_span!("log_append", batch = entries.len(), size = self.edge.size()).entered();
        if entries.len() > MAX_BATCH {
            return Err(Error::LimitExceeded {
                what: "entries in one batch",
                limit: MAX_BATCH as u64,
            });
        }
        if let Some(e) = entries.iter().find(|e| e.len() > MAX_ENTRY_BYTES) {
            let _ = e;
            return Err(Error::LimitExceeded {
                what: "entry size",
                limit: MAX_ENTRY_BYTES as u64,
            });
        }
        let old_edge = self.edge.clone();
        let old_bundle_len = self.bundle.len();
        let mut new_edge = self.edge.clone();
        let mut completed: Vec<FullTile> = Vec::new();
        let mut bundle = self.bundle.clone();
        let mut full_bundles: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
        let mut batch_index: HashMap<Hash, u64> = HashMap::new();
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let h = Hash::leaf(e);
            if let Some(&i) = self.index.get(&h).or_else(|| batch_index.get(&h)) {
                out.push(i);
                continue;
            }
            let i = new_edge.size();
            new_edge.push(h, &mut completed);
            bundle.push(e.clone());
            if bundle.len() as u64 == TILE_WIDTH {
                full_bundles.push((i / TILE_WIDTH, std::mem::take(&mut bundle)));
            }
            batch_index.insert(h, i);
            out.push(i);
        }
        if new_edge.size() == old_edge.size() && self.published_size == old_edge.size() {
            return Ok(out);
        }
        let _ = old_bundle_len;
        let result = self.write_and_publish(
            &old_edge,
            &new_edge,
            &completed,
            &full_bundles,
            &bundle,
            now,
        );
        match result {
            Ok(()) => {
                self.edge = new_edge;
                self.bundle = bundle;
                self.index.extend(batch_index);
                Ok(out)
            }
            Err(e) => {
                // Drop anything cached from this batch; the in-memory state stays at the last
                // signed tree unless the staged checkpoint moved forward (see publish_staged).
                self.lock_cache().clear();
                if self.staged_size() == new_edge.size() && new_edge.size() > old_edge.size() {
                    // Signed and staged but not published (witness quorum missing): the log is
                    // committed to this tree, so keep it; entries are not acknowledged yet.
                    self.edge = new_edge;
                    self.bundle = bundle;
                    self.index.extend(batch_index);
                }
                Err(e)
            }
        }
    }

    fn staged_size(&self) -> u64 {
        self.staged
            .as_deref()
            .and_then(|b| Note::parse(b).ok())
            .and_then(|n| Checkpoint::parse(&n.text).ok())
            .map_or(0, |c| c.size)
    }

    fn write_and_publish(
        &mut self,
        old: &Edge,
        new: &Edge,
        completed: &[FullTile],
        full_bundles: &[(u64, Vec<Vec<u8>>)],
        bundle: &[Vec<u8>],
        _now: u64,
    ) -> Result<()> {
        if new.size() > old.size() {
            // Entry bundles and hash tiles, written in one storage batch (concurrently where
            // the backend can); none of these paths is covered by a published checkpoint, so a
            // crash here leaves only unreferenced leftovers, in any subset.
            let mut writes: Vec<(String, Vec<u8>)> = Vec::new();
            for (n, b) in full_bundles {
                writes.push((bundle_path(*n, TILE_WIDTH), tiles::bundle_bytes(b)));
            }
            let w = new.size() % TILE_WIDTH;
            if w > 0 {
                writes.push((
                    bundle_path(new.size() / TILE_WIDTH, w),
                    tiles::bundle_bytes(bundle),
                ));
            }
            for t in completed {
                writes.push((
                    tile_path(t.level, t.index, TILE_WIDTH),
                    tiles::tile_bytes(&t.hashes),
                ));
            }
            let old_partials = tiles::tile_partials(old.size());
            for (level, n, w) in tiles::tile_partials(new.size()) {
                if !old_partials.contains(&(level, n, w)) {
                    writes.push((
                        tile_path(level, n, w),
                        tiles::tile_bytes(new.partial(level)),
                    ));
                }
            }
            self.storage.put_tiles(&writes)?;
        }
        // At this point every tile of the new tree is durable. Check, from storage, that the
        // new tree extends the last signed one before signing anything.
        let new_root = new.root();
        let view = TreeView {
            log: self,
            edge: new,
        };
        let proof = merkle::consistency_proof(&view, old.size(), new.size())?;
        merkle::verify_consistency(old.size(), new.size(), &old.root(), &new_root, &proof)
            .map_err(|e| Error::Inconsistent(format!("refusing to sign: {e}")))?;
        if merkle::tree_hash(&view, new.size())? != new_root {
            return Err(Error::Inconsistent(
                "tiles just written do not reproduce the new root".into(),
            ));
        }
        let cp = Checkpoint {
            origin: self.signer.name().to_owned(),
            size: new.size(),
            root: new_root,
            extensions: vec![],
        };
        let mut note = if self.staged_size() == new.size() {
            // Re-publishing the already signed head after a failed quorum.
            self.staged.clone().unwrap_or_default()
        } else {
            sign_checkpoint(&self.signer, &cp).into_bytes()
        };
        if self.quorum > 0 || self.timestamper.is_some() {
            if self.staged_size() != new.size() {
                self.storage
                    .put_checkpoint(STAGED_PATH, self.staged.as_deref(), &note)?;
                // At this point the log is committed to this tree: it was signed and may be
                // shown to witnesses, so every later checkpoint must extend it.
                self.staged = Some(note.clone());
            }
            if self.quorum > 0 {
                note = self.collect_cosignatures(&note, &cp)?;
            }
        }
        if let Some(t) = &self.timestamper {
            match t.token_for(cp.to_text().as_bytes()) {
                Ok(token) => {
                    let line = crate::timestamp::timestamp_signature(&t.name, &token).to_line();
                    note.extend_from_slice(line.as_bytes());
                }
                Err(e) if t.required => return Err(e),
                Err(e) => warn!(error = %e, "publishing the checkpoint without a timestamp"),
            }
        }
        self.storage
            .put_checkpoint(CHECKPOINT_PATH, Some(&self.published), &note)?;
        // At this point the checkpoint is published: every entry below new.size() is durable
        // and may be acknowledged.
        debug!(size = new.size(), "published checkpoint");
        self.published = note;
        self.published_size = new.size();
        Ok(())
    }

    fn collect_cosignatures(&mut self, note: &[u8], cp: &Checkpoint) -> Result<Vec<u8>> {
        let parsed = Note::parse(note)?;
        let mut lines = String::new();
        let mut failures = Vec::new();
        let mut got = 0;
        for (wi, w) in self.witnesses.iter().enumerate() {
            let mut old = self.witness_sizes[wi]
                .unwrap_or(self.published_size)
                .min(cp.size);
            let mut attempt = 0;
            loop {
                attempt += 1;
                let proof = merkle::consistency_proof(
                    &TreeView {
                        log: self,
                        edge: &self.edge_for(cp)?,
                    },
                    old,
                    cp.size,
                )?;
                match w.client.add_checkpoint(old, &proof, note) {
                    Ok(sigs) => {
                        let block = String::from_utf8_lossy(&sigs).into_owned();
                        let ok = crate::note::NoteSignature::parse_lines(&block)
                            .ok()
                            .and_then(|sigs| {
                                sigs.into_iter().find(|s| {
                                    w.verifier.matches(s)
                                        && w.verifier.verify(&parsed.text, s).is_ok()
                                })
                            });
                        match ok {
                            Some(s) => {
                                lines.push_str(&s.to_line());
                                got += 1;
                                self.witness_sizes[wi] = Some(cp.size);
                            }
                            None => failures.push(format!(
                                "{}: no valid cosignature in reply",
                                w.verifier.name()
                            )),
                        }
                        break;
                    }
                    Err(crate::witness::WitnessCallError::Conflict(size))
                        if attempt == 1 && size <= cp.size =>
                    {
                        old = size;
                    }
                    Err(e) => {
                        warn!(witness = w.verifier.name(), error = %e, "witness refused");
                        failures.push(format!("{}: {e}", w.verifier.name()));
                        break;
                    }
                }
            }
        }
        if got < self.quorum {
            return Err(Error::WitnessPolicy {
                got,
                need: self.quorum,
                detail: failures.join("; "),
            });
        }
        let mut out = note.to_vec();
        out.extend_from_slice(lines.as_bytes());
        Ok(out)
    }

    fn edge_for(&self, cp: &Checkpoint) -> Result<Edge> {
        // The head being published: either the current edge or the one just built.
        if self.edge.size() == cp.size {
            return Ok(self.edge.clone());
        }
        let mut partials = Vec::new();
        for (level, n, w) in tiles::tile_partials(cp.size) {
            let path = tile_path(level, n, w);
            let data = self
                .storage
                .get(&path)?
                .ok_or_else(|| Error::Inconsistent(format!("{path} missing")))?;
            partials.push(tiles::parse_tile(&path, &data, w)?);
        }
        Edge::from_partials(cp.size, partials)
    }

    /// Builds a C2SP tlog-proof for entry `index` against the published checkpoint, with the
    /// entry as the `extra` data.
    pub fn proof(&self, index: u64) -> Result<crate::proof::TlogProof> {
        if index >= self.published_size {
            return Err(Error::OutOfRange(format!(
                "entry {index} is not covered by the published checkpoint of size {}",
                self.published_size
            )));
        }
        let note = Note::parse(&self.published)?;
        let cp = Checkpoint::parse(&note.text)?;
        let edge = self.edge_for(&cp)?;
        let view = TreeView {
            log: self,
            edge: &edge,
        };
        let inclusion = merkle::inclusion_proof(&view, index, cp.size)?;
        Ok(crate::proof::TlogProof {
            extra: Some(self.entry(index)?),
            index,
            inclusion,
            checkpoint: self.published.clone(),
        })
    }

    /// Re-reads every stored tile and bundle of the published tree and checks them against the
    /// checkpoint (an fsck; O(size)).
    pub fn verify_storage(&self) -> Result<()> {
        let note = Note::parse(&self.published)?;
        let cp = Checkpoint::parse(&note.text)?;
        let edge = self.edge_for(&cp)?;
        self.lock_cache().clear();
        let view = TreeView {
            log: self,
            edge: &edge,
        };
        if merkle::tree_hash(&view, cp.size)? != cp.root {
            return Err(Error::Inconsistent(
                "tiles do not reproduce the checkpoint root".into(),
            ));
        }
        for i in 0..cp.size.div_ceil(TILE_WIDTH) {
            let w = (cp.size - i * TILE_WIDTH).min(TILE_WIDTH);
            let entries = self.read_bundle(i, w)?;
            for (j, e) in entries.iter().enumerate() {
                let idx = i * TILE_WIDTH + j as u64;
                if Hash::leaf(e) != view.complete_subtree(0, idx)? {
                    return Err(Error::Inconsistent(format!(
                        "entry {idx} does not match its leaf hash"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Signs a checkpoint with the log key.
pub(crate) fn sign_checkpoint(signer: &NoteSigner, cp: &Checkpoint) -> String {
    let text = cp.to_text();
    let sig = signer.sign_line(&text, 0);
    format!("{text}\n{sig}")
}

/// Parses a checkpoint note, checks the log's signature and that the origin is the key name.
pub fn verify_checkpoint(note: &[u8], log_key: &NoteVerifier) -> Result<Checkpoint> {
    let n = Note::parse(note)?;
    if n.verify(std::slice::from_ref(log_key))?.is_empty() {
        return Err(Error::BadSignature(format!(
            "checkpoint is not signed by {}",
            log_key.name()
        )));
    }
    let cp = Checkpoint::parse(&n.text)?;
    if cp.origin != log_key.name() {
        return Err(Error::BadSignature(format!(
            "checkpoint origin {:?} does not match log key {:?}",
            cp.origin,
            log_key.name()
        )));
    }
    Ok(cp)
}
