//! CORS preflights: when one is needed, the request a browser sends, how the response is
//! judged (in Chromium's order), and the CORS-preflight cache.

use std::collections::HashMap;

use super::browser::Browser;
use super::check::{CheckFailure, cors_check};
use super::error::CorsError;
use super::outcome::Verdict;
use super::request::HttpRequest;
use super::response::HttpResponse;
use super::safelist::is_safelisted_method;
use super::simulation::{BlockContext, Hop, Simulation};
use crate::header_list::{HeaderList, HeaderListLimits};

/// Chromium's default max-age when `Access-Control-Max-Age` is missing or unparsable
/// (Fetch: "5"), in seconds.
pub const DEFAULT_MAX_AGE: u64 = 5;
/// Chromium's cap on `Access-Control-Max-Age` (`kMaxTimeout = base::Hours(2)`), in seconds.
pub const MAX_AGE_CAP: u64 = 7200;

/// Whether a request needs a preflight (Fetch § 4.1 "main fetch" step 12; Chromium
/// `NeedsPreflight`): with the CORS flag set, a method other than GET/HEAD/POST, or any
/// CORS-unsafe request header.
///
/// ```
/// use corsica::fetch::preflight::needs_preflight;
/// assert!(needs_preflight("PUT", &[]));
/// assert!(needs_preflight("GET", &["x-api-key".to_owned()]));
/// assert!(!needs_preflight("POST", &[]));
/// ```
pub fn needs_preflight(method: &str, unsafe_headers: &[String]) -> bool {
    !is_safelisted_method(method) || !unsafe_headers.is_empty()
}

/// The value of `Access-Control-Request-Headers` a browser sends: the unsafe names,
/// lower-cased, sorted, joined with `,` and no space; `None` when there are none. (In
/// Firefox a name appended twice is listed twice: see
/// [`unsafe_header_names_in`](super::safelist::unsafe_header_names_in).)
///
/// ```
/// use corsica::fetch::preflight::request_headers_value;
/// assert_eq!(request_headers_value(&["content-type".into(), "x-api-key".into()]).as_deref(), Some("content-type,x-api-key"));
/// assert_eq!(request_headers_value(&[]), None);
/// ```
pub fn request_headers_value(unsafe_headers: &[String]) -> Option<String> {
    (!unsafe_headers.is_empty()).then(|| unsafe_headers.join(","))
}

/// `Access-Control-Max-Age` as Chromium reads it: a missing or unparsable value means
/// [`DEFAULT_MAX_AGE`], a negative one 0, and values are capped at [`MAX_AGE_CAP`].
///
/// ```
/// use corsica::fetch::preflight::effective_max_age;
/// assert_eq!(effective_max_age(None), 5);
/// assert_eq!(effective_max_age(Some("86400")), 7200);
/// assert_eq!(effective_max_age(Some("-1")), 0);
/// assert_eq!(effective_max_age(Some("ten")), 5);
/// ```
pub fn effective_max_age(value: Option<&str>) -> u64 {
    effective_max_age_in(Browser::Chromium, value)
}

/// Firefox's cap on `Access-Control-Max-Age` (24 hours), in seconds.
pub const FIREFOX_MAX_AGE_CAP: u64 = 86_400;

/// [`effective_max_age`] as `browser` reads it. Firefox (`nsCORSPreflightListener`):
/// missing or empty means [`DEFAULT_MAX_AGE`], digits are capped at
/// [`FIREFOX_MAX_AGE_CAP`], and anything else (a sign, a word) means the result is not
/// cached at all.
///
/// ```
/// use corsica::fetch::{Browser, preflight::effective_max_age_in};
/// assert_eq!(effective_max_age_in(Browser::Firefox, None), 5);
/// assert_eq!(effective_max_age_in(Browser::Firefox, Some("ten")), 0);
/// assert_eq!(effective_max_age_in(Browser::Firefox, Some("86401")), 86400);
/// ```
pub fn effective_max_age_in(browser: Browser, value: Option<&str>) -> u64 {
    if browser.reads_max_age_as_digits_only() {
        return match value.map(str::trim) {
            None | Some("") => DEFAULT_MAX_AGE,
            Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => v
                .parse::<u64>()
                .map_or(FIREFOX_MAX_AGE_CAP, |n| n.min(FIREFOX_MAX_AGE_CAP)),
            Some(_) => 0,
        };
    }
    match value.map(str::parse::<i64>) {
        Some(Ok(n)) if n < 0 => 0,
        Some(Ok(n)) => u64::try_from(n).unwrap_or(0).min(MAX_AGE_CAP),
        _ => DEFAULT_MAX_AGE,
    }
}

/// What a successful preflight allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightResult {
    /// `Access-Control-Allow-Methods`, case kept.
    pub methods: Vec<String>,
    /// `Access-Control-Allow-Headers`, lower-cased.
    pub headers: Vec<String>,
    /// Whether the preflight was for a credentialed (`include`) request.
    pub include: bool,
    /// Seconds the result may be cached.
    pub max_age: u64,
    /// Whether `*` in `Access-Control-Allow-Headers` leaves `authorization` out (the Fetch
    /// standard's rule). Chromium 156 as tested lets `*` cover it (see [`Options`](super::Options)).
    pub authorization_needs_listing: bool,
}

impl PreflightResult {
    /// Whether the result allows `method` (Chromium `EnsureAllowedCrossOriginMethod`):
    /// listed (case-sensitive), safelisted, or `*` without credentials.
    fn check_method(&self, method: &str) -> Result<(), CheckFailure> {
        if self.methods.iter().any(|m| m == method)
            || is_safelisted_method(method)
            || (!self.include && self.methods.iter().any(|m| m == "*"))
        {
            Ok(())
        } else {
            Err((
                CorsError::MethodDisallowedByPreflightResponse,
                method.to_owned(),
            ))
        }
    }

    /// The unsafe headers the result does not allow (Chromium
    /// `EnsureAllowedCrossOriginHeaders`): without credentials `*` covers every name (but
    /// `authorization` when [`PreflightResult::authorization_needs_listing`]); otherwise each
    /// name must be listed. Sorted.
    pub fn disallowed_headers(&self, unsafe_headers: &[String]) -> Vec<String> {
        let listed = |h: &String| self.headers.contains(h);
        if !self.include && self.headers.iter().any(|h| h == "*") {
            return unsafe_headers
                .iter()
                .filter(|h| self.authorization_needs_listing && *h == "authorization" && !listed(h))
                .cloned()
                .collect();
        }
        unsafe_headers
            .iter()
            .filter(|h| !listed(h))
            .cloned()
            .collect()
    }

    /// The header check: fails with the first disallowed name by name (the preflight fetch
    /// then names the one Chromium reports, see [`header_order`](super::header_order)).
    fn check_headers(&self, unsafe_headers: &[String]) -> Result<(), CheckFailure> {
        match self.disallowed_headers(unsafe_headers).into_iter().next() {
            Some(h) => Err((CorsError::HeaderDisallowedByPreflightResponse, h)),
            None => Ok(()),
        }
    }

    /// Both checks, method first.
    pub(crate) fn allows(
        &self,
        method: &str,
        unsafe_headers: &[String],
    ) -> Result<(), CheckFailure> {
        self.check_method(method)?;
        self.check_headers(unsafe_headers)
    }
}

/// Judges a (non-redirect) preflight response in the browser's order: the CORS check (as
/// `Preflight*` errors), then the status (2xx), then `Access-Control-Allow-Methods` and
/// `-Headers`: Chromium parses both lists, then checks the method, then the headers;
/// Firefox parses the methods and checks the method before it parses the headers.
pub(crate) fn judge(
    response: &HttpResponse,
    origin: &str,
    include: bool,
    method: &str,
    unsafe_headers: &[String],
    authorization_needs_listing: bool,
    browser: Browser,
) -> Result<PreflightResult, JudgeError> {
    let status_ok = || {
        if (200..=299).contains(&response.status) {
            Ok(())
        } else {
            Err(JudgeError::from((
                CorsError::PreflightInvalidStatus,
                String::new(),
            )))
        }
    };
    if browser.checks_preflight_status_first() {
        status_ok()?;
    }
    cors_check(response, origin, include)
        .map_err(|(k, p)| JudgeError::from((k.on_preflight(), p)))?;
    status_ok()?;
    let unbounded = HeaderListLimits {
        max_bytes: usize::MAX,
        max_items: usize::MAX,
    };
    let lines = |name: &str| -> Vec<String> {
        response
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let acam = lines("access-control-allow-methods");
    let methods =
        HeaderList::parse(acam.iter().map(|v| v.as_bytes()), unbounded).map_err(|_| {
            let token = invalid_token(browser, &acam);
            JudgeError::from((CorsError::InvalidAllowMethodsPreflightResponse, token))
        })?;
    let mut result = PreflightResult {
        methods: methods.items().to_vec(),
        headers: Vec::new(),
        include,
        max_age: effective_max_age_in(browser, response.get("access-control-max-age").as_deref()),
        authorization_needs_listing,
    };
    if browser.checks_method_before_allow_headers() {
        result.check_method(method)?;
    }
    let acah = lines("access-control-allow-headers");
    let headers = HeaderList::parse_lowercase(acah.iter().map(|v| v.as_bytes()), unbounded)
        .map_err(|_| {
            let token = invalid_token(browser, &acah);
            JudgeError::from((CorsError::InvalidAllowHeadersPreflightResponse, token))
        })?;
    result.headers = headers.items().to_vec();
    if let Err(failure) = result.allows(method, unsafe_headers) {
        return Err(JudgeError {
            failure,
            result: Some(result),
        });
    }
    Ok(result)
}

/// The parameter of an unparsable `Access-Control-Allow-Methods`/`-Headers`: none in
/// Chromium; in Firefox, the first item (the lines joined, split at commas, trimmed) that
/// is not a token, as its console text quotes it.
fn invalid_token(browser: Browser, lines: &[String]) -> String {
    match browser {
        Browser::Chromium => return String::new(),
        // WebKit's text gives the whole value.
        Browser::WebKit => return lines.join(", "),
        Browser::Firefox => {}
    }
    lines
        .iter()
        .flat_map(|l| l.split(','))
        .map(|item| item.trim_matches([' ', '\t']))
        .find(|item| !item.is_empty() && !crate::method::is_token(item.as_bytes()))
        .unwrap_or_default()
        .to_owned()
}

/// A failed preflight: the failure, and the parsed result when it got that far (to list
/// every disallowed header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JudgeError {
    pub(crate) failure: CheckFailure,
    pub(crate) result: Option<PreflightResult>,
}

impl From<CheckFailure> for JudgeError {
    fn from(failure: CheckFailure) -> Self {
        JudgeError {
            failure,
            result: None,
        }
    }
}

/// The CORS-preflight cache, keyed like Chromium's: (origin, URL), and in Firefox the
/// credentials mode too; one entry per key holds every method and header of the last
/// preflight. Time is given by the caller (seconds on any monotonic scale), so the model
/// stays pure.
///
/// ```
/// use corsica::fetch::preflight::PreflightCache;
/// let cache = PreflightCache::default();
/// assert!(cache.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct PreflightCache {
    /// Per key, the results that serve it with their expiry: one in Chromium (a new
    /// preflight replaces the entry), every live one in Firefox (its entry gathers the
    /// methods and headers of every preflight, each until its own expiry).
    entries: HashMap<CacheKey, Vec<(PreflightResult, u64)>>,
}

/// A cache entry's key: origin, URL, and the credentials mode where the browser keys by
/// it; with the browser whose rules the entry follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    origin: String,
    url: String,
    credentials: Option<bool>,
    browser: Browser,
}

pub(crate) fn cache_key(browser: Browser, origin: &str, url: &str, include: bool) -> CacheKey {
    CacheKey {
        origin: origin.to_owned(),
        url: url.to_owned(),
        credentials: browser
            .preflight_cache_keys_credentials()
            .then_some(include),
        browser,
    }
}

/// Chromium's limit on cache entries.
const MAX_ENTRIES: usize = 1024;
/// Chromium does not cache URLs this long or longer.
const MAX_URL_LEN: usize = 1024;
/// The most results one Firefox entry gathers (the model's bound; Firefox's entry is
/// bounded by the distinct methods and headers it holds).
const MAX_RESULTS_PER_ENTRY: usize = 64;

impl PreflightCache {
    /// Whether the cache holds no entry.
    ///
    /// ```
    /// assert!(corsica::fetch::preflight::PreflightCache::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Looks up an entry that still lives at `now` and allows the request. Chromium
    /// removes an insufficient or expired entry (then sends a new preflight); Firefox
    /// drops only what expired, and allows the request when its method and each of its
    /// headers are allowed by some live result.
    pub(crate) fn lookup(
        &mut self,
        key: CacheKey,
        include: bool,
        method: &str,
        unsafe_headers: &[String],
        now: u64,
    ) -> bool {
        let Some(results) = self.entries.get_mut(&key) else {
            return false;
        };
        let gathers = key.browser.gathers_preflight_cache_entries();
        results.retain(|(r, expires)| now < *expires && (!include || r.include));
        let usable = if gathers {
            results.iter().any(|(r, _)| r.check_method(method).is_ok())
                && unsafe_headers.iter().all(|h| {
                    results
                        .iter()
                        .any(|(r, _)| r.disallowed_headers(std::slice::from_ref(h)).is_empty())
                })
        } else {
            results
                .iter()
                .any(|(r, _)| r.allows(method, unsafe_headers).is_ok())
        };
        if !usable && !gathers {
            results.clear();
        }
        if results.is_empty() {
            self.entries.remove(&key);
        }
        usable
    }

    /// Stores a result: in Chromium it replaces the entry, in Firefox it joins it.
    pub(crate) fn store(
        &mut self,
        browser: Browser,
        origin: &str,
        url: &str,
        result: PreflightResult,
        now: u64,
    ) {
        if url.len() >= MAX_URL_LEN || result.max_age == 0 {
            return;
        }
        let key = cache_key(browser, origin, url, result.include);
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&key) {
            // Evict the entry closest to expiry.
            if let Some(k) = self
                .entries
                .iter()
                .min_by_key(|(_, rs)| rs.iter().map(|(_, e)| *e).max().unwrap_or(0))
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&k);
            }
        }
        let expires = now.saturating_add(result.max_age);
        let results = self.entries.entry(key).or_default();
        if !browser.gathers_preflight_cache_entries() {
            results.clear();
        }
        results.retain(|(_, e)| now < *e);
        if results.len() >= MAX_RESULTS_PER_ENTRY {
            results.remove(0);
        }
        results.push((result, expires));
    }
}

impl Simulation<'_, '_> {
    /// The CORS-preflight fetch (Fetch § 4.8) of this hop, unless the cache has a match:
    /// `Some` verdict when the preflight fails, `None` to go on with the request.
    pub(super) fn preflight_fetch(
        &mut self,
        hop: &Hop,
        url: &str,
        origin_value: &str,
        unsafe_headers: &[String],
    ) -> Option<Verdict> {
        let include = self.include();
        let now = self.now;
        if let Some(cache) = self.cache.as_deref_mut() {
            let key = cache_key(self.browser, origin_value, url, include);
            if cache.lookup(key, include, &hop.method, unsafe_headers, now) {
                return None;
            }
        }
        self.preflight = true;
        let mut headers = vec![
            ("Accept".to_owned(), "*/*".to_owned()),
            (
                "Access-Control-Request-Method".to_owned(),
                hop.method.clone(),
            ),
        ];
        if let Some(v) = request_headers_value(unsafe_headers) {
            headers.push(("Access-Control-Request-Headers".to_owned(), v));
        }
        headers.push(("Origin".to_owned(), origin_value.to_owned()));
        headers.push(("Sec-Fetch-Dest".to_owned(), "empty".to_owned()));
        headers.push(("Sec-Fetch-Mode".to_owned(), "cors".to_owned()));
        // The preflight is a request of its own whose URL list is this one URL: its Fetch
        // Metadata relates the initiator to this URL only, not to the redirects before it
        // (a preflight to the page's own origin after a cross-origin redirect is
        // `same-origin`, as Chromium sends it).
        let site = super::request::FetchSite::of(&self.request.origin, &hop.url);
        headers.push(("Sec-Fetch-Site".to_owned(), site.as_str().to_owned()));
        let response = match self.exchange(HttpRequest {
            method: "OPTIONS".into(),
            url: url.to_owned(),
            headers,
            preflight: true,
            credentials: false,
        }) {
            Ok(r) => r,
            Err(e) => return Some(self.network_failed(hop, e.to_string())),
        };
        let cx = BlockContext {
            origin: origin_value,
            method: "OPTIONS",
            actual_method: &hop.method,
            unsafe_headers,
        };
        // A 300 is no redirect for a preflight in any browser: its status fails it.
        if response.is_redirect_in(self.browser)
            && response.status != 300
            && !self.browser.checks_preflight_status_first()
        {
            let kind = CorsError::PreflightDisallowedRedirect;
            return Some(self.blocked(kind, String::new(), url, cx));
        }
        match judge(
            &response,
            origin_value,
            include,
            &hop.method,
            unsafe_headers,
            self.authorization_needs_listing,
            self.browser,
        ) {
            Ok(result) => {
                if let Some(cache) = self.cache.as_deref_mut() {
                    cache.store(self.browser, origin_value, url, result, now);
                }
                None
            }
            Err(e) => {
                let (kind, mut parameter) = e.failure;
                let candidates = match (&e.result, kind) {
                    (Some(r), CorsError::HeaderDisallowedByPreflightResponse) => {
                        let all = r.disallowed_headers(unsafe_headers);
                        if self.browser.names_disallowed_header_in_map_order() {
                            if let Some(p) =
                                super::header_order::reported_header(&hop.network_order, &all)
                            {
                                parameter = p;
                            }
                        }
                        all
                    }
                    _ => vec![parameter.clone()],
                };
                Some(self.blocked_among(kind, parameter, candidates, url, cx))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "http://app.localhost";

    fn ok_response(extra: &[(&str, &str)]) -> HttpResponse {
        let mut r = HttpResponse::new(204).header("access-control-allow-origin", ORIGIN);
        for (n, v) in extra {
            r = r.header(*n, *v);
        }
        r
    }

    /// Fetch § 4.8 "CORS-preflight fetch" steps 7 (CORS check and ok status) and 7.3–7.7
    /// (parsing and checking methods and headers), in Chromium's order.
    #[test]
    fn judging_fetch_4_8() {
        use CorsError::*;
        let xs = ["x-a".to_owned()];
        type Case<'a> = (
            HttpResponse,
            bool,
            &'a str,
            &'a [String],
            Result<(), (CorsError, &'a str)>,
        );
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            (HttpResponse::new(404), false, "PUT", &[], Err((PreflightMissingAllowOriginHeader, ""))),
            (ok_response(&[]).status(404), false, "PUT", &[], Err((PreflightInvalidStatus, ""))),
            (ok_response(&[]), false, "PUT", &[], Err((MethodDisallowedByPreflightResponse, "PUT"))),
            (ok_response(&[("access-control-allow-methods", "PUT")]), false, "PUT", &[], Ok(())),
            (ok_response(&[("access-control-allow-methods", "put")]), false, "PUT", &[], Err((MethodDisallowedByPreflightResponse, "PUT"))),
            (ok_response(&[("access-control-allow-methods", "*")]), false, "PUT", &[], Ok(())),
            (ok_response(&[("access-control-allow-methods", "*"), ("access-control-allow-credentials", "true")]), true, "PUT", &[], Err((MethodDisallowedByPreflightResponse, "PUT"))),
            (ok_response(&[("access-control-allow-methods", "PUT DELETE")]), false, "PUT", &[], Err((InvalidAllowMethodsPreflightResponse, ""))),
            (ok_response(&[("access-control-allow-headers", "x-a;")]), false, "GET", &xs, Err((InvalidAllowHeadersPreflightResponse, ""))),
            (ok_response(&[("access-control-allow-methods", "PUT DELETE"), ("access-control-allow-headers", "x-a;")]), false, "GET", &xs, Err((InvalidAllowMethodsPreflightResponse, ""))),
            (ok_response(&[]), false, "GET", &xs, Err((HeaderDisallowedByPreflightResponse, "x-a"))),
            (ok_response(&[("access-control-allow-headers", "X-A")]), false, "GET", &xs, Ok(())),
            (ok_response(&[("access-control-allow-headers", "*")]), false, "GET", &xs, Ok(())),
            (ok_response(&[("access-control-allow-headers", ",, x-a ,")]), false, "GET", &xs, Ok(())),
        ];
        for (i, (r, include, method, unsafe_headers, want)) in cases.into_iter().enumerate() {
            let got = judge(
                &r,
                ORIGIN,
                include,
                method,
                unsafe_headers,
                true,
                Browser::Chromium,
            )
            .map(|_| ())
            .map_err(|e| e.failure);
            let want = want.map_err(|(k, p)| (k, p.to_owned()));
            assert_eq!(got, want, "case {i}");
        }
    }

    /// Fetch § "CORS non-wildcard request-header name": `*` never covers `authorization`.
    #[test]
    fn wildcard_never_covers_authorization() {
        let r = ok_response(&[("access-control-allow-headers", "*")]);
        let h = ["authorization".to_owned(), "x-a".to_owned()];
        assert_eq!(
            judge(&r, ORIGIN, false, "GET", &h, true, Browser::Chromium).map_err(|e| e.failure),
            Err((
                CorsError::HeaderDisallowedByPreflightResponse,
                "authorization".into()
            ))
        );
        let r = ok_response(&[("access-control-allow-headers", "*, authorization")]);
        assert!(judge(&r, ORIGIN, false, "GET", &h, true, Browser::Chromium).is_ok());
        // Chromium 156 as tested lets `*` cover it.
        let r = ok_response(&[("access-control-allow-headers", "*")]);
        assert!(judge(&r, ORIGIN, false, "GET", &h, false, Browser::Chromium).is_ok());
    }

    /// Fetch § 4.9 "CORS-preflight cache": default 5 s, Chromium's 2 h cap, credentials.
    #[test]
    fn cache() {
        let mut c = PreflightCache::default();
        let r = PreflightResult {
            methods: vec!["PUT".into()],
            headers: vec![],
            include: false,
            max_age: 5,
            authorization_needs_listing: false,
        };
        c.store(Browser::Chromium, ORIGIN, "http://api/x", r, 100);
        let key = |include| cache_key(Browser::Chromium, ORIGIN, "http://api/x", include);
        assert!(c.lookup(key(false), false, "PUT", &[], 104));
        assert!(
            !c.lookup(key(true), true, "PUT", &[], 104),
            "not for include"
        );
        assert!(
            !c.lookup(key(false), false, "PUT", &[], 104),
            "erased after the miss"
        );
    }
}
