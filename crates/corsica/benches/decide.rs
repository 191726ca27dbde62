//! The engine alone: `Policy::decide` (and `Decision::apply` into a response) for 1, 100
//! and 10,000 allowed origins; preflight and actual requests; allowed and denied; exact
//! origins and subdomain patterns. Run with `cargo bench -p corsica` (or `cargo xtask bench`).
//!
//! Comparisons with tower-http and actix-cors belong in the same run of a dedicated
//! benchmark (see the roadmap); this one tracks the engine's own cost.

use std::hint::black_box;

use corsica::Policy;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};

fn origins(n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n.saturating_sub(1))
        .map(|i| format!("https://app{i}.example.com"))
        .collect();
    v.push("https://app.example.com".into());
    v
}

fn policy(n: usize) -> Policy {
    Policy::builder()
        .max_age_secs(7200)
        .allow_credentials(true)
        .allow_origins(origins(n))
        .expose_headers(["x-request-id"])
        .allow_methods(["GET", "POST", "PUT", "DELETE"])
        .allow_headers(["content-type", "x-api-key"])
        .build()
        .expect("valid policy")
}

fn request(origin: &'static str, preflight: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("api.example.com"));
    h.insert("accept", HeaderValue::from_static("application/json"));
    h.insert(
        "user-agent",
        HeaderValue::from_static("Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"),
    );
    h.insert("origin", HeaderValue::from_static(origin));
    if preflight {
        h.insert(
            "access-control-request-method",
            HeaderValue::from_static("PUT"),
        );
        h.insert(
            "access-control-request-headers",
            HeaderValue::from_static("content-type,x-api-key"),
        );
    }
    h
}

fn bench_decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for n in [1usize, 100, 10_000] {
        let p = policy(n);
        for (name, origin, preflight) in [
            ("actual_allowed", "https://app.example.com", false),
            ("actual_denied", "https://evil.example.net", false),
            ("preflight_allowed", "https://app.example.com", true),
            ("preflight_denied", "https://evil.example.net", true),
        ] {
            let req = request(origin, preflight);
            let method = if preflight {
                Method::OPTIONS
            } else {
                Method::GET
            };
            group.bench_with_input(BenchmarkId::new(name, n), &req, |b, req| {
                b.iter(|| black_box(p.decide(black_box(&method), black_box(req))))
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("decide_and_apply");
    let p = policy(10_000);
    let req = request("https://app.example.com", false);
    let mut response = HeaderMap::new();
    response.insert("content-type", HeaderValue::from_static("application/json"));
    response.insert("content-length", HeaderValue::from_static("2"));
    group.bench_function("actual_allowed/10000", |b| {
        b.iter(|| {
            let mut resp = response.clone();
            p.decide(&Method::GET, black_box(&req)).apply(&mut resp);
            black_box(resp)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("patterns");
    let p = Policy::builder()
        .allow_origins(["https://*.example.com", "http://localhost:*"])
        .build()
        .expect("valid policy");
    for (name, origin) in [
        ("subdomain_allowed", "https://a.b.example.com"),
        ("any_port_allowed", "http://localhost:5173"),
        ("denied", "https://example.com.evil.net"),
    ] {
        let req = request(origin, false);
        group.bench_function(name, |b| {
            b.iter(|| black_box(p.decide(&Method::GET, black_box(&req))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decide);
criterion_main!(benches);
