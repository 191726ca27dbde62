//! Scenarios written for where browsers part ways (each is judged by every browser the
//! suite drives): Chromium's extra safelisted request headers (client hints), which
//! Firefox preflights; and the order of the preflight checks (Firefox checks the method
//! before it parses `Access-Control-Allow-Headers`, Chromium parses both lists first).

use corsica::fetch::{Credentials, Mode, RedirectMode};

use crate::scenario::{Hop, Host, Reply, Scenario};

/// Appends the scenarios to `out`, numbered after it.
pub fn push_all(out: &mut Vec<Scenario>) {
    let mut push = |name: String, method: &str, headers: Vec<(String, String)>, hop: Hop| {
        let id = out.len();
        out.push(Scenario {
            id,
            name,
            method: method.to_owned(),
            headers,
            credentials: Credentials::Omit,
            redirect: RedirectMode::Follow,
            mode: Mode::Cors,
            hops: vec![hop],
            before: Vec::new(),
        });
    };
    let actual = Reply::new(200).with_all(&[("access-control-allow-origin", "{origin}")]);
    // Client hints with values Chromium safelists; the API answers the actual request, and
    // its preflight not at all, without `Access-Control-Allow-Headers`, with `*`, or
    // listing the header.
    let hints = [
        ("Save-Data", "on"),
        ("DPR", "2"),
        ("Width", "100"),
        ("Viewport-Width", "800"),
        ("Device-Memory", "8"),
        ("RTT", "50"),
        ("Downlink", "1.5"),
        ("ECT", "4g"),
    ];
    for (name, value) in hints {
        let lower = name.to_ascii_lowercase();
        let preflights = [
            ("unanswered", Reply::new(404)),
            (
                "no-acah",
                Reply::new(204).with_all(&[("access-control-allow-origin", "{origin}")]),
            ),
            (
                "acah-star",
                Reply::new(204).with_all(&[
                    ("access-control-allow-origin", "{origin}"),
                    ("access-control-allow-headers", "*"),
                ]),
            ),
            (
                "acah-listed",
                Reply::new(204).with_all(&[
                    ("access-control-allow-origin", "{origin}"),
                    ("access-control-allow-headers", &lower),
                ]),
            ),
        ];
        for (p_l, preflight) in preflights {
            push(
                format!("browsers client-hint {lower}={value} preflight-{p_l}"),
                "GET",
                vec![(name.to_owned(), value.to_owned())],
                Hop {
                    host: Host::Api,
                    preflight,
                    response: actual.clone(),
                },
            );
        }
    }
    // Cases web-platform-tests taught: a `Content-Type` ending in a vertical tab or a form
    // feed (not HTTP whitespace: not safelisted), and preflights answered 300 with a
    // `Location` or 407.
    for (label, value) in [("vt", "text/plain\u{0b}"), ("ff", "text/plain\u{0c}")] {
        push(
            format!("browsers content-type-{label} preflight-unanswered"),
            "POST",
            vec![("Content-Type".to_owned(), value.to_owned())],
            Hop {
                host: Host::Api,
                preflight: Reply::new(404),
                response: actual.clone(),
            },
        );
    }
    for status in [300, 407] {
        push(
            format!("browsers preflight-status {status}"),
            "PUT",
            Vec::new(),
            Hop {
                host: Host::Api,
                preflight: Reply::new(status).with_all(&[
                    ("access-control-allow-origin", "{origin}"),
                    ("access-control-allow-methods", "PUT"),
                    ("location", "{api}/s/{id}/0"),
                ]),
                response: actual.clone(),
            },
        );
    }
    // A response (not a preflight) answered 407 with CORS headers.
    push(
        "browsers response-status 407".to_owned(),
        "GET",
        Vec::new(),
        Hop {
            host: Host::Api,
            preflight: Reply::new(404),
            response: Reply::new(407).with_all(&[("access-control-allow-origin", "{origin}")]),
        },
    );
    // A method the preflight does not allow and an `Access-Control-Allow-Headers` that does
    // not parse (or does not list the header): which error comes first.
    for acam in ["GET", "PUT"] {
        for acah in ["x-a x-b", "x-b", "x-a"] {
            push(
                format!("browsers check-order PUT x-a acam={acam:?} acah={acah:?}"),
                "PUT",
                vec![("X-A".to_owned(), "1".to_owned())],
                Hop {
                    host: Host::Api,
                    preflight: Reply::new(204).with_all(&[
                        ("access-control-allow-origin", "{origin}"),
                        ("access-control-allow-methods", acam),
                        ("access-control-allow-headers", acah),
                    ]),
                    response: actual.clone(),
                },
            );
        }
    }
}
