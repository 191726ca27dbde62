//! TLS: termination on the client listener (certificate and key reloaded with the
//! configuration) and `https://` upstreams verified against the system's roots plus
//! `[tls] upstream_ca`. Certificates are generated per test (rcgen); real sockets on
//! 127.0.0.1.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use corsica_gateway::config::Config;
use corsica_gateway::gateway;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

const ORIGIN: &str = "https://app.example.com";

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for `localhost` and 127.0.0.1 signed by `ca`: (cert PEM, key PEM).
fn leaf(ca: &Ca) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An HTTPS client trusting only `ca_pem`.
fn client(ca_pem: &str) -> Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

async fn get(
    c: &Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    url: &str,
) -> Result<(u16, http::HeaderMap, String), String> {
    let req = Request::get(url)
        .header("origin", ORIGIN)
        .body(Empty::new())
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), c.request(req))
        .await
        .map_err(|_| "timeout".to_owned())?
        .map_err(|e| format!("{e:?}"))?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn config_text(upstream: &str, tls: &str) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\n{tls}\n[[route]]\nupstream = \"{upstream}\"\n[route.cors]\norigins = [\"{ORIGIN}\"]\ncredentials = true\n"
    )
}

fn load(dir: &Path, text: &str) -> Config {
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    Config::parse(text, &path.display().to_string()).unwrap()
}

/// A plain HTTP upstream that answers with the `X-Forwarded-Proto` it saw.
async fn proto_upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let proto = req.headers().get("x-forwarded-proto").cloned();
                    let body = proto
                        .map(|p| p.to_str().unwrap_or("").to_owned())
                        .unwrap_or_default();
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_termination_serves_https_with_cors_headers() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca("corsica test CA");
    let (cert, key) = leaf(&ca);
    write(dir.path(), "cert.pem", &cert);
    write(dir.path(), "key.pem", &key);
    let upstream = proto_upstream().await;
    let config = load(
        dir.path(),
        &config_text(
            &format!("http://{upstream}"),
            "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n",
        ),
    );
    let running = gateway::start(config, Some(dir.path().join("gateway.toml")))
        .await
        .unwrap();
    let url = format!("https://localhost:{}/hello", running.addr.port());
    let (status, headers, body) = get(&client(&ca.pem), &url).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    // The upstream learns the client spoke HTTPS.
    assert_eq!(body, "https");
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        plain.request(
            Request::get(format!("http://127.0.0.1:{}/", running.addr.port()))
                .body(Empty::new())
                .unwrap(),
        ),
    )
    .await
    .unwrap();
    assert!(
        r.is_err(),
        "plain HTTP must not be served on a TLS listener"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_and_key_are_reloaded_with_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, new_ca) = (ca("old CA"), ca("new CA"));
    let (cert, key) = leaf(&old_ca);
    write(dir.path(), "cert.pem", &cert);
    write(dir.path(), "key.pem", &key);
    let text = config_text("echo", "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n");
    let config = load(dir.path(), &text);
    let running = gateway::start(config, Some(dir.path().join("gateway.toml")))
        .await
        .unwrap();
    let url = format!("https://localhost:{}/x", running.addr.port());
    assert!(
        get(&client(&new_ca.pem), &url).await.is_err(),
        "the new CA is not trusted yet"
    );
    assert_eq!(get(&client(&old_ca.pem), &url).await.unwrap().0, 200);

    // A broken key is refused, and the old certificate keeps serving.
    write(dir.path(), "key.pem", "not a key");
    let errs = running.reload().unwrap_err();
    assert_eq!(errs.len(), 1, "{errs}");
    let err = errs.first();
    assert!(err.message().contains("[tls]"), "{err}");
    assert_eq!(
        (err.line(), err.column()),
        (4, 7),
        "the error points at `key`: {err}"
    );
    assert_eq!(get(&client(&old_ca.pem), &url).await.unwrap().0, 200);

    let (cert, key) = leaf(&new_ca);
    write(dir.path(), "cert.pem", &cert);
    write(dir.path(), "key.pem", &key);
    running.reload().unwrap();
    assert_eq!(get(&client(&new_ca.pem), &url).await.unwrap().0, 200);
    assert!(
        get(&client(&old_ca.pem), &url).await.is_err(),
        "the old certificate is gone"
    );
    running.shutdown().await;
}

/// An HTTPS upstream that answers every request with `upstream ok`.
async fn https_upstream(cert: &str, key: &str) -> std::net::SocketAddr {
    let certs = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = hyper::service::service_fn(|_req: Request<Incoming>| async {
                    let mut r = Response::new(Full::new(Bytes::from_static(b"upstream ok")));
                    r.headers_mut().insert(
                        "access-control-allow-origin",
                        http::HeaderValue::from_static("*"),
                    );
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    let private_ca = ca("private CA");
    let (cert, key) = leaf(&private_ca);
    let upstream = https_upstream(&cert, &key).await;
    write(dir.path(), "private-ca.pem", &private_ca.pem);
    let plain = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let fetch = |port: u16| {
        let plain = plain.clone();
        async move {
            let req = Request::get(format!("http://127.0.0.1:{port}/x"))
                .header("origin", ORIGIN)
                .body(Empty::new())
                .unwrap();
            let r = plain.request(req).await.unwrap();
            let (status, acao) = (
                r.status().as_u16(),
                r.headers().get("access-control-allow-origin").cloned(),
            );
            let body = r.into_body().collect().await.unwrap().to_bytes();
            (status, acao, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let upstream_url = format!("https://localhost:{}", upstream.port());

    // Trusted through upstream_ca: forwarded, the upstream's `*` replaced by the route's policy.
    let config = load(
        dir.path(),
        &config_text(&upstream_url, "[tls]\nupstream_ca = [\"private-ca.pem\"]\n"),
    );
    let running = gateway::start(config, None).await.unwrap();
    let (status, acao, body) = fetch(running.addr.port()).await;
    assert_eq!((status, body.as_str()), (200, "upstream ok"));
    assert_eq!(acao.unwrap(), ORIGIN);
    running.shutdown().await;

    // Not trusted by the system's roots alone: 502, with the CORS headers.
    let config = load(dir.path(), &config_text(&upstream_url, ""));
    let running = gateway::start(config, None).await.unwrap();
    let (status, acao, _) = fetch(running.addr.port()).await;
    assert_eq!(status, 502);
    assert_eq!(acao.unwrap(), ORIGIN);
    running.shutdown().await;
}
