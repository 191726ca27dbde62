//! The gateway's request path for the fuzzer (feature `fuzzing`; not a stable API).
//!
//! [`Harness`] holds a runtime and the gateway's shared state, built once; each call to
//! [`Harness::exchange`] writes arbitrary bytes, as a client's raw HTTP/1.1 byte stream,
//! into a fresh connection served exactly as a client's plain-TCP connection is (the same
//! hyper settings, the same per-request handler: routing, the engine's decision, preflights
//! at the edge, echo or forwarding, CORS on every answer), over an in-memory
//! [`tokio::io::duplex`] instead of a socket, and returns every byte the gateway answered.
//! The client's end of the stream is only its side closing (`half_close`): the answers to
//! what it sent are still written.
//!
//! ```
//! use corsica_gateway::fuzzing::{CONFIG, Harness};
//! let harness = Harness::new(CONFIG)?;
//! let answer = harness.exchange(
//!     b"OPTIONS /api/x HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://app.example.com\r\n\
//!       Access-Control-Request-Method: PUT\r\n\r\n",
//! );
//! let answer = String::from_utf8_lossy(&answer);
//! assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
//! assert!(answer.contains("access-control-allow-origin: https://app.example.com"));
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{Config, Limits};
use crate::connection::http1_builder;
use crate::metrics::Metrics;
use crate::proxy::{self, Shared};

/// The fuzzer's configuration: two routes. `api` (host `api.example.com`, path `/api/`,
/// edge guard on, a credentialed policy with an origin pattern) forwards to
/// `127.0.0.1:1`, where nothing listens: the connection is refused at once, so forwarded
/// requests get the gateway's 502 with CORS headers, deterministically and fast. `public`
/// takes everything else to the in-process echo upstream, under `*`.
pub const CONFIG: &str = r#"
listen = "127.0.0.1:0"

[limits]
upstream_timeout_ms = 2000
header_read_timeout_ms = 2000
body_read_timeout_ms = 2000
upstream_body_timeout_ms = 2000

[[route]]
name = "api"
host = "api.example.com"
path = "/api/"
upstream = "http://127.0.0.1:1"
guard = true
[route.cors]
origins = ["https://app.example.com", "https://*.example.com", "http://localhost:*"]
credentials = true
methods = ["GET", "POST", "PUT", "DELETE"]
headers = ["content-type", "authorization", "x-api-key"]
expose = ["x-request-id"]
max_age = 600

[[route]]
name = "public"
upstream = "echo"
[route.cors]
origins = ["*"]
methods = ["GET", "HEAD", "POST"]
"#;

/// How long one exchange may take. Every exchange ends by itself once the client's side is
/// closed (the upstream refuses at once, the echo answers at once); one still running after
/// this is a hang, and [`Harness::exchange`] panics so that the fuzzer reports it.
pub const EXCHANGE_LIMIT: Duration = Duration::from_secs(10);

/// The client address the gateway sees (TEST-NET-3).
const REMOTE: ([u8; 4], u16) = ([203, 0, 113, 7], 40_000);

/// A gateway's request path, ready for many connections: build it once.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    shared: Arc<Shared>,
    limits: Limits,
}

impl Harness {
    /// A harness serving the configuration `toml` (for example [`CONFIG`]).
    ///
    /// # Errors
    ///
    /// The configuration's errors (with line and column), or the runtime's.
    pub fn new(toml: &str) -> Result<Harness, Box<dyn std::error::Error + Send + Sync>> {
        let config = Config::parse(toml, "<fuzzing>")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let limits = config.limits;
        // The upstream client is built inside the runtime (its connector needs one).
        let shared = runtime.block_on(async { Arc::new(Shared::new(config, Metrics::new())) });
        Ok(Harness {
            runtime,
            shared,
            limits,
        })
    }

    /// Writes `input` as one client's byte stream into a new connection, closes the
    /// client's side, and returns everything the gateway wrote back until it closed the
    /// connection.
    ///
    /// # Panics
    ///
    /// When the connection is still open after [`EXCHANGE_LIMIT`] (a hang), or when the
    /// gateway panics.
    pub fn exchange(&self, input: &[u8]) -> Vec<u8> {
        let shared = self.shared.clone();
        let remote = SocketAddr::from(REMOTE);
        let service = service_fn(move |req: Request<Incoming>| {
            let shared = shared.clone();
            async move {
                Ok::<_, std::convert::Infallible>(proxy::handle(shared, req, remote, false).await)
            }
        });
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut builder = http1_builder(&self.limits);
        builder.half_close(true);
        let exchange = async move {
            let (mut from_gateway, mut to_gateway) = tokio::io::split(client);
            let serve = async move {
                // Errors are the client's (a malformed request, a body cut short): hyper
                // has answered what it could.
                let _ = builder
                    .serve_connection(TokioIo::new(server), service)
                    .await;
            };
            let send = async move {
                // The gateway may close before reading everything (a 400, a 431): the
                // rest of the input is not wanted then.
                if to_gateway.write_all(input).await.is_ok() {
                    let _ = to_gateway.shutdown().await;
                }
            };
            let receive = async move {
                let mut answer = Vec::new();
                let _ = from_gateway.read_to_end(&mut answer).await;
                answer
            };
            let ((), (), answer) = tokio::join!(serve, send, receive);
            answer
        };
        self.runtime.block_on(async {
            match tokio::time::timeout(EXCHANGE_LIMIT, exchange).await {
                Ok(answer) => answer,
                Err(_) => panic!(
                    "the gateway still held the connection {EXCHANGE_LIMIT:?} after the client closed its side: a hang"
                ),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelined_requests_are_all_answered_after_the_client_closes() {
        let harness = Harness::new(CONFIG).expect("the fuzzing configuration is valid");
        let answer = harness.exchange(
            b"GET /a HTTP/1.1\r\nHost: www.example.com\r\n\r\n\
              POST /api/x HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://app.example.com\r\nContent-Length: 2\r\n\r\nhi",
        );
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 2, "{answer}");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("HTTP/1.1 502"), "{answer}");
    }
}
