//! `corsica_doctor::har::explain` (the reader behind `corsica explain --har`) on arbitrary
//! UTF-8, then every rendering of its result (text, JSON, the output contract).
//!
//! Invariants: nothing panics; an explanation's exit code is 0 or 1 and its JSON is an
//! object.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(explanation) = corsica_doctor::har::explain(text) else {
        return;
    };
    let code = explanation.exit_code();
    assert!(code <= 1, "exit code {code} for an explained HAR");
    assert!(
        explanation.to_json().is_object(),
        "the JSON output is not an object"
    );
    let _ = explanation.to_text(false);
    let _ = explanation.output();
});
