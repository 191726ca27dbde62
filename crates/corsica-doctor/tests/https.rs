//! `corsica check` over HTTPS: certificates are verified (the system's roots), and
//! `--insecure` accepts a self-signed development certificate.

use std::convert::Infallible;
use std::sync::Arc;

use corsica::fetch::{Credentials, Verdict};
use corsica_doctor::{CheckArgs, LiveOptions, check, report};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;

fn start_tls_server(rt: &tokio::runtime::Runtime) -> std::net::SocketAddr {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let certs =
        vec![rustls_pki_types::CertificateDer::from_pem_slice(cert.pem().as_bytes()).unwrap()];
    let key =
        rustls_pki_types::PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    rt.block_on(async move {
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
                    let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                        let origin = req.headers().get("origin").cloned();
                        let mut r = Response::new(Full::new(Bytes::from_static(b"ok")));
                        if let Some(o) = origin {
                            r.headers_mut().insert("access-control-allow-origin", o);
                        }
                        Ok::<_, Infallible>(r)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        addr
    })
}

fn args(url: String, insecure: bool) -> CheckArgs {
    CheckArgs {
        url,
        origin: "https://app.example.com".into(),
        method: "GET".into(),
        headers: vec![],
        credentials: Credentials::Omit,
        live: LiveOptions {
            insecure,
            ..LiveOptions::default()
        },
    }
}

#[test]
fn certificates_are_verified_unless_insecure() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = start_tls_server(&rt);
    let url = format!("https://localhost:{}/api", addr.port());

    let (_, outcome) = check(&args(url.clone(), false)).unwrap();
    assert_eq!(
        report::exit_code(&outcome),
        2,
        "a self-signed certificate is refused"
    );
    match &outcome.verdict {
        Verdict::Failed { reason } => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        v => panic!("{v}"),
    }

    let (_, outcome) = check(&args(url, true)).unwrap();
    assert!(outcome.is_allowed(), "{}", outcome.verdict);
}
