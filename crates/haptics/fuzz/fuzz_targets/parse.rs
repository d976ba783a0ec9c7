//! Fuzz target: every parser of `encore-haptics` on arbitrary bytes. None may panic; whatever
//! parses must re-export and parse back to the same track.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(track) = encore_haptics::parse_lofelt(data) {
        let json = encore_haptics::to_lofelt(&track).expect("a parsed track exports");
        let back = encore_haptics::parse_lofelt(json.as_bytes()).expect("an export parses");
        assert_eq!(back, track);
        let _ = encore_haptics::to_ahap(&track);
        let _ = encore_haptics::to_android(&track);
        let _ = encore_haptics::to_web(&track);
    }
    if let Ok(track) = encore_haptics::parse_ahap(data) {
        let _ = encore_haptics::to_ahap(&track).expect("a parsed track exports");
    }
    let _ = encore_haptics::parse_android(data);
    let _ = encore_haptics::parse_web(data);
});
