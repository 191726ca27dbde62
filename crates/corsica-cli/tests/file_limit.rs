//! `corsica serve` under a low open-file limit (`ulimit -n`, as many systems set 1024): a
//! flood of idle connections to the admin port cannot take the descriptors the client
//! listener needs, and a limit too low for any client connection is refused at start with
//! what to raise.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use corsica_testkit::{free_port, raw, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_corsica");

/// Runs `corsica serve` on `config` under `ulimit -n nofile`, with its stderr in
/// `stderr`; the child, once it printed its banner (or ended).
fn serve_limited(nofile: u32, config: &std::path::Path, stderr: &std::path::Path) -> Child {
    let script = format!("ulimit -n {nofile} && exec \"$0\" serve --config \"$1\"");
    let mut child = Command::new("sh")
        .args(["-c", &script, BIN, config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    child
}

/// Finding 0 of issue 14: 600 idle sockets to the admin port, under a 256 file limit,
/// starved the client listener (`accept failed … Too many open files`).
#[test]
fn admin_flood_under_a_low_file_limit_leaves_the_clients_served() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, admin) = (free_port(), free_port());
    let config = dir.path().join("gw.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{listen}\"\nadmin = \"127.0.0.1:{admin}\"\n\
             [limits]\nheader_read_timeout_ms = 60000\n\
             [[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\"]\n"
        ),
    )
    .unwrap();
    let stderr = dir.path().join("stderr");
    let mut child = serve_limited(256, &config, &stderr);
    let addr = format!("127.0.0.1:{listen}");
    let get = || raw::blocking_text(addr.as_str(), &raw::get("/x", "https://a.example"));
    assert!(
        get().starts_with("http/1.1 200"),
        "the gateway does not serve"
    );

    // More idle sockets to the admin port than the process may open files. Each connect
    // is bounded: a gateway that stopped accepting leaves them waiting on a full backlog.
    let admin_addr = std::net::SocketAddr::from(([127, 0, 0, 1], admin));
    let flood: Vec<TcpStream> = (0..600)
        .map_while(|_| TcpStream::connect_timeout(&admin_addr, Duration::from_secs(3)).ok())
        .collect();
    let served = wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        get().contains("access-control-allow-origin: https://a.example")
    });
    let _ = child.kill();
    let _ = child.wait();
    let flood_len = flood.len();
    drop(flood);
    let log = std::fs::read_to_string(&stderr).unwrap();
    assert!(
        served,
        "the client listener stopped answering during the admin flood ({} admin connections):\n{log}",
        flood_len
    );
    assert_eq!(flood_len, 600, "admin connections were left waiting");
    // The start said which limit is too low for the configured caps, and what to do.
    assert!(log.contains("open-file limit (256)"), "{log}");
    assert!(log.contains("ulimit -n"), "{log}");
}

#[test]
fn a_file_limit_with_no_room_for_clients_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gw.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{}\"\nadmin = \"127.0.0.1:{}\"\n\
             [[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\"]\n",
            free_port(),
            free_port()
        ),
    )
    .unwrap();
    let stderr = dir.path().join("stderr");
    let mut child = serve_limited(100, &config, &stderr);
    let status = child.wait().unwrap();
    let log = std::fs::read_to_string(&stderr).unwrap();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("open-file limit (100) leaves no room for client connections"),
        "{log}"
    );
    assert!(log.contains("max_admin_connections"), "{log}");
}
