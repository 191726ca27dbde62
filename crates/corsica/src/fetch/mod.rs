//! The browser model: what Chromium and Firefox do for a page's `fetch()`.
//!
//! [`simulate`] plays a [`FetchRequest`] against a [`Server`] (a live HTTP client in the
//! doctor, a closure in tests, a HAR file in `explain`) the way Chromium would
//! ([`simulate_with`] and [`Options::browser`] for Firefox: the Fetch-standard core is
//! shared, and each difference is one named branch of [`Browser`]): it decides
//! whether a preflight is sent and sends it with the headers a browser sends, judges it,
//! sends the actual request, follows redirects (tainting the origin to `null` after a
//! cross-origin hop, changing the method on 301/302/303, re-preflighting when needed),
//! CORS-checks every response, and returns an [`Outcome`]: allowed (with the response
//! headers scripts can read), blocked with the failed check ([`CorsError`], Chromium's
//! DevTools names), the browser's own [`ErrorKind`] (the DevTools name, or Firefox's
//! `security.properties` key), the failed parameter, the browser's console message and a
//! fix hint, or failed without a CORS error (a network error or a `TypeError`).
//!
//! ```
//! use corsica::fetch::{simulate, CorsError, FetchRequest, HttpRequest, HttpResponse, NetworkError, Verdict};
//! use corsica::Origin;
//!
//! let page = Origin::parse("https://app.example.com")?;
//! let request = FetchRequest::new(page, "https://api.example.com/items")
//!     .method("POST")
//!     .header("Content-Type", "application/json");
//! // A server that forgot to answer preflights.
//! let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
//!     Ok(HttpResponse::new(if r.method == "OPTIONS" { 405 } else { 200 }))
//! };
//! let outcome = simulate(&request, &mut server, None);
//! assert!(outcome.preflight);
//! let Verdict::Blocked(blocked) = &outcome.verdict else { panic!() };
//! assert_eq!(blocked.error, CorsError::PreflightMissingAllowOriginHeader);
//! assert!(blocked.message.starts_with("Access to fetch at 'https://api.example.com/items' from origin 'https://app.example.com' has been blocked by CORS policy: Response to preflight request"));
//! println!("{}", blocked.hint);
//! # Ok::<(), corsica::OriginError>(())
//! ```
//!
//! One module per step of the Fetch standard: [`request`](FetchRequest) (the `Request`
//! constructor, the headers it keeps, Fetch Metadata), [`safelist`] (CORS-safelisted
//! methods and headers), [`preflight`] (when a preflight is needed, how its response is
//! judged, the preflight cache), the CORS check of a response, the HTTP-redirect fetch,
//! Local Network Access ([`LocalNetwork`], [`AddressSpace`]: where the page and the server
//! are, the permission, `targetAddressSpace`), and the outcome with the browsers' error
//! kinds, console messages and fix hints; where browsers part ways ([`Browser`]) and
//! Firefox's vocabulary ([`FirefoxError`]).

mod browser;
mod check;
mod error;
mod firefox;
pub mod header_order;
mod local_network;
mod outcome;
pub mod preflight;
pub mod recorded;
mod redirect;
mod request;
mod response;
pub mod safelist;
mod simulation;
mod webkit;

pub use browser::{Browser, ErrorKind, UnknownBrowser};
pub use error::{CorsError, UnknownCorsError};
pub use firefox::{FirefoxError, UnknownFirefoxError};
pub use local_network::{AddressSpace, LocalNetwork, UnknownAddressSpace};
pub use outcome::{Blocked, ConsoleError, Outcome, ResponseType, Step, Verdict};
pub use redirect::MAX_REDIRECTS;
pub use request::{Credentials, FetchRequest, HttpRequest, Mode, RedirectMode};
pub use response::{HttpResponse, NetworkError, Server};
pub use simulation::{Options, simulate, simulate_with};
pub use webkit::WebKitError;
