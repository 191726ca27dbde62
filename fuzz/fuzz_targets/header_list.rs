//! `HeaderList::parse` on arbitrary bytes split into lines at `\n`.
//!
//! Invariants on success (default limits): every item is non-empty, contains no `,`, has no
//! leading or trailing space or tab, and there are at most 64 items.
#![no_main]

use corsica::{HeaderList, HeaderListLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let limits = HeaderListLimits::default();
    if let Ok(list) = HeaderList::parse(lines.iter().copied(), limits) {
        let items = list.items();
        assert!(
            items.len() <= limits.max_items && items.len() <= 64,
            "{} items, over the limit",
            items.len()
        );
        for item in items {
            assert!(!item.is_empty(), "empty item in {items:?}");
            assert!(!item.contains(','), "item {item:?} contains a comma");
            assert!(
                !item.starts_with([' ', '\t']) && !item.ends_with([' ', '\t']),
                "item {item:?} has leading/trailing whitespace"
            );
        }
    }
});
