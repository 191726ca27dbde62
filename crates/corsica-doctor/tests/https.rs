//! `corsica check` over HTTPS: certificates are verified (the system's roots), and
//! `--insecure` accepts a self-signed development certificate.

use corsica::fetch::{Credentials, Verdict};
use corsica_doctor::{CheckArgs, LiveOptions, check, report};
use corsica_testkit::headers::ACAO;
use corsica_testkit::server::{Reply, Seen, TestServer};
use corsica_testkit::tls::Leaf;

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
    // Echoes the Origin it got as `Access-Control-Allow-Origin`, over a self-signed
    // certificate for `localhost`.
    let server = TestServer::blocking_tls(&Leaf::self_signed(&["localhost"]), |s: &Seen| {
        let r = Reply::ok("ok");
        match s.headers.get("origin") {
            Some(o) => r.header(ACAO, o.to_str().unwrap()),
            None => r,
        }
    });
    let url = format!("https://localhost:{}/api", server.addr().port());

    let (_, outcome) = check(&args(url.clone(), false)).unwrap();
    assert_eq!(
        report::exit_code(&outcome),
        2,
        "a self-signed certificate is refused"
    );
    match &outcome.verdict {
        Verdict::Failed { reason, .. } => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        v => panic!("{v}"),
    }

    let (_, outcome) = check(&args(url, true)).unwrap();
    assert!(outcome.is_allowed(), "{}", outcome.verdict);
}
