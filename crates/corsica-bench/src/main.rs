//! The gateway benchmark's helpers (`cargo xtask bench` starts them; `publish = false`).
//!
//! - `corsica-bench upstream --port P`: the shared upstream every proxy forwards to: `200`
//!   with a small body for every request, HTTP/1.1 keep-alive.
//! - `corsica-bench bare --port P --exact ORIGIN --suffix .DOMAIN --methods M --headers H
//!   --expose E --max-age S`: a bare hyper 1.x server that answers CORS itself with the
//!   headers the gateway sends for the same policy (one exact origin, one subdomain pattern,
//!   credentials): the limit of the stack `corsica serve` is built on. Allowed preflights get
//!   `204`, denied ones `403`; other requests get `200` with a small body.
//! - `corsica-bench idle --port P --connections N --origin ORIGIN`: opens `N` connections,
//!   sends one keep-alive `GET /` on each and reads its response, prints `ready N`, then
//!   holds them open until its standard input closes (or it is killed).
//!
//! - `corsica-bench faults --port P [--slow-ms MS]`: an upstream that fails on purpose (hangs,
//!   resets, short bodies, garbage, connections closed in the proxy's pool, slow answers),
//!   for `cargo xtask soak`; see [`faults`].
//!
//! The servers run a single-threaded tokio runtime (the harness pins them to one core) and
//! print `listening on ADDR` once they accept connections.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod faults;

/// The upstream's body (and the bare server's for non-preflight requests).
const BODY: &[u8] = b"{\"ok\":true,\"from\":\"upstream\"}\n";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("upstream") => Opts::parse(&args[1..]).and_then(|o| serve(o.port()?, None)),
        Some("bare") => Opts::parse(&args[1..]).and_then(|o| {
            let policy = Policy::from_opts(&o)?;
            serve(o.port()?, Some(Arc::new(policy)))
        }),
        Some("idle") => Opts::parse(&args[1..]).and_then(|o| idle(&o)),
        Some("faults") => Opts::parse(&args[1..]).and_then(|o| {
            let slow = if o.0.iter().any(|(k, _)| k == "slow-ms") {
                o.number("slow-ms")?
            } else {
                1000
            };
            faults::serve(o.port()?, std::time::Duration::from_millis(slow))
        }),
        _ => Err("usage: corsica-bench <upstream | bare | idle | faults> --port P [options] (see the crate's documentation)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corsica-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--key value` pairs.
struct Opts(Vec<(String, String)>);

impl Opts {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(key) = it.next() {
            let name = key
                .strip_prefix("--")
                .ok_or_else(|| format!("expected an option `--name value`, got `{key}`"))?;
            let value = it
                .next()
                .ok_or_else(|| format!("option `{key}` needs a value"))?;
            pairs.push((name.to_owned(), value.clone()));
        }
        Ok(Self(pairs))
    }

    fn get(&self, name: &str) -> Result<&str, String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| format!("missing option `--{name}`"))
    }

    fn port(&self) -> Result<u16, String> {
        self.number("port")
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, String> {
        let v = self.get(name)?;
        v.parse()
            .map_err(|_| format!("option `--{name}`: `{v}` is not a number"))
    }
}

/// The CORS answers of the bare server, built once.
struct Policy {
    exact: String,
    suffix: String,
    methods: HeaderValue,
    headers: HeaderValue,
    expose: HeaderValue,
    max_age: HeaderValue,
}

impl Policy {
    fn from_opts(o: &Opts) -> Result<Self, String> {
        let value = |name: &str| {
            HeaderValue::from_str(o.get(name)?)
                .map_err(|_| format!("option `--{name}` is not a valid header value"))
        };
        Ok(Self {
            exact: o.get("exact")?.to_owned(),
            suffix: o.get("suffix")?.to_owned(),
            methods: value("methods")?,
            headers: value("headers")?,
            expose: value("expose")?,
            max_age: value("max-age")?,
        })
    }

    /// Whether `origin` is the exact origin or `https://` + one or more labels + the suffix.
    fn allows(&self, origin: &[u8]) -> bool {
        if origin == self.exact.as_bytes() {
            return true;
        }
        let Some(host) = origin.strip_prefix(b"https://") else {
            return false;
        };
        let Some(labels) = host.strip_suffix(self.suffix.as_bytes()) else {
            return false;
        };
        !labels.is_empty()
            && labels
                .split(|&b| b == b'.')
                .all(|l| !l.is_empty() && l.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-'))
    }
}

const PREFLIGHT_VARY: HeaderValue = HeaderValue::from_static(
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
);

fn answer(req: &Request<Incoming>, policy: Option<&Policy>) -> Response<Full<Bytes>> {
    let Some(policy) = policy else {
        return body_response();
    };
    let origin = req.headers().get(header::ORIGIN);
    let allowed = origin.filter(|o| policy.allows(o.as_bytes()));
    let preflight = req.method() == Method::OPTIONS
        && origin.is_some()
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut res = Response::new(Full::new(Bytes::new()));
        let h = res.headers_mut();
        h.insert(header::VARY, PREFLIGHT_VARY);
        match allowed {
            Some(origin) => {
                *res.status_mut() = StatusCode::NO_CONTENT;
                let h = res.headers_mut();
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
                h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, policy.methods.clone());
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, policy.headers.clone());
                h.insert(header::ACCESS_CONTROL_MAX_AGE, policy.max_age.clone());
            }
            None => *res.status_mut() = StatusCode::FORBIDDEN,
        }
        return res;
    }
    let mut res = body_response();
    let h = res.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, policy.expose.clone());
    }
    res
}

fn body_response() -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(BODY)));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut().insert(
        HeaderName::from_static("x-request-id"),
        HeaderValue::from_static("bench-1"),
    );
    res
}

/// Serves HTTP/1.1 on 127.0.0.1:`port` until killed: the upstream (`policy` none) or the
/// bare CORS server.
fn serve(port: u16, policy: Option<Arc<Policy>>) -> Result<(), String> {
    let rt = current_thread()?;
    rt.block_on(async move {
        let listener = listen(port).await?;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors or similar: keep serving the open connections.
                tokio::task::yield_now().await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let policy = policy.clone();
            tokio::task::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let res = answer(&req, policy.as_deref());
                    async move { Ok::<_, Infallible>(res) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// Listens on 127.0.0.1:`port` and says so on stdout (`listening on ADDR`).
async fn listen(port: u16) -> Result<TcpListener, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("listening on {addr}");
    Ok(listener)
}

fn current_thread() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))
}

/// Opens the connections, one request on each, then holds them until stdin closes.
fn idle(o: &Opts) -> Result<(), String> {
    let port: u16 = o.port()?;
    let count: usize = o.number("connections")?;
    let origin = o.get("origin")?.to_owned();
    let request = format!(
        "GET /idle HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}\r\nConnection: keep-alive\r\n\r\n"
    );
    let rt = current_thread()?;
    let streams = rt.block_on(async move {
        let request: Arc<[u8]> = Arc::from(request.into_bytes());
        let mut streams = Vec::with_capacity(count);
        // A few hundred handshakes at a time: fast, without overflowing the listen backlog.
        let mut opened = 0;
        while opened < count {
            let batch = (count - opened).min(200);
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..batch {
                let request = request.clone();
                tasks.spawn(async move { one_idle(port, &request).await });
            }
            while let Some(r) = tasks.join_next().await {
                streams.push(r.map_err(|e| format!("connection task failed: {e}"))??);
            }
            opened += batch;
        }
        Ok::<_, String>(streams)
    })?;
    println!("ready {}", streams.len());
    // Hold every connection until the harness closes our stdin (or kills us).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(streams);
    Ok(())
}

/// One connection: the request written, the whole response read (by `Content-Length` or
/// chunked), the socket returned open.
async fn one_idle(port: u16, request: &[u8]) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot connect to 127.0.0.1:{port}: {e}"))?;
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("cannot read the response: {e}"))?;
        if n == 0 {
            return Err("the server closed an idle connection before answering".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if response_complete(&buf)? {
            return Ok(stream);
        }
    }
}

/// Whether `buf` holds a whole HTTP/1.1 response (head plus body).
fn response_complete(buf: &[u8]) -> Result<bool, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(false);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let body = &buf[end + 4..];
    if !head.starts_with("http/1.1 2") {
        let status = head.lines().next().unwrap_or_default().to_owned();
        return Err(format!("the idle request got `{status}`, not 2xx"));
    }
    for line in head.lines().skip(1) {
        if let Some(v) = line.strip_prefix("content-length:") {
            let len: usize = v
                .trim()
                .parse()
                .map_err(|_| format!("bad content-length `{v}`"))?;
            return Ok(body.len() >= len);
        }
        if line.starts_with("transfer-encoding:") && line.contains("chunked") {
            return Ok(body.ends_with(b"0\r\n\r\n"));
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            exact: "https://app.example.com".into(),
            suffix: ".example.net".into(),
            methods: HeaderValue::from_static("GET"),
            headers: HeaderValue::from_static("content-type"),
            expose: HeaderValue::from_static("x-request-id"),
            max_age: HeaderValue::from_static("60"),
        }
    }

    #[test]
    fn the_bare_server_allows_the_exact_origin_and_subdomains_only() {
        let p = policy();
        assert!(p.allows(b"https://app.example.com"));
        assert!(p.allows(b"https://shop.example.net"));
        assert!(p.allows(b"https://a.b.example.net"));
        assert!(!p.allows(b"https://example.net"));
        assert!(!p.allows(b"https://.example.net"));
        assert!(!p.allows(b"http://shop.example.net"));
        assert!(!p.allows(b"https://evil.com"));
        assert!(!p.allows(b"https://shop.example.net.evil.com"));
        assert!(!p.allows(b"https://app.example.com.evil.com"));
    }

    #[test]
    fn a_response_is_complete_once_its_body_arrived() {
        assert!(!response_complete(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n").unwrap());
        assert!(!response_complete(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\na").unwrap());
        assert!(response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab").unwrap());
        assert!(
            response_complete(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n")
                .unwrap()
        );
        assert!(response_complete(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").is_err());
    }
}
