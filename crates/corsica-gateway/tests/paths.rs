//! Routing uses the path the upstream will understand: `/%61dmin` and `//admin` get the
//! `/admin/` route's policy, and ambiguous paths are refused.

use std::time::Duration;

use corsica_gateway::config::Config;
use corsica_gateway::gateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str, origin: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req =
        format!("GET {path} HTTP/1.1\r\nhost: a\r\norigin: {origin}\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_paths_get_the_policy_of_the_resource() {
    let text = "listen = \"127.0.0.1:0\"\n\
        [[route]]\npath = \"/admin/\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://admin.example.com\"]\n\
        [[route]]\npath = \"/\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://*.example.com\"]\n";
    let running = gateway::start(Config::parse(text, "t.toml").unwrap(), None)
        .await
        .unwrap();
    let a = running.addr;
    let wide = "https://blog.example.com";
    assert!(
        get(a, "/public/x", wide)
            .await
            .contains(&format!("access-control-allow-origin: {wide}"))
    );
    for sneaky in ["/admin/x", "/%61dmin/x", "//admin/x", "/%61%64%6d%69%6e/x"] {
        let r = get(a, sneaky, wide).await;
        assert!(r.starts_with("http/1.1 200"), "{sneaky}: {r}");
        assert!(
            !r.contains("access-control-allow-origin"),
            "{sneaky} must get the /admin/ policy: {r}"
        );
    }
    for ambiguous in ["/admin%2Fx", "/x/../admin/x", "/%2e%2e/admin"] {
        let r = get(a, ambiguous, wide).await;
        assert!(r.starts_with("http/1.1 400"), "{ambiguous}: {r}");
    }
    running.shutdown().await;
}

/// An HTTP/1.1 upstream that answers with every `cookie` line it got, one per line.
async fn cookie_upstream() -> std::net::SocketAddr {
    use http_body_util::Full;
    use hyper::body::{Bytes, Incoming};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: hyper::Request<Incoming>| async move {
                    let lines: Vec<String> = req
                        .headers()
                        .get_all("cookie")
                        .iter()
                        .map(|v| v.to_str().unwrap_or("").to_owned())
                        .collect();
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        lines.join("\n"),
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_cookie_fields_reach_an_http1_upstream_as_one_line() {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    let upstream = cookie_upstream().await;
    let text = format!(
        "listen = \"127.0.0.1:0\"\n[[route]]\nupstream = \"http://{upstream}\"\n[route.cors]\norigins = [\"https://a.example\"]\ncredentials = true\n"
    );
    let running = gateway::start(Config::parse(&text, "t.toml").unwrap(), None)
        .await
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Empty<Bytes>>();
    let req = hyper::Request::get(format!("http://{}/x", running.addr))
        .header("origin", "https://a.example")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(Empty::new())
        .unwrap();
    let r = client.request(req).await.unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://a.example"
    );
    let body = r.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(String::from_utf8_lossy(&body), "a=1; b=2");
    running.shutdown().await;
}

async fn raw(addr: std::net::SocketAddr, req: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_are_normalized_and_ambiguous_ones_refused() {
    let text = "listen = \"127.0.0.1:0\"\n\
        [[route]]\nhost = \"api.example.com\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\"]\n";
    let running = gateway::start(Config::parse(text, "t.toml").unwrap(), None)
        .await
        .unwrap();
    let a = running.addr;
    let ok = raw(a, "GET /x HTTP/1.1\r\nhost: API.example.com.:8080\r\norigin: https://a.example\r\nconnection: close\r\n\r\n").await;
    assert!(
        ok.starts_with("http/1.1 200")
            && ok.contains("access-control-allow-origin: https://a.example"),
        "{ok}"
    );
    // Absolute form: the target's host decides, not the Host header.
    let abs = raw(
        a,
        "GET http://api.example.com/x HTTP/1.1\r\nhost: other.example\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(abs.starts_with("http/1.1 200"), "{abs}");
    let two = raw(a, "GET /x HTTP/1.1\r\nhost: api.example.com\r\nhost: evil.example\r\nconnection: close\r\n\r\n").await;
    assert!(two.starts_with("http/1.1 400"), "{two}");
    running.shutdown().await;
}
