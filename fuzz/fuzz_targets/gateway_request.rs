//! The gateway's request path: arbitrary bytes as one client's raw HTTP/1.1 byte stream
//! (pipelined requests, chunked bodies, smuggling attempts, garbage), through the hyper
//! HTTP/1.1 server with the gateway's settings and its per-request handler, over an
//! in-memory duplex (see `corsica_gateway::fuzzing`). Configuration:
//! `corsica_gateway::fuzzing::CONFIG` (a guarded credentialed route to an upstream that
//! refuses at once, and a `*` route to the echo upstream).
//!
//! Invariants: nothing panics; every exchange ends (the harness panics after 10 s);
//! whatever the gateway writes starts with an HTTP/1.x status line.
#![no_main]

use std::sync::OnceLock;

use corsica_gateway::fuzzing::{CONFIG, Harness};
use libfuzzer_sys::fuzz_target;

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| Harness::new(CONFIG).expect("the fuzzing configuration is valid"))
}

fuzz_target!(|data: &[u8]| {
    let answer = harness().exchange(data);
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 ") || answer.starts_with(b"HTTP/1.0 "),
        "the gateway wrote something other than a status line first: {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(200)])
    );
});
