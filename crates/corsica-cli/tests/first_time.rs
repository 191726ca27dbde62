//! "First time right" from the command line: `serve`'s quick-start flags, `lint` warnings
//! (text, JSON, SARIF), port and address errors, the no-route log line.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use corsica_testkit::{free_port, raw};

const BIN: &str = env!("CARGO_BIN_EXE_corsica");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Starts `corsica serve ARGS --format json` on a free port; the child and its address,
/// once the banner says it listens.
fn serve(args: &[&str]) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0", "--format", "json"]);
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout).lines().next().unwrap().unwrap();
    let Ok(banner) = serde_json::from_str::<serde_json::Value>(&line) else {
        panic!("no banner: {line:?}, stderr: {}", stop(child))
    };
    let addr = banner["listen"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    (child, addr)
}

/// Stops the child; what it logged.
fn stop(mut child: Child) -> String {
    child.kill().unwrap();
    child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

#[test]
fn quick_start_serves_one_route_from_flags() {
    let (child, addr) = serve(&[
        "--upstream",
        "echo",
        "--allow-origin",
        "http://localhost:5173",
        "--allow-credentials",
        "--allow-header",
        "x-api-key",
        "--allow-method",
        "GET",
        "--allow-method",
        "PUT",
    ]);
    let pre = raw::blocking_text(
        &addr,
        &raw::request(
            "OPTIONS",
            "/items",
            &[
                ("host", "localhost"),
                ("origin", "http://localhost:5173"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "x-api-key"),
            ],
        ),
    );
    assert!(pre.starts_with("http/1.1 204"), "{pre}");
    assert!(
        pre.contains("access-control-allow-credentials: true"),
        "{pre}"
    );
    let get = raw::blocking_text(&addr, &raw::get("/items", "http://localhost:5173"));
    assert!(get.starts_with("http/1.1 200"), "{get}");
    assert!(
        get.contains("access-control-allow-origin: http://localhost:5173"),
        "{get}"
    );
    let other = raw::blocking_text(&addr, &raw::get("/items", "http://localhost:3000"));
    assert!(!other.contains("access-control-allow-origin"), "{other}");
    stop(child);
}

#[test]
fn quick_start_flags_meet_the_same_checks_as_a_file() {
    let (code, out, err) = run(&[
        "serve",
        "--upstream",
        "http://127.0.0.1:70000",
        "--allow-origin",
        "*",
        "--allow-credentials",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with(
            "corsica serve: upstream = \"http://127.0.0.1:70000\": port 70000 is over 65535"
        ),
        "{err}"
    );
    assert!(
        lines[1].contains("credentials cannot be allowed with origin \"*\""),
        "{err}"
    );
    // The policy flags need an upstream, and an upstream needs an origin.
    let (code, _, err) = run(&["serve", "--allow-origin", "http://localhost:5173"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["serve", "--upstream", "echo"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-origin"), "{err}");
}

/// Asserts that `text` has one line per `want`, each `file` then that text and more.
#[track_caller]
fn assert_lines(text: &str, file: &str, want: &[&str]) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), want.len(), "{text}");
    for (line, want) in lines.iter().zip(want) {
        assert!(line.starts_with(&format!("{file}{want}")), "{text}");
    }
}

/// Four routes: "api" is always taken by "all", and GET of "docs" by "reads".
fn shadowed() -> String {
    [
        ("all", "host = \"a.example\""),
        ("api", "host = \"a.example\"\npath = \"/api/\""),
        ("reads", "path = \"/docs\"\nmethods = [\"GET\"]"),
        ("docs", "path = \"/docs/\"\nmethods = [\"GET\", \"POST\"]"),
    ]
    .map(|(name, matching)| {
        format!("[[route]]\nname = \"{name}\"\n{matching}\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n\n")
    })
    .concat()
}

#[test]
fn lint_warns_about_routes_that_never_match() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "gw.toml", &shadowed());
    let (code, out, err) = run(&["lint", &file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("ok (4 route(s)") && out.contains("2 warning(s)"),
        "{out}"
    );
    assert_lines(
        &err,
        &file,
        &[
            ":8:1: warning: route \"api\" never matches: route \"all\" (line 1)",
            ":27:12: warning: route \"docs\": method GET never matches: route \"reads\" (line 16)",
        ],
    );

    let (code, out, _) = run(&["lint", &file, "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["warnings"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(json["warnings"][1]["line"], 27);

    let (code, out, _) = run(&["lint", &file, "--format", "sarif"]);
    assert_eq!(code, 0);
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r["level"] == "warning" && r["ruleId"] == "unreachable-route")
    );
}

#[test]
fn ports_over_65535_are_errors_at_their_value() {
    let dir = tempfile::tempdir().unwrap();
    let text = "listen = \"127.0.0.1:70000\"\n[[route]]\nupstream = \"http://127.0.0.1:70000\"\n[route.cors]\norigins = [\"https://a.example\"]\n";
    let file = write(&dir, "ports.toml", text);
    let (code, _, err) = run(&["lint", &file]);
    assert_eq!(code, 1, "{err}");
    assert_lines(
        &err,
        &file,
        &[
            ":1:10: listen = \"127.0.0.1:70000\": port 70000 is over 65535",
            ":3:12: upstream = \"http://127.0.0.1:70000\": port 70000 is over 65535",
        ],
    );
}

#[test]
fn an_address_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run(&[
        "serve",
        "--listen",
        &addr,
        "--admin",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "cannot listen on {addr} (listen): address already in use"
        )),
        "{err}"
    );
}

#[test]
fn a_request_without_a_route_is_logged_at_info() {
    let dir = tempfile::tempdir().unwrap();
    let api_only = "[[route]]\npath = \"/api\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\"]\n";
    let file = write(&dir, "gw.toml", api_only);
    let (child, addr) = serve(&["--config", &file, "--log-format", "json"]);
    let r = raw::blocking_text(
        &addr,
        &raw::request("DELETE", "/nope", &[("host", "shop.example")]),
    );
    assert!(r.starts_with("http/1.1 404"), "{r}");
    assert!(r.contains("corsica-route: none"), "{r}");
    let log = stop(child);
    let line = log
        .lines()
        .find(|l| l.contains("no route matches"))
        .unwrap_or_else(|| panic!("{log}"));
    let entry: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(entry["level"], "INFO", "{line}");
    assert_eq!(entry["host"], "shop.example", "{line}");
    assert_eq!(entry["path"], "/nope", "{line}");
    assert_eq!(entry["method"], "DELETE", "{line}");
}
