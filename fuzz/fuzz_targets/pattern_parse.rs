//! `OriginEntry::parse` on arbitrary UTF-8.
//!
//! Invariant on success: the `Display` form parses back to the same entry
//! (`OriginEntry::parse(&entry.to_string()) == entry`).
#![no_main]

use corsica::OriginEntry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(entry) = OriginEntry::parse(s) {
        let shown = entry.to_string();
        let again = OriginEntry::parse(&shown).unwrap_or_else(|e| {
            panic!("parse({s:?}) = {entry:?}, shown as {shown:?}, which does not parse: {e}")
        });
        assert_eq!(again, entry, "parse({s:?}) shown as {shown:?} re-parses differently");
    }
});
