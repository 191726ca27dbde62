//! # Corsica: CORS done right
//!
//! The engine behind the Corsica gateway, middleware and doctor. It is pure: no I/O, no
//! global state, no `unsafe`.
//!
//! - [`Origin`]: parsing and serialization of origins per the URL and Fetch standards.
//! - [`OriginSet`]: exact origins (hash lookup), `*`, anchored subdomain patterns
//!   (`https://*.example.com`), any-port patterns (`http://localhost:*`) and a predicate
//!   escape hatch.
//! - [`PolicyBuilder`] → [`Policy`]: a CORS policy that refuses insecure or broken
//!   configurations with a [`ConfigError`] that names the problem and the fix.
//! - [`Policy::decide`]: the server's answer to a request (preflight, actual CORS request,
//!   or not CORS) as a [`Decision`] with the exact response headers, `Vary` included, and a
//!   machine-readable [`Reason`] for every denial.
//! - Feature `tower`: [`tower::CorsLayer`], a `tower` layer for axum, hyper and tonic.
//!
//! ```
//! use corsica::{Policy, RequestKind};
//! use http::{HeaderMap, HeaderValue, Method};
//!
//! let policy = Policy::builder()
//!     .allow_origins(["https://app.example.com"])
//!     .allow_methods(["GET", "POST", "PUT"])
//!     .allow_headers(["content-type", "x-api-key"])
//!     .build()?;
//!
//! let mut request = HeaderMap::new();
//! request.insert("origin", HeaderValue::from_static("https://app.example.com"));
//! request.insert("access-control-request-method", HeaderValue::from_static("PUT"));
//! request.insert("access-control-request-headers", HeaderValue::from_static("x-api-key"));
//!
//! let decision = policy.decide(&Method::OPTIONS, &request);
//! assert_eq!(decision.kind(), RequestKind::Preflight);
//! assert!(decision.is_allowed());
//! # Ok::<(), corsica::ConfigErrors>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod fetch;
pub mod header_name;
pub mod method;
#[cfg(feature = "tower")]
pub mod tower;

mod display;
mod errors;
mod guard;
mod header_list;
mod no_route;
mod origin;
mod origin_entry;
mod origin_set;
mod policy;
mod reason;
mod server;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

pub use errors::Errors;
pub use guard::{GuardRefusal, guard};
pub use header_list::{HeaderList, HeaderListError, HeaderListLimits};
pub use no_route::unrouted_response;
pub use origin::{MAX_ORIGIN_LEN, Origin, OriginError};
pub use origin_entry::{OriginEntry, PatternError, PortRule};
pub use origin_set::{OriginPredicate, OriginSet};
pub use policy::{
    ConfigError, ConfigErrors, MAX_MAX_AGE, Policy, PolicyBuilder, PublicAccess, TierView,
};
pub use reason::Reason;
pub use server::{
    ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK, ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK, CORSICA_REASON,
    CorsHeaders, Decision, RequestKind, preflight_method,
};
