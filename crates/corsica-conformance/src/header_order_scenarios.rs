//! Scenarios with several CORS-unsafe request headers that the preflight response does not
//! allow: Chromium names exactly one of them as `HeaderDisallowedByPreflightResponse`'s
//! failed parameter (see `corsica::fetch::header_order`), and the suite checks the model
//! names the same one. The header sets are generated deterministically (a fixed-seed
//! xorshift), with names of varied length and case, some with CORS-safelisted headers too.

use corsica::fetch::{Credentials, Mode, RedirectMode};

use crate::scenario::{Hop, Host, Reply, Scenario};

/// How many header sets are generated.
pub const SETS: usize = 160;

/// A small deterministic generator (xorshift64*), so the sets are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random header name: optionally `x-`-prefixed, 1 to 60 token characters, some upper-case.
fn name(rng: &mut Rng) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_";
    let len = match rng.below(4) {
        0 => 1 + rng.below(4),
        1 => 4 + rng.below(5),
        2 => 8 + rng.below(9),
        _ => 16 + rng.below(45),
    };
    let mut s = String::new();
    if rng.below(2) == 0 {
        s.push_str(if rng.below(3) == 0 { "X-" } else { "x-" });
    }
    let upper = rng.below(3) == 0;
    for _ in 0..len {
        let c = CHARS[rng.below(CHARS.len())] as char;
        s.push(if upper && rng.below(2) == 0 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    s
}

/// Whether a generated name would be dropped or safelisted instead of being CORS-unsafe.
fn usable(n: &str) -> bool {
    let l = n.to_ascii_lowercase();
    !l.starts_with("proxy-")
        && !l.starts_with("sec-")
        && !corsica::fetch::safelist::is_forbidden_request_header(n, "v")
        && !corsica::fetch::safelist::is_safelisted_request_header(n, "v")
}

/// The header sets: 2 to 16 unsafe names (distinct, ignoring case), sometimes with
/// safelisted headers mixed in, in the order the page passes them.
pub fn header_sets() -> Vec<Vec<(String, String)>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let safelisted: [(&str, &str); 4] = [
        ("Accept", "*/*"),
        ("Content-Type", "text/plain"),
        ("Accept-Language", "en"),
        ("Content-Language", "de"),
    ];
    (0..SETS)
        .map(|_| {
            let count = 2 + rng.below(15);
            let mut set: Vec<(String, String)> = Vec::new();
            while set.len() < count {
                let n = name(&mut rng);
                if usable(&n) && !set.iter().any(|(m, _)| m.eq_ignore_ascii_case(&n)) {
                    set.push((n, format!("{}", rng.below(100))));
                }
            }
            if rng.below(3) == 0 {
                for (n, v) in safelisted {
                    if rng.below(2) == 0 {
                        let at = rng.below(set.len() + 1);
                        set.insert(at, (n.to_owned(), v.to_owned()));
                    }
                }
            }
            set
        })
        .collect()
}

/// Pushes one scenario per header set: a `GET` whose preflight allows the method but none
/// of the headers.
pub fn push_all(out: &mut Vec<Scenario>) {
    for (i, set) in header_sets().into_iter().enumerate() {
        let id = out.len();
        let names: Vec<&str> = set.iter().map(|(n, _)| n.as_str()).collect();
        out.push(Scenario {
            id,
            name: format!("header-order {i} {}", names.join(",")),
            method: "GET".to_owned(),
            headers: set,
            credentials: Credentials::Omit,
            redirect: RedirectMode::Follow,
            mode: Mode::Cors,
            hops: vec![Hop {
                host: Host::Api,
                preflight: Reply::new(204).with_all(&[
                    ("access-control-allow-origin", "{origin}"),
                    ("access-control-allow-methods", "GET"),
                    ("access-control-allow-headers", "x-none"),
                ]),
                response: Reply::new(200).with_all(&[("access-control-allow-origin", "{origin}")]),
            }],
            before: Vec::new(),
        });
    }
}
