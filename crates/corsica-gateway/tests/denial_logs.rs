//! Finding 5 of issue 14: every denied request wrote a log line (8 MB/s of logs under
//! hostile traffic). Denials are still all counted, but their lines are rate-limited, and
//! the next line logged says how many were not.
//!
//! This file's one test installs a process-wide subscriber that keeps every line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corsica_testkit::client::HttpClient;
use corsica_testkit::gateway::{self, APP_CORS, EVIL, LISTEN, assert_sample, route};

/// Where the captured lines go.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The number in `line` just before `marker`, if any.
fn number_before(line: &str, marker: &str) -> Option<u64> {
    let before = &line[..line.find(marker)?];
    before
        .split_whitespace()
        .last()?
        .trim_start_matches('(')
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denial_lines_are_rate_limited_and_the_rest_counted() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let gw = gateway::start(&(LISTEN.to_owned() + &route("app", "path = \"/\"", "echo", APP_CORS)))
        .await;
    let client = HttpClient::h1();
    const SENT: u64 = 400;
    let started = Instant::now();
    for i in 0..SENT {
        let r = client
            .call("GET", gw.addr, &format!("/denied/{i}"), &[("origin", EVIL)])
            .await;
        assert_eq!(r.status, 200);
    }
    let windows = started.elapsed().as_secs() + 2;
    // A second later, one more: the first of its second, logged, with the count of those
    // that were not.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = client
        .call("GET", gw.addr, "/denied/last", &[("origin", EVIL)])
        .await;
    assert_eq!(r.status, 200);

    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_requests_total{outcome="actual_denied",route="app"}"#,
        Some((SENT + 1) as f64),
    );
    assert_sample(
        &m,
        r#"corsica_denials_total{reason="origin_not_allowed",route="app"}"#,
        Some((SENT + 1) as f64),
    );
    gw.shutdown().await;

    let text = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("CORS denied")).collect();
    let logged = lines.len() as u64;
    assert!(
        logged <= 10 * windows + 1,
        "{logged} denial lines for {SENT} denials in {windows} s:\n{text}"
    );
    assert!(
        lines.last().is_some_and(|l| l.contains("/denied/last")),
        "the last denial, alone in its second, is logged:\n{text}"
    );
    let suppressed: u64 = lines
        .iter()
        .filter_map(|l| number_before(l, "similar lines not logged"))
        .sum();
    assert!(
        suppressed > 0,
        "no line says how many were not logged:\n{text}"
    );
    assert_eq!(
        logged + suppressed,
        SENT + 1,
        "every denial is logged or counted as not logged:\n{text}"
    );
    // The line says how the lines are limited.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("at most 10 denial lines a second")),
        "{text}"
    );
}
