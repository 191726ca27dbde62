//! The tower layer against tower-http's `CorsLayer`, measured in the same run, on the same
//! requests, around the same no-op inner service: an allowed actual request and an allowed
//! preflight, with 1, 100 and 10,000 allowed origins (the request's origin is the last one
//! listed). Run with `cargo bench -p corsica --features tower --bench layer`.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Method, Request, Response};
use tower::{Layer, Service, service_fn};

/// Polls a future that is ready at once (both layers answer without waiting).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the future was not ready"),
    }
}

fn origins(n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n.saturating_sub(1))
        .map(|i| format!("https://app{i}.example.com"))
        .collect();
    v.push("https://app.example.com".into());
    v
}

fn request(preflight: bool) -> Request<()> {
    let mut b = Request::builder()
        .method(if preflight {
            Method::OPTIONS
        } else {
            Method::GET
        })
        .uri("/api/items")
        .header("host", "api.example.com")
        .header("origin", "https://app.example.com");
    if preflight {
        b = b
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type,x-api-key");
    }
    b.body(()).expect("valid request")
}

fn bench(c: &mut Criterion) {
    let inner = || service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let mut group = c.benchmark_group("layer");
    for n in [1usize, 100, 10_000] {
        let list = origins(n);
        let policy = corsica::Policy::builder()
            .allow_origins(list.clone())
            .allow_credentials(true)
            .allow_methods(["GET", "POST", "PUT"])
            .allow_headers(["content-type", "x-api-key"])
            .max_age_secs(600)
            .build()
            .expect("valid policy");
        let mut ours = corsica::tower::CorsLayer::new(policy).layer(inner());
        let peer_layer = tower_http::cors::CorsLayer::new()
            .allow_origin(
                list.iter()
                    .map(|o| HeaderValue::from_str(o).expect("origin"))
                    .collect::<Vec<_>>(),
            )
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::PUT])
            .allow_headers([
                http::header::CONTENT_TYPE,
                http::HeaderName::from_static("x-api-key"),
            ])
            .max_age(std::time::Duration::from_secs(600));
        let mut peer = peer_layer.layer(inner());
        for (name, preflight) in [("actual", false), ("preflight", true)] {
            // Both must answer the same way before they are timed.
            let a = ready(ours.call(request(preflight))).expect("ours");
            let b = ready(peer.call(request(preflight))).expect("peer");
            assert_eq!(
                a.headers().get("access-control-allow-origin"),
                b.headers().get("access-control-allow-origin")
            );
            group.bench_with_input(
                BenchmarkId::new(format!("corsica/{name}"), n),
                &preflight,
                |bch, &p| {
                    bch.iter(|| black_box(ready(ours.call(black_box(request(p)))).expect("ours")))
                },
            );
            group.bench_with_input(
                BenchmarkId::new(format!("tower-http/{name}"), n),
                &preflight,
                |bch, &p| {
                    bch.iter(|| black_box(ready(peer.call(black_box(request(p)))).expect("peer")))
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
