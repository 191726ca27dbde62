//! The console on the admin listener (issue 17), over real sockets: its pages and their
//! security headers, the guard against DNS rebinding, the token (Bearer or the login
//! cookie), the playground's endpoint (JSON only, no file read from a pasted
//! configuration), the events stream, and the bounded denial ring.

use corsica_testkit::gateway::{self, APP_CORS, EVIL, head, route};
use corsica_testkit::raw;

/// A gateway with one route for `https://app.example.com` (echo upstream) and the admin listener; `top`
/// lines go before the route (e.g. `admin_token`).
async fn console(top: &str) -> gateway::Running {
    gateway::start(
        &(format!("{top}\n") + &head("") + &route("app", "path = \"/\"", "echo", APP_CORS)),
    )
    .await
}

/// A request to the admin listener, with `host: 127.0.0.1` and `headers`, and `body`.
fn admin_request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut r = format!("{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    r
}

fn admin_of(gw: &gateway::Running) -> std::net::SocketAddr {
    gw.admin_addr.expect("the admin listener")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_served_with_a_strict_policy_and_only_to_loopback_names() {
    let gw = console("").await;
    let admin = admin_of(&gw);
    for path in ["/_corsica/", "/_corsica/playground", "/_corsica/login"] {
        let text = raw::text(admin, &admin_request("GET", path, &[], "")).await;
        assert!(text.starts_with("http/1.1 200"), "{path}: {text}");
        assert!(
            text.contains("content-security-policy: default-src 'none'; script-src 'self'"),
            "{path}: {text}"
        );
        assert!(text.contains("x-content-type-options: nosniff"), "{path}");
    }
    // Assets are compiled in.
    let css = raw::text(
        admin,
        &admin_request("GET", "/_corsica/assets/dashboard.js", &[], ""),
    )
    .await;
    assert!(css.contains("content-type: text/javascript"), "{css}");
    // A page elsewhere that rebinds its name to 127.0.0.1 is refused (no token set).
    let rebound = raw::text(
        admin,
        "GET /_corsica/status HTTP/1.1\r\nhost: attacker.example:9090\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(rebound.starts_with("http/1.1 421"), "{rebound}");
    // /shadow too (its samples hold origins and paths); /metrics (bounded labels, no
    // request data) and /healthz stay open to any local name.
    let rebound = raw::text(
        admin,
        "GET /shadow HTTP/1.1\r\nhost: attacker.example\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(rebound.starts_with("http/1.1 421"), "/shadow: {rebound}");
    for path in ["/healthz", "/metrics"] {
        let open = raw::text(
            admin,
            &format!("GET {path} HTTP/1.1\r\nhost: lb.internal\r\nconnection: close\r\n\r\n"),
        )
        .await;
        assert!(open.starts_with("http/1.1 200"), "{path}: {open}");
    }
    for host in ["localhost:9090", "[::1]:9090", "127.0.0.1"] {
        let ok = raw::text(
            admin,
            &format!("GET /_corsica/status HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"),
        )
        .await;
        assert!(ok.starts_with("http/1.1 200"), "{host}: {ok}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_every_page_but_the_login_needs_it() {
    let token = "0123456789abcdef0123";
    let gw = console(&format!("admin_token = \"{token}\"")).await;
    let admin = admin_of(&gw);
    // A page: to the login form; data: 401.
    let page = raw::text(admin, &admin_request("GET", "/_corsica/", &[], "")).await;
    assert!(page.starts_with("http/1.1 303"), "{page}");
    assert!(page.contains("location: /_corsica/login"), "{page}");
    let status = raw::text(admin, &admin_request("GET", "/_corsica/status", &[], "")).await;
    assert!(status.starts_with("http/1.1 401"), "{status}");
    // With a name that is not loopback (the token guards it instead of the name).
    let bearer = format!("Bearer {token}");
    let ok = raw::text(
        admin,
        &format!(
            "GET /_corsica/status HTTP/1.1\r\nhost: gw.internal:9090\r\nauthorization: {bearer}\r\nconnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(ok.starts_with("http/1.1 200"), "{ok}");
    // The login form: a wrong token is refused, the right one sets the cookie.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let wrong = raw::text(
        admin,
        &admin_request("POST", "/_corsica/login", &form, "token=guess"),
    )
    .await;
    assert!(wrong.starts_with("http/1.1 401"), "{wrong}");
    let right = raw::text(
        admin,
        &admin_request("POST", "/_corsica/login", &form, &format!("token={token}")),
    )
    .await;
    assert!(right.starts_with("http/1.1 303"), "{right}");
    // The cookie holds a value derived from the token (sent to every port of the host),
    // never the token.
    let session = right
        .split("set-cookie: corsica_admin=")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .expect("a session cookie")
        .to_owned();
    assert_eq!(session.len(), 64, "{right}");
    assert!(!right.contains(token), "{right}");
    assert!(
        right.contains("; path=/_corsica/; max-age=43200; httponly; samesite=strict"),
        "{right}"
    );
    let token_as_cookie = raw::text(
        admin,
        &admin_request(
            "GET",
            "/_corsica/status",
            &[("cookie", &format!("corsica_admin={token}"))],
            "",
        ),
    )
    .await;
    assert!(
        token_as_cookie.starts_with("http/1.1 401"),
        "{token_as_cookie}"
    );
    assert!(
        token_as_cookie.contains("www-authenticate: bearer"),
        "{token_as_cookie}"
    );
    let cookie = format!("corsica_admin={session}");
    let with_cookie = raw::text(
        admin,
        &admin_request("GET", "/_corsica/", &[("cookie", &cookie)], ""),
    )
    .await;
    assert!(with_cookie.starts_with("http/1.1 200"), "{with_cookie}");
    let bad_cookie = raw::text(
        admin,
        &admin_request(
            "GET",
            "/_corsica/status",
            &[("cookie", "corsica_admin=x")],
            "",
        ),
    )
    .await;
    assert!(bad_cookie.starts_with("http/1.1 401"), "{bad_cookie}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_answers_json_cases_and_reads_no_file() {
    let gw = console("").await;
    let admin = admin_of(&gw);
    let json = [("content-type", "application/json")];
    let case = r#"{"origin":"https://app.example.com","url":"https://api.example.com/x","headers":"X-API-Key: k","preflight":"Access-Control-Allow-Origin: https://app.example.com","response":"Access-Control-Allow-Origin: https://app.example.com"}"#;
    let text = raw::text(
        admin,
        &admin_request("POST", "/_corsica/playground", &json, case),
    )
    .await;
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("\"verdict\":\"blocked\""), "{text}");
    assert!(text.contains("access-control-allow-headers"), "{text}");
    // Not JSON: a cross-site form cannot post a case.
    let form = raw::text(
        admin,
        &admin_request(
            "POST",
            "/_corsica/playground",
            &[("content-type", "text/plain")],
            case,
        ),
    )
    .await;
    assert!(form.starts_with("http/1.1 415"), "{form}");
    // Answered by this gateway's configuration: its route allows APP without headers.
    let gateway_case = r#"{"origin":"https://app.example.com","url":"http://api.example.com/x","answers":"gateway"}"#;
    let text = raw::text(
        admin,
        &admin_request("POST", "/_corsica/playground", &json, gateway_case),
    )
    .await;
    assert!(text.contains("\"verdict\":\"allowed\""), "{text}");
    // A pasted configuration with [tls] names files: refused, nothing read.
    let tls = r#"{"origin":"https://app.example.com","answers":"config","config":"[tls]\ncert = \"/etc/shadow\"\nkey = \"/etc/shadow\"\n[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n"}"#;
    let text = raw::text(
        admin,
        &admin_request("POST", "/_corsica/playground", &json, tls),
    )
    .await;
    assert!(text.starts_with("http/1.1 400"), "{text}");
    assert!(text.contains("\"field\":\"config\""), "{text}");
    assert!(
        !text.contains("permission") && !text.contains("pem"),
        "{text}"
    );
    // An oversized case is refused before it is read whole.
    let big = format!("{{\"headers\":\"{}\"}}", "a".repeat(80 * 1024));
    let text = raw::text(
        admin,
        &admin_request("POST", "/_corsica/playground", &json, &big),
    )
    .await;
    assert!(text.starts_with("http/1.1 413"), "{text}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_are_kept_bounded_and_streamed() {
    let gw = console("").await;
    let admin = admin_of(&gw);
    for i in 0..120 {
        let long_path = format!("/x{i}/{}", "p".repeat(500));
        raw::text(gw.addr, &raw::get(&long_path, EVIL)).await;
    }
    let status = raw::text(admin, &admin_request("GET", "/_corsica/status", &[], "")).await;
    let body = status.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(body).expect("json");
    let denials = v["denials"].as_array().expect("denials");
    assert_eq!(denials.len(), 50, "the ring keeps the latest 50");
    assert!(denials[0]["path"].as_str().unwrap().starts_with("/x119/"));
    assert!(denials[0]["path"].as_str().unwrap().len() <= 200 + 3);
    assert_eq!(denials[0]["origin"], EVIL);
    assert_eq!(v["routes"][0]["outcomes"]["actual_denied"], 120);
    // The events stream starts with a snapshot at once.
    let mut s = tokio::net::TcpStream::connect(admin).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /_corsica/events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !String::from_utf8_lossy(&got).contains("\n\n") && tokio::time::Instant::now() < deadline
    {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    assert!(text.contains("data: {\"active\":"), "{text}");
    drop(s);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_comes_frees_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = console("").await;
    let admin = admin_of(&gw);
    let mut s = tokio::net::TcpStream::connect(admin).await.unwrap();
    s.write_all(b"POST /_corsica/playground HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 60000\r\n\r\n{\"origin\"")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(15), s.read_to_end(&mut out))
        .await
        .expect("answered and closed within 15 s")
        .unwrap();
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 408"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_never_reaches_an_upstream_and_long_methods_are_cut() {
    let gw = console("").await;
    // The echo upstream answers with the request it saw.
    let text = raw::text(
        gw.addr,
        &raw::request(
            "GET",
            "/_corsica/x",
            &[("host", "a"), ("cookie", "a=1; corsica_admin=secret; b=2")],
        ),
    )
    .await;
    assert!(text.contains("a=1; b=2"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    // A method of 5,000 bytes is kept cut.
    let long = "B".repeat(5000);
    raw::text(
        gw.addr,
        &raw::request(&long, "/x", &[("host", "a"), ("origin", EVIL)]),
    )
    .await;
    let admin = admin_of(&gw);
    let status = raw::text(admin, &admin_request("GET", "/_corsica/status", &[], "")).await;
    let body = status.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(body).expect("json");
    let d = &v["denials"][0];
    assert!(d["method"].as_str().unwrap().len() <= 203, "{d}");
    assert!(d["message"].as_str().unwrap().len() <= 403, "{d}");
    gw.shutdown().await;
}
