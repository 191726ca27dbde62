//! The `corsica` binary: version, help, lint exit codes and every problem in text, JSON and
//! SARIF, `--format json` = `--json`, a closed stdout, serve's embedded default and
//! reload on SIGHUP, graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use corsica_testkit::{free_port, raw, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_corsica");

/// A valid configuration.
const GOOD: &str =
    "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\"]\n";

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("corsica "), "{out}");
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("serve") && out.contains("lint"), "{out}");
}

/// Writes `text` to the file `name` of `dir`; its path.
fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn lint_target_reports_what_the_export_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "gw.toml",
        "[[route]]\nname = \"api\"\npath = \"/api/\"\nupstream = \"http://127.0.0.1:9001\"\n[route.cors]\norigins = [\"https://a.example\"]\n\n[[route]]\nname = \"dev\"\nupstream = \"echo\"\npath = \"/dev/\"\n[route.cors]\norigins = [\"http://localhost:*\"]\n",
    );
    let (code, out, _) = run(&["lint", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = run(&["lint", "--target", "nginx", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "{}:9:1: route `dev`: upstream = \"echo\"",
            file.display()
        )),
        "{err}"
    );
    let (code, out, _) = run(&[
        "lint",
        "--target",
        "nginx",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("\"valid\":false") && out.contains("nginx cannot express it"),
        "{out}"
    );
    // The export refuses the same, and exports the rest once it is fixed.
    let (code, _, err) = run(&["export", "nginx", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("route `dev`"), "{err}");
    let fixed = write(
        &dir,
        "fixed.toml",
        &std::fs::read_to_string(&file)
            .unwrap()
            .replace("\"echo\"", "\"http://127.0.0.1:9002\""),
    );
    let (code, out, err) = run(&["export", "nginx", "--config", fixed.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# route `dev`") && out.contains("proxy_pass http://127.0.0.1:9002;"),
        "{out}"
    );
    // HAProxy refuses the same (no HAProxy-only refusal), and exports the fixed file.
    let (code, _, err) = run(&["lint", "--target", "haproxy", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("route `dev`: upstream = \"echo\"")
            && err.contains("haproxy cannot express it"),
        "{err}"
    );
    let (code, out, err) = run(&["export", "haproxy", "--config", fixed.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# route `dev`") && out.contains("server upstream 127.0.0.1:9002"),
        "{out}"
    );
}

#[test]
fn lint_accepts_a_shadow_policy_checks_it_and_the_export_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[[route]]\nname = \"orders\"\nupstream = \"http://127.0.0.1:9001\"\n[route.cors]\norigins = [\"https://a.example\"]\nmethods = [\"GET\", \"PUT\"]\n[route.cors_shadow]\norigins = [\"https://a.example\"]\nmethods = [\"GET\"]\n";
    let file = write(&dir, "shadow.toml", text);
    let (code, out, err) = run(&["lint", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    // The candidate meets the engine's checks, reported at its entry with its table.
    let bad = write(
        &dir,
        "bad.toml",
        &text.replace(
            "[route.cors_shadow]\norigins = [\"https://a.example\"]\n",
            "[route.cors_shadow]\norigins = [\"*\"]\ncredentials = true\n",
        ),
    );
    let (code, _, err) = run(&["lint", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "{}:9:15: [route.cors_shadow] route \"orders\": credentials cannot be allowed",
            bad.display()
        )),
        "{err}"
    );
    // The export cannot carry a candidate: refused, with the route named.
    let (code, _, err) = run(&["export", "nginx", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("route `orders`: cors_shadow (a report-only candidate policy): nginx cannot express it faithfully; keep the route on `corsica serve`, or promote/remove the candidate before exporting"),
        "{err}"
    );
}

#[test]
fn lint_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir, "good.toml", GOOD);
    let (code, out, _) = run(&["lint", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok (1 route(s)"), "{out}");

    let bad = write(
        &dir,
        "bad.toml",
        "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\ncredentials = true\n",
    );
    let (code, _, err) = run(&["lint", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!("{}:5:15: ", bad.display())),
        "{err}"
    );
    assert!(
        err.contains("credentials cannot be allowed with origin \"*\""),
        "{err}"
    );

    let (code, _, err) = run(&["lint", dir.path().join("missing.toml").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn print_default_config() {
    let (code, out, _) = run(&["serve", "--print-default-config"]);
    assert_eq!(code, 0);
    assert!(out.contains("upstream = \"echo\""), "{out}");
}

fn get(addr: &str, origin: &str) -> String {
    raw::blocking_text(addr, &raw::get("/x", origin))
}

/// Sends `signal` (`HUP`, `TERM`) to the process `pid`.
fn kill(signal: &str, pid: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}: {sent}");
}

#[cfg(unix)]
#[test]
fn serve_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    let config = |origin: &str| {
        format!("[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"{origin}\"]\n")
    };
    std::fs::write(&path, config("https://a.example")).unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            &addr,
            "--log-format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains(&addr), "{line}");

    assert!(
        get(&addr, "https://a.example").contains("access-control-allow-origin: https://a.example")
    );
    // Rewrite with a different origin and send SIGHUP (the file watcher may also pick it up).
    std::fs::write(&path, config("https://b.example")).unwrap();
    let pid = child.id().to_string();
    kill("HUP", &pid);
    let reloaded = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        get(&addr, "https://b.example").contains("access-control-allow-origin: https://b.example")
    });
    assert!(reloaded, "the reload did not take effect");
    // An invalid file keeps the running configuration.
    std::fs::write(
        &path,
        "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://*.com\"]\ncredentials = true\n",
    )
    .unwrap();
    kill("HUP", &pid);
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        get(&addr, "https://b.example").contains("access-control-allow-origin: https://b.example")
    );

    kill("TERM", &pid);
    let mut status = None;
    let stopped = wait_until(Duration::from_secs(15), Duration::from_millis(50), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert!(stopped, "SIGTERM did not stop the gateway");
    let status = status.unwrap();
    assert!(status.success(), "{status}");
}

/// Four mistakes in three routes: `*` with credentials; `null` listed; an origin with a
/// path; a method that is not a token.
const FOUR_MISTAKES: &str = r#"[[route]]
name = "wild"
upstream = "echo"
[route.cors]
origins = ["*"]
credentials = true

[[route]]
name = "null"
path = "/n"
upstream = "echo"
[route.cors]
origins = ["null", "https://app.example.com/path"]

[[route]]
name = "methods"
path = "/m"
upstream = "echo"
[route.cors]
origins = ["https://app.example.com"]
methods = ["GET", "BAD METHOD"]
"#;

/// (line, column, words of the message) of each mistake, in file order.
const MISTAKES: [(u64, u64, &str); 4] = [
    (6, 15, "credentials cannot be allowed with origin \"*\""),
    (13, 12, "\"null\" is listed"),
    (13, 20, "has a path"),
    (21, 19, "is not a valid method name"),
];

#[test]
fn lint_reports_every_problem_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, FOUR_MISTAKES).unwrap();
    let file = path.to_str().unwrap();

    // Text: one `file:line:column: message` a line, on stderr.
    let (code, out, err) = run(&["lint", file]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    for (line, (l, c, words)) in lines.iter().zip(MISTAKES) {
        assert!(line.starts_with(&format!("{file}:{l}:{c}: ")), "{line}");
        assert!(line.contains(words), "{line}");
    }

    // JSON: the same four, with their locations, on stdout; `--json` is the same.
    let (code, out, err) = run(&["lint", file, "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(run(&["lint", file, "--json"]), (code, out.clone(), err));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["file"], file);
    let errors = json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4, "{out}");
    for (e, (l, c, words)) in errors.iter().zip(MISTAKES) {
        assert_eq!(
            (e["file"].as_str(), e["line"].as_u64(), e["column"].as_u64()),
            (Some(file), Some(l), Some(c))
        );
        assert!(e["message"].as_str().unwrap().contains(words), "{e}");
    }

    // SARIF 2.1.0: four results, each at its file, line and column.
    let (code, out, err) = run(&["lint", file, "--format", "sarif"]);
    assert_eq!(code, 1, "{err}");
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run0 = &sarif["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "corsica");
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{out}");
    for (r, (l, c, words)) in results.iter().zip(MISTAKES) {
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()), "{r}");
        assert_eq!(r["level"], "error");
        assert!(
            r["message"]["text"].as_str().unwrap().contains(words),
            "{r}"
        );
        let location = &r["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], file);
        assert_eq!(
            (
                location["region"]["startLine"].as_u64(),
                location["region"]["startColumn"].as_u64()
            ),
            (Some(l), Some(c))
        );
    }
    // And it reads back with a SARIF object model.
    let parsed: serde_sarif::sarif::Sarif = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed.runs[0].results.as_ref().map(Vec::len), Some(4));

    // A valid file: the usual line, or an object without errors.
    std::fs::write(&path, GOOD).unwrap();
    let (code, out, _) = run(&["lint", file, "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (json["valid"].as_bool(), json["routes"].as_u64()),
        (Some(true), Some(1))
    );
    let (code, out, _) = run(&["lint", file, "--format", "sarif"]);
    assert_eq!(code, 0);
    assert!(out.contains(r#""results":[]"#), "{out}");
}

/// A server that answers every request with the same bytes (no `Date`), so that two checks
/// print the same JSON.
fn fixed_server(response: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = s.write_all(response.as_bytes());
        }
    });
    addr
}

#[test]
fn check_format_json_is_what_json_prints() {
    let allowed = fixed_server(
        "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: https://app.example.com\r\nVary: Origin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let blocked = fixed_server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    for (addr, want) in [(allowed, 0), (blocked, 1), ("127.0.0.1:1".to_owned(), 2)] {
        let url = format!("http://{addr}/x");
        let args = ["check", url.as_str(), "--origin", "https://app.example.com"];
        let alias = run(&[&args[..], &["--json"]].concat());
        let format = run(&[&args[..], &["--format", "json"]].concat());
        assert_eq!(alias.0, want, "{alias:?}");
        assert_eq!(format, alias);
        let json: serde_json::Value = serde_json::from_str(&format.1).unwrap();
        assert_eq!(json["allowed"], want == 0);
        assert!(json["steps"].as_array().is_some_and(|s| !s.is_empty()));
    }
}

/// Runs the binary with a stdout whose reader is gone before it writes: `sh` waits, so that
/// the read end is closed first, then becomes `corsica`.
#[cfg(unix)]
fn run_with_closed_stdout(args: &[&str]) -> (i32, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("sleep 0.3; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_quietly_with_the_usual_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, FOUR_MISTAKES).unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, GOOD).unwrap();
    let (bad, good) = (bad.to_str().unwrap(), good.to_str().unwrap());
    for (args, want) in [
        (&["serve", "--print-default-config"][..], 0),
        (&["--help"][..], 0),
        (&["lint", good][..], 0),
        (&["lint", good, "--format", "json"][..], 0),
        (&["lint", bad, "--format", "sarif"][..], 1),
        (&["explain", "--har", "/nonexistent.har"][..], 2),
    ] {
        let (code, err) = run_with_closed_stdout(args);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(code, 101, "{args:?}: {err}");
        assert_eq!(code, want, "{args:?}: {err}");
    }
}

#[test]
fn serve_format_json_prints_where_it_listens() {
    let (mut child, line) = corsica_testkit::spawn_until_first_line(
        BIN,
        &["serve", "--listen", "127.0.0.1:0", "--format", "json"],
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let banner: serde_json::Value = serde_json::from_str(&line).unwrap();
    let listen = banner["listen"].as_str().unwrap();
    assert!(
        listen.starts_with("http://127.0.0.1:") && !listen.ends_with(":0"),
        "{line}"
    );
    assert_eq!(banner["routes"][0]["upstream"], "echo", "{line}");
}
