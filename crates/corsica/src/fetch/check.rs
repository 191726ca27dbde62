//! The CORS check (Fetch § 4.10 "CORS check", as Chromium's `cors::CheckAccess`), the
//! redirect-location check, and which response headers scripts can read.

use super::error::CorsError;
use super::outcome::{ResponseType, Verdict};
use super::response::HttpResponse;
use super::safelist::SAFELISTED_RESPONSE_HEADERS;
use super::simulation::{BlockContext, Hop, Simulation};

/// A failed check: the kind and the parameter Chromium reports.
pub(crate) type CheckFailure = (CorsError, String);

/// The CORS check of one response (Fetch § 4.10; Chromium `cors::CheckAccess`), in
/// Chromium's order:
/// 1. no `Access-Control-Allow-Origin` → `MissingAllowOriginHeader`;
/// 2. `*`: with credentials `include` → `WildcardOriginNotAllowed`, else pass (no ACAC check);
/// 3. a value other than the origin's serialization: contains `' '` or `','` →
///    `MultipleAllowOriginValues`; `null` → `AllowOriginMismatch`; not a valid URL →
///    `InvalidAllowOriginValue`; otherwise `AllowOriginMismatch`;
/// 4. credentials `include` and `Access-Control-Allow-Credentials` not exactly `true` →
///    `InvalidAllowCredentials`.
///
/// Duplicate header lines are joined with `", "` first, as Chromium does.
pub(crate) fn cors_check(
    response: &HttpResponse,
    origin: &str,
    include: bool,
) -> Result<(), (CorsError, String)> {
    let Some(acao) = response.get("access-control-allow-origin") else {
        return Err((CorsError::MissingAllowOriginHeader, String::new()));
    };
    if acao == "*" {
        if include {
            return Err((CorsError::WildcardOriginNotAllowed, String::new()));
        }
        return Ok(());
    }
    if acao != origin {
        let kind = if acao.contains([' ', ',']) {
            CorsError::MultipleAllowOriginValues
        } else if acao == "null" {
            CorsError::AllowOriginMismatch
        } else if !is_valid_gurl(&acao) {
            CorsError::InvalidAllowOriginValue
        } else {
            CorsError::AllowOriginMismatch
        };
        return Err((kind, acao));
    }
    if include {
        match response.get("access-control-allow-credentials") {
            Some(v) if v == "true" => {}
            Some(v) => return Err((CorsError::InvalidAllowCredentials, v)),
            None => return Err((CorsError::InvalidAllowCredentials, String::new())),
        }
    }
    Ok(())
}

/// Whether Chromium's `GURL` would call the value a valid URL (approximated with the URL
/// standard's parser, which GURL follows for the cases that matter here: a scheme is
/// required, special schemes need a host).
fn is_valid_gurl(value: &str) -> bool {
    url::Url::parse(value).is_ok()
}

/// The redirect-location check (Fetch § 4.4 "HTTP-redirect fetch" steps 9–10; Chromium
/// `cors::CheckRedirectLocation`): credentials in the `Location` URL fail a `cors`-mode
/// request that is tainted or leaves the initiator's origin, and any request with the CORS
/// flag set.
pub(crate) fn redirect_location_check(
    location: &url::Url,
    cors_mode: bool,
    initiator: &str,
    cors_flag: bool,
    tainted: bool,
) -> Result<(), CheckFailure> {
    let has_credentials = !location.username().is_empty() || location.password().is_some();
    if !has_credentials {
        return Ok(());
    }
    let same_origin = location.origin().ascii_serialization() == initiator;
    if (cors_mode && (tainted || !same_origin)) || cors_flag {
        return Err((CorsError::RedirectContainsCredentials, String::new()));
    }
    Ok(())
}

/// The response headers a script can read from a CORS response (Fetch § "CORS-filtered
/// response"): the safelisted ones, plus those named in `Access-Control-Expose-Headers`;
/// `*` exposes all but only without credentials `include` (with it, `*` is a literal name).
/// `Set-Cookie`/`Set-Cookie2` are never readable. Returned lower-cased, sorted, unique,
/// and only names present in the response.
pub(crate) fn exposed_headers(response: &HttpResponse, include: bool) -> Vec<String> {
    let listed: Vec<String> = response
        .get("access-control-expose-headers")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim_matches([' ', '\t']).to_ascii_lowercase())
                .filter(|s| !s.is_empty() && crate::method::is_token(s.as_bytes()))
                .collect()
        })
        .unwrap_or_default();
    let all = !include && listed.iter().any(|n| n == "*");
    let mut out: Vec<String> = response
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| n != "set-cookie" && n != "set-cookie2")
        .filter(|n| all || SAFELISTED_RESPONSE_HEADERS.contains(&n.as_str()) || listed.contains(n))
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Simulation<'_, '_> {
    /// The response that ends the fetch (not a redirect): CORS-checked when the CORS flag
    /// is set, then the verdict with what scripts can read.
    pub(super) fn final_response(
        &mut self,
        hop: &Hop,
        response: &HttpResponse,
        url: String,
        origin_value: &str,
        unsafe_headers: &[String],
    ) -> Verdict {
        let include = self.include();
        if hop.cors_flag {
            if let Err((kind, parameter)) = cors_check(response, origin_value, include) {
                let cx = BlockContext {
                    origin: origin_value,
                    method: &hop.method,
                    actual_method: &hop.method,
                    unsafe_headers,
                };
                return self.blocked(kind, parameter, &url, cx);
            }
        }
        let (status, response_type, readable_headers) = if hop.opaque {
            (0, ResponseType::Opaque, Vec::new())
        } else if hop.cors_flag {
            (
                response.status,
                ResponseType::Cors,
                exposed_headers(response, include),
            )
        } else {
            let mut all: Vec<String> = response
                .headers
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
                .filter(|n| n != "set-cookie" && n != "set-cookie2")
                .collect();
            all.sort();
            all.dedup();
            (response.status, ResponseType::Basic, all)
        };
        Verdict::Allowed {
            status,
            response_type,
            readable_headers,
            url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_passes_only_without_credentials() {
        let r = HttpResponse::new(200).header("Access-Control-Allow-Origin", "*");
        assert_eq!(
            cors_check(&r, "https://a.example", true),
            Err((CorsError::WildcardOriginNotAllowed, String::new()))
        );
        assert_eq!(cors_check(&r, "https://a.example", false), Ok(()));
    }

    #[test]
    fn safelisted_and_exposed_headers_are_readable() {
        let r = HttpResponse::new(200)
            .header("Content-Type", "application/json")
            .header("X-Request-Id", "1")
            .header("X-Secret", "s")
            .header("Access-Control-Expose-Headers", "x-request-id");
        assert_eq!(exposed_headers(&r, false), ["content-type", "x-request-id"]);
    }

    const ORIGIN: &str = "http://app.localhost:8080";

    fn resp(headers: &[(&str, &str)]) -> HttpResponse {
        let mut r = HttpResponse::new(200);
        for (n, v) in headers {
            r = r.header(*n, *v);
        }
        r
    }

    /// Fetch § 4.10 "CORS check", in Chromium's classification order.
    #[test]
    fn cors_check_fetch_4_10() {
        use CorsError::*;
        type Want = Result<(), (CorsError, &'static str)>;
        type Headers = &'static [(&'static str, &'static str)];
        let cases: &[(Headers, bool, Want)] = &[
            (&[], false, Err((MissingAllowOriginHeader, ""))),
            (&[("access-control-allow-origin", "*")], false, Ok(())),
            (
                &[("access-control-allow-origin", "*")],
                true,
                Err((WildcardOriginNotAllowed, "")),
            ),
            (&[("access-control-allow-origin", ORIGIN)], false, Ok(())),
            (
                &[("access-control-allow-origin", ORIGIN)],
                true,
                Err((InvalidAllowCredentials, "")),
            ),
            (
                &[
                    ("access-control-allow-origin", ORIGIN),
                    ("access-control-allow-credentials", "true"),
                ],
                true,
                Ok(()),
            ),
            (
                &[
                    ("access-control-allow-origin", ORIGIN),
                    ("access-control-allow-credentials", "TRUE"),
                ],
                true,
                Err((InvalidAllowCredentials, "TRUE")),
            ),
            (
                &[
                    ("access-control-allow-origin", ORIGIN),
                    ("access-control-allow-credentials", "false"),
                ],
                false,
                Ok(()),
            ),
            (
                &[("access-control-allow-origin", "http://app.localhost:8080/")],
                false,
                Err((AllowOriginMismatch, "http://app.localhost:8080/")),
            ),
            (
                &[("access-control-allow-origin", "null")],
                false,
                Err((AllowOriginMismatch, "null")),
            ),
            (
                &[("access-control-allow-origin", "app.localhost")],
                false,
                Err((InvalidAllowOriginValue, "app.localhost")),
            ),
            (
                &[("access-control-allow-origin", "")],
                false,
                Err((InvalidAllowOriginValue, "")),
            ),
            (
                &[(
                    "access-control-allow-origin",
                    "http://a.localhost http://b.localhost",
                )],
                false,
                Err((
                    MultipleAllowOriginValues,
                    "http://a.localhost http://b.localhost",
                )),
            ),
            (
                &[
                    ("access-control-allow-origin", ORIGIN),
                    ("access-control-allow-origin", ORIGIN),
                ],
                false,
                Err((
                    MultipleAllowOriginValues,
                    "http://app.localhost:8080, http://app.localhost:8080",
                )),
            ),
            (
                &[("access-control-allow-origin", "HTTP://APP.LOCALHOST:8080")],
                false,
                Err((AllowOriginMismatch, "HTTP://APP.LOCALHOST:8080")),
            ),
        ];
        for (headers, include, want) in cases {
            let got = cors_check(&resp(headers), ORIGIN, *include);
            let want = want.map_err(|(k, p)| (k, p.to_owned()));
            assert_eq!(got, want, "{headers:?} include={include}");
        }
    }

    /// Fetch § 4.4 "HTTP-redirect fetch" steps 9–10.
    #[test]
    fn redirect_credentials() {
        let with = url::Url::parse("http://u:p@api.localhost/").unwrap();
        let without = url::Url::parse("http://api.localhost/").unwrap();
        let same = url::Url::parse("http://u:p@app.localhost:8080/").unwrap();
        assert!(redirect_location_check(&with, true, ORIGIN, false, false).is_err());
        assert!(redirect_location_check(&without, true, ORIGIN, true, true).is_ok());
        assert!(redirect_location_check(&same, true, ORIGIN, false, false).is_ok());
        assert!(redirect_location_check(&same, true, ORIGIN, false, true).is_err());
        assert!(redirect_location_check(&same, false, ORIGIN, true, false).is_err());
    }

    /// Fetch § "CORS-filtered response" and § `Access-Control-Expose-Headers`.
    #[test]
    fn exposure() {
        let r = resp(&[
            ("content-type", "text/plain"),
            ("x-a", "1"),
            ("set-cookie", "a=b"),
            ("access-control-expose-headers", "*"),
        ]);
        assert_eq!(
            exposed_headers(&r, false),
            ["access-control-expose-headers", "content-type", "x-a"]
        );
        assert_eq!(exposed_headers(&r, true), ["content-type"]);
    }
}
