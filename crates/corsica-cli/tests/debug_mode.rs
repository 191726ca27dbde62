//! Debug mode end to end: the real `corsica serve` with `debug = true`, and `corsica check`
//! against it. The browser model then names the header that is missing (not a missing
//! `Access-Control-Allow-Origin`), and the trace shows the gateway's `corsica-reason`.

use std::process::Command;

use corsica_testkit::{free_port, spawn_until_first_line};

const BIN: &str = env!("CARGO_BIN_EXE_corsica");

fn config(debug: bool) -> String {
    format!(
        "debug = {debug}\n[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"http://app.localhost:3000\"]\nmethods = [\"GET\", \"PUT\"]\nheaders = [\"content-type\"]\n"
    )
}

/// `corsica check --json` of a PUT with `X-API-Key` against a gateway on `config`.
fn check_against(config: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, config).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let (mut gateway, banner) = spawn_until_first_line(
        BIN,
        &[
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            &addr,
        ],
    );
    assert!(banner.contains(&addr), "{banner}");
    let out = Command::new(BIN)
        .args([
            "check",
            &format!("http://{addr}/items"),
            "--origin",
            "http://app.localhost:3000",
            "-X",
            "PUT",
            "-H",
            "X-API-Key: k",
            "--json",
        ])
        .output()
        .unwrap();
    let _ = gateway.kill();
    let _ = gateway.wait();
    assert_eq!(out.status.code(), Some(1), "blocked: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn debug_mode_lets_check_name_the_missing_header_and_the_reason() {
    let quiet = check_against(&config(false));
    // A bare 403: the browser reports no `Access-Control-Allow-Origin` on the preflight.
    assert_eq!(
        quiet["error"]["kind"], "PreflightMissingAllowOriginHeader",
        "{quiet}"
    );
    assert!(quiet["steps"][0]["server_reason"].is_null(), "{quiet}");

    let debug = check_against(&config(true));
    assert_eq!(
        debug["error"]["kind"], "HeaderDisallowedByPreflightResponse",
        "{debug}"
    );
    assert_eq!(debug["error"]["parameter"], "x-api-key", "{debug}");
    let reason = debug["steps"][0]["server_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.starts_with("header_not_allowed; "), "{debug}");
}
