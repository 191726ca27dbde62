//! Test helpers shared by the Corsica crates' test suites (`publish = false`).
//!
//! - [`raw`]: exact bytes over a TCP socket (async and blocking), a response parser.
//! - [`headers`]: CORS header names and `Vary` helpers.
//! - `server` (feature `server`): a scripted HTTP/1.1 server that answers by path and
//!   records every request it saw; HTTPS with feature `tls`.
//! - `client` (feature `server`): a hyper client (HTTP/1.1, h2c, HTTPS with `tls`) that
//!   reads whole responses within [`STEP`].
//! - `tls` (feature `tls`): a certificate authority and leaf certificates made per test.
//! - `gateway` (feature `gateway`): starts `corsica_gateway` on a TOML text on ephemeral
//!   ports.
//!
//! Every wait is bounded by [`STEP`] unless a test says otherwise.
//!
//! ```
//! let port = corsica_testkit::free_port();
//! assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

pub mod headers;
pub mod raw;

#[cfg(feature = "server")]
pub mod client;
#[cfg(feature = "gateway")]
pub mod gateway;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "tls")]
pub mod tls;

/// The longest any single network step of a test may take.
pub const STEP: Duration = Duration::from_secs(15);

/// A port on 127.0.0.1 nothing listens on (bound, then released).
///
/// ```
/// let port = corsica_testkit::free_port();
/// assert_ne!(port, 0);
/// ```
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Starts a program (e.g. `corsica serve ...`) with its stdout piped and waits for its first
/// line (the banner a server prints once it listens); the child and that line. Kill the
/// child when done.
///
/// ```no_run
/// let (mut child, banner) = corsica_testkit::spawn_until_first_line("corsica", &["serve"]);
/// assert!(banner.contains("listening"));
/// child.kill().unwrap();
/// ```
pub fn spawn_until_first_line(program: &str, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    }
    (child, line)
}

/// A multi-threaded tokio runtime with two workers, for tests that are not `async`.
///
/// ```
/// let rt = corsica_testkit::runtime();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `check` every `every` until it returns true, at most `tries` times.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// let mut n = 0;
/// let reached = corsica_testkit::eventually(10, Duration::from_millis(1), || {
///     n += 1;
///     let done = n == 3;
///     async move { done }
/// })
/// .await;
/// assert!(reached);
/// # });
/// ```
pub async fn eventually<F, Fut>(tries: usize, every: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..tries {
        if check().await {
            return true;
        }
        tokio::time::sleep(every).await;
    }
    false
}

/// Calls `check` every `every` until it returns true or `within` has passed (blocking).
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let done = corsica_testkit::wait_until(Duration::from_secs(5), Duration::from_millis(1), || {
///     start.elapsed() > Duration::from_millis(5)
/// });
/// assert!(done);
/// ```
pub fn wait_until(within: Duration, every: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}
