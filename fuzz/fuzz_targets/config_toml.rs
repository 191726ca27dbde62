//! `corsica_gateway::config::Config::parse` on arbitrary UTF-8.
//!
//! Invariants: parsing never panics; an error list is never empty and every error's line
//! and column lie inside the text (line ≥ 1, column ≥ 1, line ≤ the number of lines + 1);
//! a parsed configuration's warnings point inside the text too.
//!
//! The parser reads the PEM files that `[tls]` names. Inputs that could name a device or
//! kernel file (`/dev`, `/proc`, `/sys`, or any `\u` escape that could spell one) are
//! skipped: `cert = "/dev/zero"` reads forever, which is the operator's own choice, not a
//! parser bug.
#![no_main]

use corsica_gateway::config::{Config, ConfigError};
use libfuzzer_sys::fuzz_target;

fn check_position(text: &str, e: &ConfigError) {
    let lines = text.split('\n').count();
    assert!(
        e.line() >= 1 && e.line() <= lines + 1 && e.column() >= 1,
        "error position {}:{} outside the text ({lines} lines): {e}",
        e.line(),
        e.column()
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if ["/dev", "/proc", "/sys", "\\u", "\\U"]
        .iter()
        .any(|s| text.contains(s))
    {
        return;
    }
    match Config::parse(text, "fuzz.toml") {
        Ok(config) => {
            for w in config.warnings() {
                check_position(text, w);
            }
        }
        Err(errors) => {
            assert!(errors.len() >= 1, "an empty error list");
            for e in &errors {
                check_position(text, e);
            }
        }
    }
});
