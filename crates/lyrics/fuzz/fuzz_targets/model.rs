#![no_main]
//! The model file parser never panics; what it accepts writes and reads back.

use encore_lyrics::HybridModel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = HybridModel::from_bytes(data) {
        let bytes = model.to_bytes();
        let again = HybridModel::from_bytes(&bytes).expect("a written model reads back");
        // Weights, priors and shape survive exactly (free-form JSON numbers may not).
        assert_eq!(again.mlp, model.mlp);
        assert_eq!(again.priors, model.priors);
        assert_eq!(again.header.layers, model.header.layers);
        assert_eq!(again.header.context, model.header.context);
    }
});
