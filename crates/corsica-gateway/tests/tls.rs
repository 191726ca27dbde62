//! TLS: termination on the client listener (certificate and key reloaded with the
//! configuration) and `https://` upstreams verified against the system's roots plus
//! `[tls] upstream_ca`. Certificates are generated per test (the testkit's CA); real
//! sockets on 127.0.0.1.

use corsica_testkit::client::{HttpClient, request};
use corsica_testkit::gateway::{ConfigDir, LISTEN, cors_route};
use corsica_testkit::headers::{ACAC, ACAO};
use corsica_testkit::server::{Reply, Seen, TestServer, empty};
use corsica_testkit::tls::{Ca, Leaf};

const ORIGIN: &str = "https://app.example.com";

/// One route to `upstream` allowing [`ORIGIN`] with credentials, after the `tls` lines.
fn config_text(upstream: &str, tls: &str) -> String {
    format!("{LISTEN}{tls}")
        + &cors_route(
            upstream,
            &format!("origins = [\"{ORIGIN}\"]\ncredentials = true"),
        )
}

/// Puts `leaf` in `cert.pem` and `key.pem`.
fn install(dir: &ConfigDir, leaf: &Leaf) {
    dir.write("cert.pem", &leaf.cert_pem);
    dir.write("key.pem", &leaf.key_pem);
}

const TLS_FILES: &str = "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n";

/// The status of a `GET` with [`ORIGIN`] from a client trusting only `ca`.
async fn status(ca: &Ca, url: &str) -> Result<u16, String> {
    let r = HttpClient::https(ca.pem())
        .try_get(url, &[("origin", ORIGIN)])
        .await?;
    Ok(r.status.as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_termination_serves_https_with_cors_headers() {
    let dir = ConfigDir::new();
    let ca = Ca::new("corsica test CA");
    install(&dir, &ca.leaf(&["localhost", "127.0.0.1"]));
    // A plain HTTP upstream that answers with the `X-Forwarded-Proto` it saw.
    let upstream =
        TestServer::start(|s: &Seen| Reply::ok(s.header("x-forwarded-proto").to_owned())).await;
    let running = dir.start(&config_text(&upstream.base(), TLS_FILES)).await;
    let url = format!("https://localhost:{}/hello", running.addr.port());
    let r = HttpClient::https(ca.pem())
        .try_get(&url, &[("origin", ORIGIN)])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers[ACAO], ORIGIN);
    assert_eq!(r.headers[ACAC], "true");
    // The upstream learns the client spoke HTTPS.
    assert_eq!(r.text(), "https");
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        HttpClient::h1().request(request(
            "GET",
            ([127, 0, 0, 1], running.addr.port()).into(),
            "/",
            &[],
            empty(),
        )),
    )
    .await
    .expect("the TLS listener answers plain HTTP at once");
    assert!(
        plain.is_err(),
        "plain HTTP must not be served on a TLS listener"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_and_key_are_reloaded_with_the_configuration() {
    let dir = ConfigDir::new();
    let (old_ca, new_ca) = (Ca::new("old CA"), Ca::new("new CA"));
    install(&dir, &old_ca.leaf(&["localhost", "127.0.0.1"]));
    let running = dir.start(&config_text("echo", TLS_FILES)).await;
    let url = format!("https://localhost:{}/x", running.addr.port());
    assert!(
        status(&new_ca, &url).await.is_err(),
        "the new CA is not trusted yet"
    );
    assert_eq!(status(&old_ca, &url).await.unwrap(), 200);

    // A broken key is refused, and the old certificate keeps serving.
    dir.write("key.pem", "not a key");
    let errs = running.reload().unwrap_err();
    assert_eq!(errs.len(), 1, "{errs}");
    let err = errs.first();
    assert!(err.message().contains("[tls]"), "{err}");
    assert_eq!(
        (err.line(), err.column()),
        (4, 7),
        "the error points at `key`: {err}"
    );
    assert_eq!(status(&old_ca, &url).await.unwrap(), 200);

    install(&dir, &new_ca.leaf(&["localhost", "127.0.0.1"]));
    running.reload().unwrap();
    assert_eq!(status(&new_ca, &url).await.unwrap(), 200);
    assert!(
        status(&old_ca, &url).await.is_err(),
        "the old certificate is gone"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_are_verified() {
    let dir = ConfigDir::new();
    let private_ca = Ca::new("private CA");
    // An HTTPS upstream that answers every request with `upstream ok`.
    let upstream = TestServer::start_tls(
        &private_ca.leaf(&["localhost", "127.0.0.1"]),
        Reply::ok("upstream ok").header(ACAO, "*"),
    )
    .await;
    dir.write("private-ca.pem", private_ca.pem());
    let client = HttpClient::h1();
    let upstream_url = format!("https://localhost:{}", upstream.addr().port());

    // Trusted through upstream_ca: forwarded, the upstream's `*` replaced by the route's policy.
    let config = dir.load(&config_text(
        &upstream_url,
        "[tls]\nupstream_ca = [\"private-ca.pem\"]\n",
    ));
    let running = corsica_gateway::gateway::start(config, None).await.unwrap();
    let r = client
        .call("GET", running.addr, "/x", &[("origin", ORIGIN)])
        .await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "upstream ok"));
    assert_eq!(r.one(ACAO), Some(ORIGIN));
    running.shutdown().await;

    // Not trusted by the system's roots alone: 502, with the CORS headers.
    let config = dir.load(&config_text(&upstream_url, ""));
    let running = corsica_gateway::gateway::start(config, None).await.unwrap();
    let r = client
        .call("GET", running.addr, "/x", &[("origin", ORIGIN)])
        .await;
    assert_eq!(r.status, 502);
    assert_eq!(r.one(ACAO), Some(ORIGIN));
    running.shutdown().await;
}
