//! Which of several disallowed request headers Chromium names.
//!
//! When a preflight response's `Access-Control-Allow-Headers` misses several of the
//! request's CORS-unsafe headers, Chromium reports exactly one of them as
//! `HeaderDisallowedByPreflightResponse`'s failed parameter (and in the console message):
//! the first one in the order the headers reach the network service
//! (`services/network/public/cpp/cors/cors.cc` `CorsUnsafeNotForbiddenRequestHeaderNames`,
//! then `services/network/cors/preflight_result.cc` `EnsureAllowedCrossOriginHeaders`).
//! That order is neither the page's nor alphabetical: it is the iteration order of Blink's
//! `HTTPHeaderMap` when the renderer copies the request into a `network::ResourceRequest`
//! (`platform/loader/fetch/url_loader/request_conversion.cc`), and that map is a WTF
//! open-addressing hash table keyed by the case-folded name. This module replays it:
//!
//! 1. **What goes into the map, in order.** `FetchManager` copies the `Headers` list, which
//!    Blink keeps sorted by byte-lowercased name (`FetchHeaderList` is a multimap with a
//!    byte-case-insensitive comparator), duplicates combined; then, when the request URL
//!    may receive client hints (`http(s)` and potentially trustworthy: `https`,
//!    `localhost`, `*.localhost`, loopback addresses;
//!    `ClientHintsPreferences::IsClientHintsAllowed`), `BaseFetchContext` adds the default
//!    user-agent hints `Sec-CH-UA`, `Sec-CH-UA-Mobile` and `Sec-CH-UA-Platform` in that
//!    order; then the fetch context sets `User-Agent` (after the hints: the only placement
//!    that fits every observation). `Accept: */*` is not in the map:
//!    `PopulateResourceRequest` appends it after copying the map
//!    (`network_utils::SetAcceptHeader`) when the page set none.
//! 2. **The hash** (`wtf/text/case_folding_hash.h`, `wtf/text/string_hasher.h`,
//!    `third_party/rapidhash/rapidhash.h`): Chromium's rapidhash (the 2024 version, default
//!    seed and secrets) of the name case-folded and widened to UTF-16 (two bytes per
//!    character, so the hashed length is twice the name's), whose one-character case reads
//!    the folded character alone; masked to its low 24 bits, 0 becoming `0x80_0000`.
//! 3. **The table** (`wtf/hash_table.h`): 8 buckets at first; the bucket is `hash & (size -
//!    1)`, collisions probe triangularly (`i += 1, 2, 3, …`); after an insertion that
//!    brings the table to half full it doubles, re-inserting the entries in bucket order.
//!    Iteration is bucket order.
//!
//! Checked against Chromium 156 on 2000 random header sets of 2 to 17 names (1 to 60
//! characters, mixed case, some with the four safelisted headers), every one named as
//! predicted, and on 40 sets whose answer depends on the client hints, for loopback and
//! non-trustworthy URLs from trustworthy and non-trustworthy pages (the wire order of a
//! sent request shows the same map: `sec-ch-ua-platform, User-Agent, x-q, sec-ch-ua,
//! sec-ch-ua-mobile`, then `Accept`). The conformance suite replays a deterministic share
//! on every run.

use std::borrow::Cow;

use crate::origin::is_loopback_host;

/// The user-agent client hints Blink adds to every request to a URL that may receive them.
const DEFAULT_HINTS: [&str; 3] = ["sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform"];

/// Chromium's rapidhash secrets and seed (`third_party/rapidhash/rapidhash.h`).
const SECRET: [u64; 3] = [
    0x2d35_8dcc_aa6c_78a5,
    0x8bb8_4b93_962e_acc9,
    0x4b33_a62e_d433_d4a3,
];
const SEED: u64 = 0xbdd8_9aa9_8270_4029;

/// The 128-bit product of `a` and `b` as (low, high).
fn mul128(a: u64, b: u64) -> (u64, u64) {
    let r = u128::from(a) * u128::from(b);
    (r as u64, (r >> 64) as u64)
}

/// rapidhash's mixing step: the product's halves xor-ed.
fn mix(a: u64, b: u64) -> u64 {
    let (lo, hi) = mul128(a, b);
    lo ^ hi
}

/// `n` little-endian bytes of `data` at `at`, as a number.
fn read(data: &[u8], at: usize, n: usize) -> u64 {
    data[at..at + n]
        .iter()
        .rev()
        .fold(0, |v, &b| (v << 8) | u64::from(b))
}

/// rapidhash (Chromium's 2024 version) of `data`; `small` is what the reader gives for an
/// input of 1 to 3 bytes (for the case-folding reader: the folded character alone).
fn rapidhash(data: &[u8], small: impl Fn(&[u8]) -> u64) -> u64 {
    let len = data.len();
    let mut seed = SEED;
    seed ^= mix(seed ^ SECRET[0], SECRET[1]) ^ len as u64;
    let (mut a, mut b);
    if len <= 16 {
        if len >= 4 {
            let last = len - 4;
            a = (read(data, 0, 4) << 32) | read(data, last, 4);
            let delta = if len >= 8 { 4 } else { 0 };
            b = (read(data, delta, 4) << 32) | read(data, last - delta, 4);
        } else if len > 0 {
            a = small(data);
            b = 0;
        } else {
            a = 0;
            b = 0;
        }
    } else {
        let mut p = 0;
        let mut i = len;
        if i > 48 {
            let (mut see1, mut see2) = (seed, seed);
            while i >= 48 {
                seed = mix(read(data, p, 8) ^ SECRET[0], read(data, p + 8, 8) ^ seed);
                see1 = mix(
                    read(data, p + 16, 8) ^ SECRET[1],
                    read(data, p + 24, 8) ^ see1,
                );
                see2 = mix(
                    read(data, p + 32, 8) ^ SECRET[2],
                    read(data, p + 40, 8) ^ see2,
                );
                p += 48;
                i -= 48;
            }
            seed ^= see1 ^ see2;
        }
        if i > 16 {
            seed = mix(
                read(data, p, 8) ^ SECRET[2],
                read(data, p + 8, 8) ^ seed ^ SECRET[1],
            );
            if i > 32 {
                seed = mix(
                    read(data, p + 16, 8) ^ SECRET[2],
                    read(data, p + 24, 8) ^ seed,
                );
            }
        }
        a = read(data, p + i - 16, 8);
        b = read(data, p + i - 8, 8);
    }
    a ^= SECRET[1];
    b ^= seed;
    (a, b) = mul128(a, b);
    mix(a ^ SECRET[0] ^ len as u64, b ^ SECRET[1])
}

/// Blink's `CaseFoldingHash` of a header name: rapidhash of the name case-folded as UTF-16,
/// masked to 24 bits (never 0). Header names are tokens, so folding is ASCII lower-casing.
pub fn case_folding_hash(name: &str) -> u32 {
    let folded: Vec<u8> = name
        .chars()
        .flat_map(|c| {
            let unit = u32::from(c.to_ascii_lowercase()) as u16;
            unit.to_le_bytes()
        })
        .collect();
    let h = rapidhash(&folded, |d| u64::from(d[0]) | (u64::from(d[1]) << 8)) & 0x00ff_ffff;
    if h == 0 { 0x0080_0000 } else { h as u32 }
}

/// A WTF `HashTable` of header names, as far as its iteration order goes.
struct BlinkTable<'a> {
    /// Buckets: the index of a name in `names`, or empty.
    buckets: Vec<Option<usize>>,
    names: Vec<Cow<'a, str>>,
}

impl<'a> BlinkTable<'a> {
    const MINIMUM_SIZE: usize = 8;

    fn new() -> Self {
        BlinkTable {
            buckets: Vec::new(),
            names: Vec::new(),
        }
    }

    /// The bucket `name` lands in: its own (found) or the first empty one on its probe
    /// sequence.
    fn probe(buckets: &[Option<usize>], names: &[Cow<'_, str>], name: &str) -> (usize, bool) {
        let mask = buckets.len() - 1;
        let mut i = case_folding_hash(name) as usize & mask;
        let mut step = 0;
        while let Some(k) = buckets[i] {
            if names[k].eq_ignore_ascii_case(name) {
                return (i, true);
            }
            step += 1;
            i = (i + step) & mask;
        }
        (i, false)
    }

    /// `HashMap::insert`: adds `name` unless present (ignoring case), then grows when half
    /// full.
    fn insert(&mut self, name: Cow<'a, str>) {
        if self.buckets.is_empty() {
            self.buckets = vec![None; Self::MINIMUM_SIZE];
        }
        let (i, found) = Self::probe(&self.buckets, &self.names, &name);
        if found {
            return;
        }
        self.buckets[i] = Some(self.names.len());
        self.names.push(name);
        if self.names.len() * 2 >= self.buckets.len() {
            let grown = vec![None; self.buckets.len() * 2];
            let old = std::mem::replace(&mut self.buckets, grown);
            for k in old.into_iter().flatten() {
                let (j, _) = Self::probe(&self.buckets, &self.names, &self.names[k]);
                self.buckets[j] = Some(k);
            }
        }
    }

    /// The names in iteration (bucket) order.
    fn iter(&self) -> impl Iterator<Item = &str> {
        self.buckets.iter().flatten().map(|&k| &*self.names[k])
    }
}

/// Whether Blink attaches the default client hints to a request for `url`
/// (`ClientHintsPreferences::IsClientHintsAllowed`: `http(s)` and potentially trustworthy).
pub fn sends_default_client_hints(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(is_loopback_host),
        _ => false,
    }
}

/// The request's header names, lower-cased, in the order Chromium's network service holds
/// them for a `fetch()` of `url` with `headers` (the page's, as the `Headers` object kept
/// them: forbidden ones dropped, in the page's order). Includes the `User-Agent`, client
/// hint and `Accept` headers Blink adds.
///
/// ```
/// use corsica::fetch::header_order::network_order;
/// let url = url::Url::parse("http://api.localhost/x").unwrap();
/// let headers = [("X-Two".to_owned(), "1".to_owned()), ("X-One".to_owned(), "1".to_owned())];
/// let order = network_order(&headers, &url);
/// assert_eq!(order.len(), 7);
/// assert!(order.contains(&"user-agent".to_owned()) && order.contains(&"sec-ch-ua".to_owned()));
/// assert_eq!(order.last().map(String::as_str), Some("accept"));
/// ```
pub fn network_order(headers: &[(String, String)], url: &url::Url) -> Vec<String> {
    let mut names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    // `FetchHeaderList`'s order: by byte-lowercased name, stable for equal names.
    names.sort_by_cached_key(|n| n.to_ascii_lowercase());
    let mut table = BlinkTable::new();
    for n in &names {
        table.insert(Cow::Borrowed(n));
    }
    if sends_default_client_hints(url) {
        for h in DEFAULT_HINTS {
            table.insert(Cow::Borrowed(h));
        }
    }
    table.insert(Cow::Borrowed("user-agent"));
    let mut order: Vec<String> = table.iter().map(str::to_ascii_lowercase).collect();
    if !order.iter().any(|n| n == "accept") {
        order.push("accept".to_owned());
    }
    order
}

/// The one of `disallowed` (lower-cased names) Chromium reports, given the header order of
/// [`network_order`]: the first of them in that order (the first of `disallowed` when
/// none is found there, which a well-formed call never sees).
///
/// ```
/// use corsica::fetch::header_order::reported_header;
/// let order = ["x-b".to_owned(), "accept".to_owned(), "x-a".to_owned()];
/// assert_eq!(reported_header(&order, &["x-a".into(), "x-b".into()]), Some("x-b".to_owned()));
/// ```
pub fn reported_header(order: &[String], disallowed: &[String]) -> Option<String> {
    order
        .iter()
        .find(|n| disallowed.iter().any(|d| d.eq_ignore_ascii_case(n)))
        .or(disallowed.first())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| ((*n).to_owned(), "1".to_owned()))
            .collect()
    }

    /// The name reported when none of `names` is allowed (the four safelisted names are
    /// taken to carry safelisted values, as in the observed sets).
    fn reported(url: &str, names: &[&str]) -> String {
        let url = url::Url::parse(url).unwrap();
        let headers = pairs(names);
        let disallowed: Vec<String> = names
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .filter(|n| {
                !matches!(
                    n.as_str(),
                    "accept" | "accept-language" | "content-language" | "content-type"
                )
            })
            .collect();
        reported_header(&network_order(&headers, &url), &disallowed).unwrap()
    }

    #[test]
    fn hash_folds_case_and_is_24_bits() {
        for name in [
            "x-a",
            "X-API-Key",
            "a",
            "Z",
            "content-type",
            &"y".repeat(60),
        ] {
            let h = case_folding_hash(name);
            assert_eq!(h, case_folding_hash(&name.to_ascii_uppercase()), "{name}");
            assert_eq!(h, case_folding_hash(&name.to_ascii_lowercase()), "{name}");
            assert!(h != 0 && h < 1 << 24, "{name}: {h:#x}");
        }
    }

    #[test]
    fn hash_covers_every_length_branch() {
        // 1 character (the reader's small case), 2..8 (overlapping 32-bit reads), 9..24
        // (64-bit tail reads), 25+ (the 48-byte loop): all distinct for distinct names.
        let names: Vec<String> = (1..=40).map(|n| "k".repeat(n)).collect();
        let mut hashes: Vec<u32> = names.iter().map(|n| case_folding_hash(n)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), names.len());
    }

    /// Each row: the URL, the page's headers in `fetch()` order, and the name Chromium 156
    /// reported (observed in the real browser).
    #[test]
    fn names_the_header_chromium_names() {
        let rows: &[(&str, &[&str], &str)] = &[
            (
                "http://api.localhost/s",
                &["X-ecn", "zTCVD8xID3e", "X-PC-9v1"],
                "x-pc-9v1",
            ),
            (
                "http://api.localhost/s",
                &[
                    "4ti0dup4h7h219msatqn49e",
                    "x-xNf-MB",
                    "x-di6",
                    "x-ywbd_w8",
                    "a70imef5mecdwkp",
                ],
                "a70imef5mecdwkp",
            ),
            (
                "http://api.localhost/s",
                &[
                    "x-RF8hC8vCgRvTM_5XRq2Sc3uP",
                    "5PiLAywJv65tR_o8CsRu8cFqudlH",
                    "3Y75u",
                    "9bhh671osxv4f-82_",
                    "x-gzab38x4",
                    "X-truuijuryvuunya49",
                    "X-Ok0ge-JU6Md82A",
                    "H0HQE26",
                ],
                "9bhh671osxv4f-82_",
            ),
            // One-character names take the hash's small-input branch.
            (
                "http://api.localhost/s",
                &["x-y", "X-q", "b5", "x-o", "j", "x-e"],
                "j",
            ),
            (
                "http://api.localhost/s",
                &["6", "hp6uqzpl5", "k", "h8ng0n_i9", "x-pasOEn-l13m237Q"],
                "6",
            ),
            // 16 names with `User-Agent` and the hints: the table has grown to 64 buckets.
            (
                "http://api.localhost/s",
                &[
                    "497v6hb9fi44gqpvlgh_ddh5l",
                    "x-5dgqxSCR",
                    "X-t40sxlc_lwtzg",
                    "Accept",
                    "qJM_",
                    "x-9088",
                    "x-_yx",
                    "Content-Type",
                    "x-smbzqzzky_",
                    "Accept-Language",
                    "Content-Language",
                    "uk26tcVlGX-EAw62GF",
                ],
                "x-_yx",
            ),
            // The hints go in before `User-Agent`, `Sec-CH-UA-Mobile` before `-Platform`.
            (
                "http://api.localhost/s",
                &["6h1zcuq", "-0cbx2qk8"],
                "6h1zcuq",
            ),
            // Safelisted headers are in the map too, and move the others.
            (
                "http://api.localhost/s",
                &[
                    "Content-Language",
                    "yy-ol79pambqnttra",
                    "U",
                    "Content-Type",
                    "Accept",
                ],
                "yy-ol79pambqnttra",
            ),
        ];
        for (url, names, expected) in rows {
            assert_eq!(reported(url, names), *expected, "{names:?}");
        }
    }

    #[test]
    fn client_hints_only_for_trustworthy_urls() {
        assert!(sends_default_client_hints(
            &url::Url::parse("https://a.example/").unwrap()
        ));
        assert!(sends_default_client_hints(
            &url::Url::parse("http://127.0.0.1:8/").unwrap()
        ));
        assert!(sends_default_client_hints(
            &url::Url::parse("http://[::1]/").unwrap()
        ));
        assert!(!sends_default_client_hints(
            &url::Url::parse("http://a.example/").unwrap()
        ));
        // The hints change the table, and so the name (observed in Chromium 156 with the
        // same page, `http://app.localhost`, and the API on a loopback or another host).
        let rows: &[(&[&str], &str, &str)] = &[
            (
                &[
                    "x-mcffeaeo",
                    "x-lcdmgpfnkcm",
                    "x-epleeaadeng",
                    "x-aigj",
                    "x-hkineblon",
                ],
                "x-lcdmgpfnkcm",
                "x-epleeaadeng",
            ),
            (&["x-doakn", "x-ebhdf"], "x-ebhdf", "x-doakn"),
            (&["x-cembm", "x-cpighac", "x-lfak", "x-j"], "x-lfak", "x-j"),
        ];
        for (names, loopback, other) in rows {
            assert_eq!(reported("http://api.localhost:8080/t", names), *loopback);
            assert_eq!(reported("http://api.test:8080/t", names), *other);
        }
    }

    #[test]
    fn page_order_does_not_matter() {
        let a = ["x-b", "X-A", "x-c", "accept"];
        let b = ["x-c", "accept", "X-A", "x-b"];
        let url = url::Url::parse("http://api.localhost/").unwrap();
        assert_eq!(
            network_order(&pairs(&a), &url),
            network_order(&pairs(&b), &url)
        );
    }

    #[test]
    fn the_table_grows_and_keeps_every_name() {
        let names: Vec<String> = (0..40).map(|i| format!("x-h{i}")).collect();
        let headers: Vec<(String, String)> =
            names.iter().map(|n| (n.clone(), "1".to_owned())).collect();
        let order = network_order(&headers, &url::Url::parse("http://a.example/").unwrap());
        assert_eq!(order.len(), 42);
        for n in &names {
            assert!(order.contains(n), "{n}");
        }
    }
}
