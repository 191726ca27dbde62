//! The tower layer against its peers, measured in the same run on the same requests around
//! the same no-op inner services: tower-http's `CorsLayer` and actix-cors' `Cors`, plus a
//! baseline per framework with no middleware at all (the harness alone), so that a
//! middleware's own cost is its time minus its framework's baseline.
//!
//! Cases: an allowed actual request and an allowed preflight, and the same two from an
//! origin that is not allowed (`denied-actual`, `denied-preflight`), with 1, 100 and 10,000
//! allowed origins (the allowed request's origin is the last one listed).
//!
//! Benchmark ids (stable, read by `cargo xtask bench`): group `layer`, function
//! `<impl>/<case>`, parameter the number of allowed origins, where `<impl>` is `corsica`,
//! `tower-http`, `actix-cors`, `none-tower` (the tower harness without middleware) or
//! `none-actix` (the actix harness without middleware), and `<case>` is `actual`,
//! `preflight`, `denied-actual` or `denied-preflight`.
//!
//! The no-op inner services answer 200 with `Content-Type: application/json`, as nearly
//! every real handler does, so the response's header map exists before a middleware writes
//! to it.
//!
//! Every timed iteration makes the request, calls the service, polls its future once and
//! drops the response. A tower request is cloned from a prebuilt method, URI and header map
//! whose values are shared bytes, as a server's parser hands them over; an actix request is
//! made once with `actix_web::test::TestRequest` and shared by reference count.
//!
//! Run with `cargo bench -p corsica --features tower --bench layer`.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_web::dev::{Service as _, ServiceRequest, Transform as _, fn_service};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};
use tower::{Layer, Service, service_fn};

/// The origin of the allowed requests (the last one listed).
const ALLOWED: &str = "https://app.example.com";
/// The origin of the denied requests.
const DENIED: &str = "https://evil.example.net";
const METHODS: [&str; 3] = ["GET", "POST", "PUT"];
const HEADERS: [&str; 2] = ["content-type", "x-api-key"];
const MAX_AGE: u64 = 600;
/// The `Content-Type` of the no-op services' answers.
const JSON: &str = "application/json";

/// Polls a future that is ready at once (every service here answers without waiting).
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
    v.push(ALLOWED.into());
    v
}

/// One kind of request.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    preflight: bool,
    origin: &'static str,
}

const CASES: [Case; 4] = [
    Case {
        name: "actual",
        preflight: false,
        origin: ALLOWED,
    },
    Case {
        name: "preflight",
        preflight: true,
        origin: ALLOWED,
    },
    Case {
        name: "denied-actual",
        preflight: false,
        origin: DENIED,
    },
    Case {
        name: "denied-preflight",
        preflight: true,
        origin: DENIED,
    },
];

impl Case {
    fn method(self) -> &'static str {
        if self.preflight { "OPTIONS" } else { "GET" }
    }

    /// The request headers, as (name, value) pairs.
    fn headers(self) -> Vec<(&'static str, &'static str)> {
        let mut h = vec![("host", "api.example.com"), ("origin", self.origin)];
        if self.preflight {
            h.push(("access-control-request-method", "PUT"));
            h.push(("access-control-request-headers", "content-type,x-api-key"));
        }
        h
    }
}

/// A tower request, cloned from prebuilt parts on every iteration.
struct TowerRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl TowerRequest {
    fn new(case: Case) -> TowerRequest {
        let mut headers = HeaderMap::new();
        for (name, value) in case.headers() {
            // Not `from_static`: a parsed request's values are shared bytes.
            let value = HeaderValue::from_str(value).expect("header value");
            headers.insert(name, value);
        }
        TowerRequest {
            method: case.method().parse().expect("method"),
            uri: "/api/items".parse().expect("uri"),
            headers,
        }
    }

    fn make(&self) -> Request<()> {
        let mut r = Request::new(());
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// An actix request, made once with `TestRequest` (whose every call sets up an application
/// config: microseconds, which would drown what is measured) and shared by reference count
/// on every iteration, the way actix hands its request to a service.
struct ActixRequest(actix_web::HttpRequest);

impl ActixRequest {
    fn new(case: Case) -> ActixRequest {
        let mut r = actix_web::test::TestRequest::default()
            .method(case.method().parse().expect("method"))
            .uri("/api/items");
        for pair in case.headers() {
            r = r.insert_header(pair);
        }
        ActixRequest(r.to_http_request())
    }

    fn make(&self) -> ServiceRequest {
        ServiceRequest::from_request(self.0.clone())
    }
}

/// What a response says, compared across implementations before timing.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    allow_origin: Option<Vec<u8>>,
    allow_credentials: Option<Vec<u8>>,
    /// As sets of lower-cased tokens (the lists' order and spacing differ).
    allow_methods: BTreeSet<String>,
    allow_headers: BTreeSet<String>,
    max_age: Option<Vec<u8>>,
}

impl Answer {
    fn new<'a>(get: impl Fn(&str) -> Option<&'a [u8]>) -> Answer {
        let tokens = |name| {
            get(name)
                .map(|v| {
                    String::from_utf8_lossy(v)
                        .split(',')
                        .map(|t| t.trim().to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default()
        };
        Answer {
            allow_origin: get("access-control-allow-origin").map(<[u8]>::to_vec),
            allow_credentials: get("access-control-allow-credentials").map(<[u8]>::to_vec),
            allow_methods: tokens("access-control-allow-methods"),
            allow_headers: tokens("access-control-allow-headers"),
            max_age: get("access-control-max-age").map(<[u8]>::to_vec),
        }
    }
}

fn tower_answer<B>(r: &Response<B>) -> Answer {
    Answer::new(|name| r.headers().get(name).map(HeaderValue::as_bytes))
}

fn actix_answer<B>(r: &actix_web::dev::ServiceResponse<B>) -> Answer {
    Answer::new(|name| r.headers().get(name).map(|v| v.as_bytes()))
}

fn time<M: criterion::measurement::Measurement, O>(
    group: &mut BenchmarkGroup<'_, M>,
    id: &str,
    case: Case,
    n: usize,
    mut call: impl FnMut() -> O,
) {
    group.bench_function(BenchmarkId::new(format!("{id}/{}", case.name), n), |b| {
        b.iter(|| black_box(call()))
    });
}

fn bench(c: &mut Criterion) {
    // The no-op services answer 200 with a `Content-Type`, as nearly every real handler
    // does (so the response's header map exists before any middleware writes to it).
    let tower_inner = || {
        service_fn(|_req: Request<()>| async {
            let mut r = Response::new(());
            r.headers_mut()
                .insert(http::header::CONTENT_TYPE, JSON.parse().expect("value"));
            Ok::<_, Infallible>(r)
        })
    };
    let actix_inner = || {
        fn_service(|req: ServiceRequest| async {
            let response = actix_web::HttpResponse::Ok().content_type(JSON).finish();
            Ok::<_, actix_web::Error>(req.into_response(response))
        })
    };
    let mut group = c.benchmark_group("layer");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in [1usize, 100, 10_000] {
        let list = origins(n);
        let policy = corsica::Policy::builder()
            .allow_origins(list.clone())
            .allow_credentials(true)
            .allow_methods(METHODS)
            .allow_headers(HEADERS)
            .max_age_secs(MAX_AGE)
            .build()
            .expect("valid policy");
        let mut ours = corsica::tower::CorsLayer::new(policy).layer(tower_inner());
        let mut tower_http = tower_http::cors::CorsLayer::new()
            .allow_origin(
                list.iter()
                    .map(|o| HeaderValue::from_str(o).expect("origin"))
                    .collect::<Vec<_>>(),
            )
            .allow_credentials(true)
            .allow_methods(METHODS.map(|m| m.parse::<Method>().expect("method")))
            .allow_headers(HEADERS.map(http::HeaderName::from_static))
            .max_age(Duration::from_secs(MAX_AGE))
            .layer(tower_inner());
        let actix = list
            .iter()
            .fold(actix_cors::Cors::default(), |cors, o| {
                cors.allowed_origin(o)
            })
            .supports_credentials()
            .allowed_methods(METHODS)
            .allowed_headers(HEADERS)
            .max_age(Some(MAX_AGE as usize));
        let actix = ready(actix.new_transform(actix_inner())).expect("actix-cors");
        let mut none_tower = tower_inner();
        let none_actix = actix_inner();

        for case in CASES {
            let req = TowerRequest::new(case);
            let actix_req = ActixRequest::new(case);
            // All three must answer the same way before they are timed.
            let expected = tower_answer(&ready(ours.call(req.make())).expect("corsica"));
            assert_eq!(
                expected.allow_origin.is_some(),
                case.origin == ALLOWED,
                "{}",
                case.name
            );
            let peer = tower_answer(&ready(tower_http.call(req.make())).expect("tower-http"));
            let actix_said = actix_answer(&ready(actix.call(actix_req.make())).expect("actix"));
            if case.origin == ALLOWED {
                assert_eq!(expected, peer, "tower-http, {}", case.name);
                assert_eq!(expected, actix_said, "actix-cors, {}", case.name);
            } else {
                // Denied: no peer may let the origin read the response.
                assert_eq!(peer.allow_origin, None, "tower-http, {}", case.name);
                assert_eq!(actix_said.allow_origin, None, "actix-cors, {}", case.name);
            }

            time(&mut group, "corsica", case, n, || {
                ready(ours.call(req.make())).expect("corsica")
            });
            time(&mut group, "tower-http", case, n, || {
                ready(tower_http.call(req.make())).expect("tower-http")
            });
            time(&mut group, "actix-cors", case, n, || {
                ready(actix.call(actix_req.make())).expect("actix-cors")
            });
            // The baselines do not depend on the origin count, but are measured at each one
            // so that every cell has its own.
            time(&mut group, "none-tower", case, n, || {
                ready(none_tower.call(req.make())).expect("none-tower")
            });
            time(&mut group, "none-actix", case, n, || {
                ready(none_actix.call(actix_req.make())).expect("none-actix")
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
