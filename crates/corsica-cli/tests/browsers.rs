//! `corsica check --browser all` end to end: the real `corsica serve` (its embedded
//! default, which lists no `Save-Data` request header) and a page that sends
//! `Save-Data: on`. Chromium safelists the header and sends no preflight; Firefox and
//! WebKit preflight it, and the gateway refuses the preflight. The README's example is this
//! test's output (`CORSICA_BLESS=1 cargo test -p corsica-cli --test browsers` rewrites it);
//! the conformance suite proves both verdicts against the real browsers
//! (`browsers client-hint save-data=on preflight-*`).

use std::path::Path;
use std::process::Command;

use corsica_testkit::{free_port, spawn_until_first_line};

const BIN: &str = env!("CARGO_BIN_EXE_corsica");
/// The port the README shows (the test's own port is replaced by it).
const SHOWN_PORT: u16 = 8080;

fn check(port: u16, json: bool) -> (Option<i32>, String) {
    let mut args = vec![
        "check".to_owned(),
        format!("http://localhost:{port}/api/items"),
        "--origin".into(),
        "http://localhost:5173".into(),
        "-H".into(),
        "Save-Data: on".into(),
        "--browser".into(),
        "all".into(),
    ];
    if json {
        args.push("--json".into());
    }
    let out = Command::new(BIN).args(&args).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    (
        out.status.code(),
        text.replace(
            &format!("localhost:{port}"),
            &format!("localhost:{SHOWN_PORT}"),
        ),
    )
}

#[test]
fn save_data_is_allowed_in_chromium_and_blocked_in_firefox_and_webkit() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (mut gateway, banner) = spawn_until_first_line(BIN, &["serve", "--listen", &listen]);
    assert!(banner.contains(&listen), "{banner}");
    let (code, json) = check(port, true);
    let (text_code, text) = check(port, false);
    let _ = gateway.kill();
    let _ = gateway.wait();

    assert_eq!(code, Some(1), "blocked in one browser: exit 1\n{json}");
    assert_eq!(text_code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["browser"], "all");
    assert_eq!(v["agree"], false);
    assert_eq!(v["results"][0]["browser"], "chromium");
    assert_eq!(v["results"][0]["allowed"], true);
    assert_eq!(v["results"][0]["preflight"], false);
    assert_eq!(v["results"][1]["browser"], "firefox");
    assert_eq!(v["results"][1]["allowed"], false);
    assert_eq!(v["results"][1]["preflight"], true);
    assert_eq!(v["results"][1]["error"]["kind"], "CORSMissingAllowOrigin");
    assert_eq!(v["results"][2]["browser"], "webkit");
    assert_eq!(v["results"][2]["allowed"], false);
    assert_eq!(v["results"][2]["preflight"], true);
    assert_eq!(v["results"][2]["error"]["kind"], "PreflightNotSuccessful");
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .starts_with("allowed in Chromium, blocked in Firefox and WebKit: CORSMissingAllowOrigin in Firefox, PreflightNotSuccessful in WebKit. `save-data` is CORS-safelisted in Chromium but not in Firefox and WebKit, which ask about it in a preflight"),
        "{v}"
    );
    assert!(
        v["fixes"]["nginx"].as_str().unwrap().contains("save-data"),
        "{v}"
    );
    assert!(
        text.contains("DIFFER allowed in Chromium, blocked in Firefox and WebKit"),
        "{text}"
    );

    // The README shows this output.
    let block = format!(
        "```text\n$ corsica check http://localhost:{SHOWN_PORT}/api/items --origin http://localhost:5173 -H 'Save-Data: on' --browser all\n{text}```\n"
    );
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (open, close) = ("<!-- check:browsers -->\n", "<!-- /check -->");
    let start = readme
        .find(open)
        .expect("README.md has a <!-- check:browsers --> block")
        + open.len();
    let end = start + readme[start..].find(close).expect("the block is closed");
    if std::env::var_os("CORSICA_BLESS").is_some() {
        let mut new = readme.clone();
        new.replace_range(start..end, &block);
        std::fs::write(&readme_path, new).unwrap();
    } else {
        assert_eq!(
            readme[start..end],
            block,
            "README.md's `check --browser all` example differs from the real output; CORSICA_BLESS=1 cargo test -p corsica-cli --test browsers rewrites it"
        );
    }
}
