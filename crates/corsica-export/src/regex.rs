//! Regular expressions for what a policy matches, in the subset both PCRE (nginx,
//! HAProxy) and RE2 (Caddy) read the same way: no look-around, no back-references,
//! bounded repetition. Each mirrors an engine rule and says where it is approximate.

use corsica::{OriginEntry, PortRule};

/// `s` with every regex metacharacter escaped.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$/-#&~\"'".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The numbers `lo..=hi` as a regex alternation without leading zeros (the classic
/// digit-by-digit range split).
pub(crate) fn range(lo: u32, hi: u32) -> String {
    let mut parts = Vec::new();
    split_range(lo, hi, &mut parts);
    parts.join("|")
}

fn split_range(lo: u32, hi: u32, out: &mut Vec<String>) {
    if lo > hi {
        return;
    }
    let (ls, hs) = (lo.to_string(), hi.to_string());
    if ls.len() < hs.len() {
        let top = 10u32.pow(u32::try_from(ls.len()).unwrap_or(9)) - 1;
        split_range(lo, top, out);
        split_range(top + 1, hi, out);
        return;
    }
    // Same number of digits: a common prefix, then one digit range, then free digits.
    let (l, h): (Vec<u8>, Vec<u8>) = (ls.bytes().collect(), hs.bytes().collect());
    let n = l.len();
    let common = l.iter().zip(&h).take_while(|(a, b)| a == b).count();
    if common == n {
        out.push(ls);
        return;
    }
    let prefix = &ls[..common];
    let rest = n - common - 1;
    let all_zero = l[common + 1..].iter().all(|&d| d == b'0');
    let all_nine = h[common + 1..].iter().all(|&d| d == b'9');
    if all_zero && all_nine {
        out.push(format!(
            "{prefix}[{}-{}]{}",
            l[common] as char,
            h[common] as char,
            "[0-9]".repeat(rest)
        ));
        return;
    }
    // Split at the next round boundary.
    let scale = 10u32.pow(u32::try_from(rest).unwrap_or(0));
    if !all_zero {
        let upper = (lo / scale) * scale + scale - 1;
        split_range(lo, upper.min(hi), out);
        split_range(upper + 1, hi, out);
    } else {
        let lower = (hi / scale) * scale;
        split_range(lo, lower - 1, out);
        split_range(lower, hi, out);
    }
}

/// A port as an origin serializes it: no leading zeros, 0..=65535, not `scheme`'s default
/// (a default port is dropped from the serialization, so it never appears).
pub(crate) fn port(scheme: &str) -> String {
    match default_port(scheme) {
        Some(d) => format!(
            "(?:{}|{})",
            range(0, u32::from(d) - 1),
            range(u32::from(d) + 1, 65535)
        ),
        None => format!("(?:{})", range(0, 65535)),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

/// A character of a domain in an origin's serialization: what the URL standard's host
/// parser keeps as it is (lower-case letters, digits, and the punctuation that is not a
/// forbidden domain code point), less what the engine refuses in an origin (`*`, `%`,
/// `,`, `@`). Approximate for `xn--` labels, which the engine checks as punycode.
const DOMAIN_CHAR: &str = "[a-z0-9_!\"$&'()+;=`{}~-]";

/// The last label of a domain: not empty, not a number (decimal, or `0x` hex: the URL
/// standard would read the host as an IPv4 address).
fn last_label() -> String {
    let c = DOMAIN_CHAR;
    let non_digit = "[a-z_!\"$&'()+;=`{}~-]";
    let non_digit_x = "[a-wyz_!\"$&'()+;=`{}~-]";
    let non_hex = "[g-z_!\"$&'()+;=`{}~-]";
    format!(
        "(?:{non_digit}{c}*|[1-9][0-9]*{non_digit}{c}*|0[0-9]+{non_digit}{c}*|0{non_digit_x}{c}*|0x[0-9a-f]*{non_hex}{c}*)"
    )
}

/// A domain as an origin serializes it: labels (empty ones too) and a last label that is
/// not a number, an optional trailing dot.
fn domain() -> String {
    format!("(?:[a-z0-9_!\"$&'()+;=`{{}}~.-]*\\.)?{}\\.?", last_label())
}

/// A canonical IPv4 address (no leading zeros).
fn ipv4() -> String {
    let octet = format!("(?:{})", range(0, 255));
    format!("{octet}\\.{octet}\\.{octet}\\.{octet}")
}

/// Every origin the engine accepts as a well-formed `Origin` request header (strict
/// serialized form): `null`, and `scheme://host[:port]`, as alternatives (no anchors;
/// several, since one long regex is more than some servers read in one token).
pub(crate) fn any_valid_origin() -> Vec<String> {
    let mut alts = vec!["null".to_owned()];
    for (schemes, default) in [
        ("(?:http|ws)", "http"),
        ("(?:https|wss)", "https"),
        ("ftp", "ftp"),
    ] {
        alts.push(format!("{schemes}://{}(?::{})?", domain(), port(default)));
        alts.push(format!(
            "{schemes}://(?:{}|\\[[0-9a-f:.]+\\])(?::{})?",
            ipv4(),
            port(default)
        ));
    }
    // Other schemes: letters, digits, `-`, `.`, `_` hosts, lower-cased, any port.
    alts.push(format!(
        "{}://[a-z0-9._-]+(?::{})?",
        scheme_except(&SPECIAL),
        port("")
    ));
    alts
}

/// The URL standard's special schemes other than `file` (which has no origin).
const SPECIAL: [&str; 5] = ["http", "https", "ws", "wss", "ftp"];

/// Characters of a scheme after its first letter.
const SCHEME_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789+.-";

/// A scheme (`[a-z][a-z0-9+.-]*`) that is none of `words`, without look-ahead: walks the
/// words' prefix tree and, at each node, allows every other next character freely.
fn scheme_except(words: &[&str]) -> String {
    fn class(chars: &str, minus: &[char]) -> String {
        let kept: String = chars
            .chars()
            .filter(|c| !minus.contains(c))
            .map(|c| {
                if "+.-".contains(c) {
                    format!("\\{c}")
                } else {
                    c.to_string()
                }
            })
            .collect();
        format!("[{kept}]")
    }
    fn children(words: &[&str], prefix: &str) -> Vec<char> {
        let mut out: Vec<char> = words
            .iter()
            .filter_map(|w| w.strip_prefix(prefix).and_then(|r| r.chars().next()))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
    /// Suffixes that, after `prefix`, make a word outside `words`.
    fn rest(words: &[&str], prefix: &str) -> String {
        let free = "[a-z0-9+.\\-]*";
        let kids = children(words, prefix);
        let mut alts: Vec<String> = kids
            .iter()
            .map(|c| format!("{c}(?:{})", rest(words, &format!("{prefix}{c}"))))
            .collect();
        alts.push(format!("{}{free}", class(SCHEME_CHARS, &kids)));
        let body = alts.join("|");
        if words.contains(&prefix) {
            body
        } else {
            format!("(?:{body})?")
        }
    }
    let kids = children(words, "");
    let mut alts: Vec<String> = kids
        .iter()
        .map(|c| format!("{c}{}", rest(words, &c.to_string())))
        .collect();
    alts.push(format!(
        "{}[a-z0-9+.\\-]*",
        class("abcdefghijklmnopqrstuvwxyz", &kids)
    ));
    format!("(?:{})", alts.join("|"))
}

/// The origins an entry matches, as alternatives (no anchors).
pub(crate) fn entry(e: &OriginEntry) -> Vec<String> {
    match e {
        OriginEntry::Any => any_valid_origin(),
        OriginEntry::Null => vec!["null".to_owned()],
        OriginEntry::Exact(o) => vec![escape(o.as_str())],
        OriginEntry::Subdomains {
            scheme,
            domain,
            port: p,
        } => vec![format!(
            "{}://[a-z0-9_!\"$&'()+;=`{{}}~.-]*\\.{}{}",
            escape(scheme),
            escape(domain),
            port_rule(scheme, *p)
        )],
        OriginEntry::AnyPort { scheme, host } => vec![format!(
            "{}://{}(?::{})?",
            escape(scheme),
            escape(host),
            port(scheme)
        )],
    }
}

fn port_rule(scheme: &str, p: PortRule) -> String {
    match p {
        PortRule::Exact(None) => String::new(),
        PortRule::Exact(Some(n)) => format!(":{n}"),
        PortRule::Any => format!("(?::{})?", port(scheme)),
    }
}

/// `alts` as anchored regexes `^(?:a|b|…)$` of about 3 KB each, in order: one long
/// regex is more than some servers read in one token (nginx: 4 KB).
pub(crate) fn anchored_groups(alts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut group: Vec<&str> = Vec::new();
    let mut len = 0;
    for a in alts {
        if len + a.len() > 3000 && !group.is_empty() {
            out.push(format!("^(?:{})$", group.join("|")));
            group.clear();
            len = 0;
        }
        group.push(a);
        len += a.len() + 1;
    }
    if !group.is_empty() {
        out.push(format!("^(?:{})$", group.join("|")));
    }
    out
}

/// A regex that matches nothing (an empty set), without look-ahead.
pub(crate) const NEVER: &str = "\\b\\B";

/// An HTTP token (a method, a header name).
pub(crate) const TOKEN: &str = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";

/// The whitespace `Access-Control-Request-Headers` items are trimmed of (the engine's
/// `trim_ascii`, less CR and LF, which no header value holds).
pub(crate) const OWS: &str = "[ \\t\\x0c]*";

/// A comma-separated list of at most `max_items` items (empty ones included, as the
/// engine counts them), each `item` or empty, with optional whitespace: how
/// `Access-Control-Request-Headers` lines joined with `,` must look to be allowed.
pub(crate) fn list(item: &str, max_items: usize) -> String {
    let one = format!("{OWS}(?:{item})?{OWS}");
    format!("{one}(?:,{one}){{0,{}}}", max_items.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(re: &str, lo: u32, hi: u32) {
        // Check the alternation by matching each number's text against each branch.
        let branches: Vec<&str> = re.split('|').collect();
        for n in 0..70000u32 {
            let s = n.to_string();
            let hit = branches.iter().any(|b| simple_match(b, &s));
            assert_eq!(hit, (lo..=hi).contains(&n), "{n} in {re}");
        }
    }

    /// Matches a branch made of literal digits, `[a-b]` classes and `[0-9]`.
    fn simple_match(branch: &str, s: &str) -> bool {
        let mut classes = Vec::new();
        let b = branch.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'[' {
                classes.push((b[i + 1], b[i + 3]));
                i += 5;
            } else {
                classes.push((b[i], b[i]));
                i += 1;
            }
        }
        classes.len() == s.len()
            && s.bytes()
                .zip(classes)
                .all(|(c, (lo, hi))| (lo..=hi).contains(&c))
    }

    #[test]
    fn ranges_are_exact() {
        numbers(&range(0, 65535), 0, 65535);
        numbers(&range(1, 79), 1, 79);
        numbers(&range(81, 65535), 81, 65535);
        numbers(&range(444, 65535), 444, 65535);
        numbers(&range(0, 255), 0, 255);
    }

    #[test]
    fn escapes_dots_and_wildcards() {
        assert_eq!(
            escape("https://a.example.com"),
            "https:\\/\\/a\\.example\\.com"
        );
    }
}

/// The regexes against the engine itself: for many request `Origin` values, an entry's
/// regex matches exactly when the engine's origin set (of that one entry) accepts the
/// header value. Rust's `regex` crate has no look-around either, so a pattern that
/// slipped out of the common subset fails to compile here.
#[cfg(test)]
mod against_the_engine {
    use super::*;
    use corsica::{Origin, OriginSet};
    use proptest::prelude::*;

    fn engine_accepts(set: &OriginSet, value: &str) -> bool {
        Origin::from_header_bytes(value.as_bytes()).is_ok_and(|o| set.contains(&o))
    }

    fn check(entry_text: &str, value: &str) {
        let set = OriginSet::parse([entry_text]).unwrap();
        let e = &set.entries()[0];
        let re = ::regex::Regex::new(&format!("^(?:{})$", entry(e).join("|"))).unwrap();
        assert_eq!(
            re.is_match(value),
            engine_accepts(&set, value),
            "entry {entry_text}, Origin {value:?}"
        );
    }

    const ENTRIES: [&str; 7] = [
        "https://app.example.com",
        "https://*.example.com",
        "http://localhost:*",
        "https://*.example.com:8443",
        "http://127.0.0.1:*",
        "null",
        "*",
    ];

    const VALUES: [&str; 40] = [
        "https://app.example.com",
        "https://APP.example.com",
        "https://app.example.com/",
        "https://app.example.com:443",
        "https://app.example.com:8443",
        "https://a.example.com",
        "https://a.b.example.com",
        "https://example.com",
        "https://example.com.evil.net",
        "https://evilexample.com",
        "https://a.example.com:8443",
        "https://a_b.example.com",
        "https://-a.example.com",
        "http://a.example.com",
        "http://localhost",
        "http://localhost:3000",
        "http://localhost:80",
        "http://localhost:080",
        "http://localhost:65535",
        "http://localhost:65536",
        "http://127.0.0.1:5173",
        "http://127.0.0.01:5173",
        "null",
        "Null",
        "",
        " https://app.example.com",
        "https://app.example.com, https://a.example.com",
        "chrome-extension://abcdef",
        "ws://a.example.com",
        "ftp://a.example.com:21",
        "https://[::1]",
        "https://[::1]:8443",
        "https://1.2.3.4",
        "http://httpx://a",
        "https:/app.example.com",
        "https://app.example.com:",
        "httpss://a.example.com",
        "h://x",
        "https://a.example.com.",
        "file://",
    ];

    #[test]
    fn entries_match_what_the_engine_accepts() {
        for e in ENTRIES {
            for v in VALUES {
                check(e, v);
            }
        }
    }

    proptest! {
        #[test]
        fn generated_origins(
            scheme in prop::sample::select(vec!["http", "https", "HTTP", "ws", "foo", "h"]),
            labels in prop::collection::vec("[a-zA-Z0-9_!$~=.-]{0,5}", 0..4),
            domain in prop::sample::select(vec!["example.com", "localhost", "127.0.0.1", "example.com.evil.net"]),
            port in prop::option::of(prop::sample::select(vec!["80", "443", "8443", "0", "65535", "99999", "080", ""])),
        ) {
            let mut host = labels.join(".");
            if !host.is_empty() { host.push('.'); }
            host.push_str(domain);
            let value = match port {
                Some(p) => format!("{scheme}://{host}:{p}"),
                None => format!("{scheme}://{host}"),
            };
            for e in ENTRIES {
                check(e, &value);
            }
        }
    }
}
