//! Fuzzes every parser of untrusted registry input: tlog-proof files, signed notes,
//! checkpoints, statements, entry bundles and witness requests (RFC 3161 tokens: `timestamp`).
#![no_main]

use encore_registry::{Checkpoint, KeyKind, Note, NoteSigner, Statement, TlogProof, Witness, parse_bundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = TlogProof::parse(data);
    let _ = Note::parse(data);
    let _ = Statement::decode(data);
    let _ = parse_bundle(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Checkpoint::parse(s);
    }
    let signer = NoteSigner::from_seed("w.example", KeyKind::Cosignature, [1; 32]).expect("key");
    let log = NoteSigner::from_seed("log.example", KeyKind::Ed25519, [2; 32]).expect("key");
    let mut w = Witness::new(signer, vec![log.verifier()]).expect("witness");
    let _ = w.add_checkpoint(data, 1, |_| Ok(()));
});
