//! The HTTP-redirect fetch (Fetch § 4.4), in Chromium's order: the CORS check of the
//! redirect response, the redirect mode, the redirect limit, the `Location` and its
//! checks, origin tainting, and the method change on 301/302/303.

use super::browser::ErrorKind;
use super::check::{cors_check, redirect_location_check};
use super::error::CorsError;
use super::outcome::{ConsoleError, ResponseType, Verdict};
use super::request::{Mode, RedirectMode, same_origin, same_origin_urls};
use super::response::HttpResponse;
use super::simulation::{BlockContext, Hop, Simulation};
use super::webkit::WebKitError;

/// The most redirects Chromium follows (the 21st is `ERR_TOO_MANY_REDIRECTS`).
pub const MAX_REDIRECTS: usize = 20;

const BODY_HEADERS: [&str; 4] = [
    "content-encoding",
    "content-language",
    "content-location",
    "content-type",
];

impl Simulation<'_, '_> {
    /// Follows the redirect `response` of this hop, updating `hop` for the next one:
    /// `Some` verdict when the fetch ends here, `None` to fetch the next URL.
    pub(super) fn http_redirect_fetch(
        &mut self,
        hop: &mut Hop,
        response: &HttpResponse,
        url: &str,
        origin_value: &str,
        unsafe_headers: &[String],
    ) -> Option<Verdict> {
        let req = self.request;
        let initiator = req.origin.as_str();
        if let Some(step) = self.steps.last_mut() {
            step.redirected = true;
        }
        let method = hop.method.clone();
        let cx = BlockContext {
            origin: origin_value,
            method: &method,
            actual_method: &method,
            unsafe_headers,
        };
        if hop.cors_flag {
            if let Err((kind, parameter)) = cors_check(response, origin_value, self.include()) {
                return Some(self.blocked(kind, parameter, url, cx));
            }
        }
        match req.redirect {
            RedirectMode::Error => {
                let reason = "TypeError: Failed to fetch (redirect mode is \"error\")";
                if self.browser.reports_redirect_mode_error() {
                    let kind = WebKitError::RedirectNotAllowed;
                    return Some(Verdict::Failed {
                        reason: reason.to_owned(),
                        console: Some(ConsoleError {
                            kind: ErrorKind::WebKit(kind),
                            message: kind.console_message(url, "", None, ""),
                        }),
                    });
                }
                return Some(Simulation::failed(reason));
            }
            RedirectMode::Manual => {
                return Some(Verdict::Allowed {
                    status: 0,
                    response_type: ResponseType::OpaqueRedirect,
                    readable_headers: Vec::new(),
                    url: url.to_owned(),
                });
            }
            RedirectMode::Follow => {}
        }
        if hop.redirects == MAX_REDIRECTS {
            return Some(self.network_failed(hop, "net::ERR_TOO_MANY_REDIRECTS"));
        }
        hop.redirects += 1;
        let joined;
        let mut locations = response.locations();
        if self.browser.joins_location_lines() {
            joined = locations.join(", ");
            locations = vec![joined.as_str()];
        }
        if locations.iter().any(|l| *l != locations[0]) {
            return Some(self.network_failed(hop, "net::ERR_RESPONSE_HEADERS_MULTIPLE_LOCATION"));
        }
        let location = locations[0];
        if location.is_empty() && self.browser.fails_on_empty_location() {
            return Some(self.network_failed(hop, "a redirect with an empty Location"));
        }
        let Ok(mut next) = hop.url.join(location) else {
            return Some(self.network_failed(
                hop,
                format!("net::ERR_INVALID_REDIRECT (Location `{location}`)"),
            ));
        };
        if !matches!(next.scheme(), "http" | "https") {
            if req.mode == Mode::Cors && self.browser.reports_non_cors_scheme_redirect() {
                return Some(self.blocked(
                    CorsError::CorsDisabledScheme,
                    next.to_string(),
                    url,
                    cx,
                ));
            }
            return Some(
                self.network_failed(hop, format!("net::ERR_UNSAFE_REDIRECT (Location `{next}`)")),
            );
        }
        let cors_mode = req.mode == Mode::Cors;
        if let Err((kind, parameter)) =
            redirect_location_check(&next, cors_mode, initiator, hop.cors_flag, hop.tainted)
        {
            return Some(self.blocked(kind, parameter, url, cx));
        }
        if req.mode == Mode::SameOrigin && !same_origin(&next, initiator) {
            // Seen in Chromium 156: the load is aborted without a CORS error (the
            // Fetch standard and DevTools' `DisallowedByMode` notwithstanding).
            return Some(Simulation::failed(format!(
                "net::ERR_ABORTED (mode \"same-origin\" and a redirect to another origin: {next})"
            )));
        }
        if (!next.username().is_empty() || next.password().is_some())
            && !self.browser.follows_same_origin_credentials_redirect()
        {
            // Seen in Chromium 156: a redirect to a URL with credentials that is no
            // CORS error (same-origin, untainted) is not followed either.
            return Some(Simulation::failed(format!(
                "net::ERR_ABORTED (redirect to a URL with credentials: {next})"
            )));
        }
        if !same_origin_urls(&next, &hop.url) && !same_origin(&hop.url, initiator) {
            hop.tainted = true;
        }
        let to_get = (matches!(response.status, 301 | 302) && hop.method == "POST")
            || (response.status == 303 && !matches!(hop.method.as_str(), "GET" | "HEAD"));
        if to_get {
            hop.method = "GET".into();
            hop.headers
                .retain(|(n, _)| !BODY_HEADERS.contains(&n.as_str()));
        }
        if req.mode == Mode::NoCors
            && self.browser.nulls_origin_on_no_cors_redirect()
            && !matches!(hop.method.as_str(), "GET" | "HEAD")
            && !same_origin_urls(&next, &hop.url)
        {
            hop.origin_nulled = true;
        }
        next.set_fragment(None);
        hop.url = next;
        let next_cross = !same_origin(&hop.url, initiator);
        if req.mode == Mode::NoCors {
            hop.opaque = hop.opaque || next_cross;
        } else {
            hop.cors_flag = hop.cors_flag || next_cross;
        }
        None
    }
}
