//! # corsica-gateway: CORS once, for every backend
//!
//! A reverse proxy on hyper 1 and tokio that takes CORS off the backends' hands: routes by
//! host, path prefix and method; answers preflights at the edge (never forwarded); replaces
//! whatever CORS headers upstreams send with the route's policy; puts the CORS headers on
//! every response, including the gateway's own 502 and 504, so the browser shows the real
//! error; merges `Vary`; streams bodies; speaks HTTP/1.1 and h2c; reloads its
//! configuration on SIGHUP and on file change without failing a request; shuts down
//! gracefully; counts every denial with its reason, logs them at a limited rate, and exports
//! Prometheus metrics.
//!
//! Every CORS rule comes from the [`corsica`] engine: a policy the engine refuses is a
//! configuration error at start (with its line and column), never a silent surprise.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let config = corsica_gateway::config::Config::embedded();
//! let running = corsica_gateway::gateway::start(config, None).await?;
//! println!("listening on http://{}", running.addr);
//! running.run_until_signal()?.await;
//! # Ok(())
//! # }
//! ```
// No unsafe code, but for one call to glibc's `malloc_trim` (see `memory.rs`).
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
mod connection;
mod console;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
mod log_limit;
mod memory;
mod metrics;
mod proxy;
pub mod shadow;
mod slots;
mod upstream;
