//! `corsica lint` on what can never work (issue 12): each refused with its reason at the
//! entry's line and column, and what the standard trusts accepted.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_corsica");

/// Lints a configuration whose `[route.cors]` table holds `cors` (line 4 on); the exit
/// code, stdout and stderr.
fn lint(cors: &str, format: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!("[[route]]\nupstream = \"echo\"\n[route.cors]\n{cors}\n"),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["lint", "--format", format, path.to_str().unwrap()])
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn refuses_what_can_never_work() {
    // (the [route.cors] lines, line:column of the entry, the reason). Peers: jub0bs/cors
    // refuses each of these (forbidden and prohibited header names, file and port-0
    // origins, empty labels); rs/cors, tower-http and actix-cors accept them silently.
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str)] = &[
        ("origins = [\"*\"]\nheaders = [\"Connection\"]", ":5:12: ", "headers: `Connection` is a forbidden request header: browsers never let a page send it"),
        ("origins = [\"*\"]\nheaders = [\"Sec-Foo\"]", ":5:12: ", "`Sec-Foo` is a forbidden request header"),
        ("origins = [\"*\"]\nheaders = [\"Proxy-Foo\"]", ":5:12: ", "`Proxy-Foo` is a forbidden request header"),
        ("origins = [\"*\"]\nheaders = [\"x-api-key\", \"Access-Control-Allow-Origin\"]", ":5:25: ", "is a CORS protocol header"),
        ("origins = [\"*\"]\nexpose = [\"Set-Cookie\"]", ":5:11: ", "expose: `Set-Cookie` is a forbidden response header: browsers never let a script read it"),
        ("origins = [\"file://example.com\"]", ":4:12: ", "pages loaded from file: URLs send `Origin: null`"),
        ("origins = [\"https://example.com:0\"]", ":4:12: ", "has port 0"),
        ("origins = [\"https://example..com\"]", ":4:12: ", "has an empty label"),
        ("origins = [\"https://*.kin\"]\ncredentials = true", ":4:12: ", "credentials are on"),
    ];
    for (cors, at, reason) in cases {
        let (code, out, err) = lint(cors, "text");
        assert_eq!(code, 1, "{cors}: {out}{err}");
        assert!(err.contains(at) && err.contains(reason), "{cors}: {err}");
        let (code, json, _) = lint(cors, "json");
        assert_eq!(code, 1, "{cors}: {json}");
        assert!(
            json.contains(&reason.replace('"', "\\\"")),
            "{cors}: {json}"
        );
    }
}

#[test]
fn accepts_what_the_standard_trusts() {
    // Secure Contexts § 3.2: `localhost.` is loopback, so credentials need no opt-in.
    // Any request header with credentials: mirrored (jub0bs/cors; tower-http's
    // `mirror_request`), so `"*"` is accepted with credentials too.
    for cors in [
        "origins = [\"http://localhost.\"]\ncredentials = true",
        "origins = [\"http://*.localhost.:*\"]\ncredentials = true",
        "origins = [\"https://app.example.com\"]\ncredentials = true\nheaders = [\"*\"]",
    ] {
        let (code, out, err) = lint(cors, "text");
        assert_eq!(code, 0, "{cors}: {out}{err}");
        assert!(!err.contains("warning"), "{cors}: {err}");
    }
    // A public-suffix pattern without credentials: accepted (jub0bs/cors), with a warning
    // at the entry, in text, JSON and SARIF.
    let cors = "origins = [\"https://*.kin\"]";
    let (code, out, err) = lint(cors, "text");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(":4:12: warning: ") && err.contains("public suffix `kin`"),
        "{err}"
    );
    assert!(out.contains("1 warning(s)"), "{out}");
    for format in ["json", "sarif"] {
        let (code, out, _) = lint(cors, format);
        assert_eq!(code, 0, "{format}: {out}");
        assert!(out.contains("public suffix `kin`"), "{format}: {out}");
    }
}
