//! The `corsica` binary: version, help, lint exit codes, serve's embedded default and
//! reload on SIGHUP, graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use corsica_testkit::{free_port, raw, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_corsica");

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
fn lint_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        &dir,
        "good.toml",
        "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\"]\n",
    );
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
        "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://*.com\"]\n",
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
