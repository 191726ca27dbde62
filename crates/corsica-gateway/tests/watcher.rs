//! The file watcher applies a configuration only once the file has stopped changing: a file
//! written in two steps (an editor, a `>` redirect, a configuration-management tool) whose
//! first part is valid on its own is never served half.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use corsica_testkit::client::HttpClient;
use corsica_testkit::eventually;
use corsica_testkit::gateway::{self, APP, ConfigDir, head, route, sample};
use corsica_testkit::headers::ACAO;
use http::StatusCode;

const B: &str = "https://b.example.com";

/// Routes `/a`, `/b`... (one per name, to `echo`) allowing `origins`.
fn config(routes: &[&str], origins: &[&str]) -> String {
    let origins = origins
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = head("");
    for r in routes {
        text += &route(
            r,
            &format!("path = \"/{r}\""),
            "echo",
            &format!("origins = [{origins}]"),
        );
    }
    text
}

// Finding 4: a configuration written in two steps, whose first step is valid TOML with
// fewer routes, is applied only whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_in_two_steps_is_applied_only_whole() {
    let dir = ConfigDir::new();
    let gw = Arc::new(dir.start(&config(&["a", "b"], &[APP])).await);
    // The watcher looks every 20 ms; the writer below pauses 150 ms between its two steps,
    // which a watcher without debounce sees (and applies) many times over.
    let watcher = gw
        .watch_file(Duration::from_millis(20))
        .expect("a file to watch");
    let (part, whole) = (config(&["a"], &[APP, B]), config(&["a", "b"], &[APP, B]));
    let rest = whole
        .strip_prefix(&part)
        .expect("the first step is a prefix")
        .to_owned();
    corsica_testkit::gateway::parse(&part, "part.toml"); // valid on its own

    // A client asks for `/b` without pause from before the write until the end.
    let probing = Arc::new(AtomicBool::new(true));
    let probe = {
        let (probing, addr) = (probing.clone(), gw.addr);
        tokio::spawn(async move {
            let client = HttpClient::h1();
            let mut statuses = Vec::new();
            while probing.load(Ordering::Relaxed) {
                let r = client.call("GET", addr, "/b/x", &[("origin", APP)]).await;
                statuses.push(r.status);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Truncate and write the first part, pause, then append the rest, as `>` and `>>` do.
    let path = dir.config_path();
    tokio::task::spawn_blocking(move || {
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(part.as_bytes()).unwrap();
        f.sync_data().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        f.write_all(rest.as_bytes()).unwrap();
        f.sync_data().unwrap();
    })
    .await
    .unwrap();

    // The whole file is applied: `/b` now allows b.example.com.
    let client = HttpClient::h1();
    let applied = eventually(250, Duration::from_millis(20), || {
        let (client, addr) = (client.clone(), gw.addr);
        async move {
            let r = client.call("GET", addr, "/b/x", &[("origin", B)]).await;
            r.status == StatusCode::OK && r.one(ACAO) == Some(B)
        }
    })
    .await;
    assert!(
        applied,
        "the final configuration was not applied within 5 s"
    );
    probing.store(false, Ordering::Relaxed);
    let statuses = probe.await.unwrap();
    assert!(statuses.len() >= 10, "the probe hardly ran: {statuses:?}");
    let not_found = statuses
        .iter()
        .filter(|s| **s == StatusCode::NOT_FOUND)
        .count();
    assert_eq!(
        not_found,
        0,
        "the truncated configuration was served ({not_found} of {} requests to /b got 404)",
        statuses.len()
    );
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    // Exactly one reload: the whole file, never the part.
    assert_eq!(
        sample(
            &gw.metrics(),
            r#"corsica_config_reloads_total{result="ok"}"#
        ),
        Some(1.0),
        "{}",
        gw.metrics()
    );

    gateway::shutdown_watched(gw, watcher).await;
}

// The soak's finding: a file reloaded by SIGHUP was applied (or refused, and logged) a
// second time by the watcher when it noticed the same change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_reloaded_by_sighup_is_not_reloaded_again_by_the_watcher() {
    let dir = ConfigDir::new();
    let gw = Arc::new(dir.start(&config(&["a"], &[APP])).await);
    let watcher = gw
        .watch_file(Duration::from_millis(20))
        .expect("a file to watch");
    let reloads = |result: &str| {
        sample(
            &gw.metrics(),
            &format!("corsica_config_reloads_total{{result=\"{result}\"}}"),
        )
        .unwrap_or(0.0)
    };
    // An invalid file, then a valid one, each reloaded at once as SIGHUP would.
    dir.write_config("[[route]]\nupstream = \"ftp://x\"\n");
    assert!(gw.reload().is_err());
    tokio::time::sleep(gateway_settle() * 3).await;
    dir.write_config(&config(&["a", "b"], &[APP]));
    assert!(gw.reload().is_ok());
    tokio::time::sleep(gateway_settle() * 3).await;
    assert_eq!(
        reloads("error"),
        1.0,
        "the invalid file refused (and logged) once"
    );
    assert_eq!(reloads("ok"), 1.0, "the valid file applied once");
    watcher.abort();
}

fn gateway_settle() -> Duration {
    corsica_gateway::gateway::WATCH_SETTLE
}

// A file over the size limit (a wrong file, or one still growing) is refused once, without
// being read whole, and the running configuration stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_file_is_refused_once_and_the_configuration_stays() {
    let dir = ConfigDir::new();
    let gw = Arc::new(dir.start(&config(&["a"], &[APP])).await);
    let watcher = gw
        .watch_file(Duration::from_millis(20))
        .expect("a file to watch");
    let huge = format!(
        "{}# {}\n",
        config(&["a", "b"], &[APP]),
        "x".repeat(corsica_gateway::config::MAX_CONFIG_BYTES)
    );
    dir.write_config(&huge);
    let refused = eventually(100, Duration::from_millis(20), || async {
        sample(
            &gw.metrics(),
            r#"corsica_config_reloads_total{result="error"}"#,
        ) == Some(1.0)
    })
    .await;
    assert!(refused, "the oversized file is refused");
    tokio::time::sleep(gateway_settle() * 2).await;
    let m = gw.metrics();
    assert_eq!(
        sample(&m, r#"corsica_config_reloads_total{result="error"}"#),
        Some(1.0),
        "once"
    );
    assert_eq!(
        sample(&m, r#"corsica_config_reloads_total{result="ok"}"#),
        Some(0.0)
    );
    assert!(gw.reload().is_err(), "SIGHUP refuses it too");
    watcher.abort();
}
