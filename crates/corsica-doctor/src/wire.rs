//! The doctor's HTTP/1.1 client: sends on the wire every byte a browser sends and reads
//! the response head as browsers read it.
//!
//! Written here rather than taken from a crate (reqwest, hyper): they validate header
//! values on the way out and in, and browsers do not. A page's `fetch()` sends a header
//! value with control bytes such as `\x01` (the Fetch standard forbids only NUL, CR and
//! LF) and bytes above 0x7F (a `ByteString`: one byte per character, Latin-1); a server
//! may answer with a `\x01` in a header, which browsers read; and a NUL in a response
//! header is not a response to browsers (Chromium: `net::ERR_INVALID_HTTP_RESPONSE`).
//! A check that cannot send or read those would judge another exchange than the
//! browser's. One request per connection (`Connection: close`), no body, the response
//! head only (the doctor never reads a body), over TCP or rustls.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
use rustls::pki_types::ServerName;

/// The most a response head may take (as browsers cap it: Chromium allows 256 KiB).
const MAX_HEAD: usize = 256 * 1024;

/// The bytes a browser puts on the wire for a header value (a `ByteString`: one byte per
/// character up to U+00FF); `None` when a character does not fit in a byte (`fetch()`
/// throws a `TypeError` before sending such a value).
pub(crate) fn byte_string(value: &str) -> Option<Vec<u8>> {
    value
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// Where and how to connect.
pub(crate) struct Wire {
    /// `host` → address overrides (`--resolve`).
    pub(crate) resolve: Vec<(String, IpAddr)>,
    pub(crate) timeout: Duration,
    /// TLS for `https:` URLs.
    pub(crate) tls: Arc<rustls::ClientConfig>,
}

impl Wire {
    /// Sends `request` (with `extra` headers after its own) and reads the response head.
    pub(crate) fn send(
        &self,
        request: &HttpRequest,
        extra: &[(String, String)],
    ) -> Result<HttpResponse, NetworkError> {
        let url = url::Url::parse(&request.url)
            .map_err(|e| NetworkError(format!("{}: {e}", request.url)))?;
        let host = url
            .host_str()
            .ok_or_else(|| NetworkError(format!("{}: no host", request.url)))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| NetworkError(format!("{}: no port", request.url)))?;
        if request.method.is_empty()
            || !request
                .method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(NetworkError(format!("invalid method `{}`", request.method)));
        }
        let mut head = Vec::new();
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        head.extend_from_slice(
            format!(
                "{} {target} HTTP/1.1\r\nHost: {authority}\r\n",
                request.method
            )
            .as_bytes(),
        );
        for (name, value) in request.headers.iter().chain(extra) {
            let bytes = byte_string(value).ok_or_else(|| {
                NetworkError(format!(
                    "the value of `{name}` has a character above U+00FF, which fetch() refuses to send"
                ))
            })?;
            if bytes.iter().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
                return Err(NetworkError(format!(
                    "the value of `{name}` holds NUL, CR or LF, which fetch() refuses to send"
                )));
            }
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(&bytes);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"Connection: close\r\n\r\n");
        // One deadline for the whole exchange: a server that drips its head a byte at a
        // time cannot hold a check longer than the timeout.
        let deadline = Instant::now() + self.timeout;
        let stream = self.connect(&request.url, host, port)?;
        let io = |e: std::io::Error| {
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                NetworkError(format!(
                    "{} timed out after {:.0?}",
                    request.url, self.timeout
                ))
            } else {
                NetworkError(format!("{}: {e}", request.url))
            }
        };
        let raw = if url.scheme() == "https" {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| NetworkError(format!("{}: {e}", request.url)))?;
            let conn = rustls::ClientConnection::new(self.tls.clone(), name)
                .map_err(|e| NetworkError(format!("{}: {e}", request.url)))?;
            let mut tls = rustls::StreamOwned::new(conn, stream);
            tls.write_all(&head).map_err(io)?;
            read_head(&mut tls, |t| &t.sock, deadline).map_err(io)?
        } else {
            let mut stream = stream;
            stream.write_all(&head).map_err(io)?;
            read_head(&mut stream, |s| s, deadline).map_err(io)?
        };
        parse_head(&raw).map_err(|why| {
            NetworkError(format!(
                "net::ERR_INVALID_HTTP_RESPONSE ({}: {why})",
                request.url
            ))
        })
    }

    fn connect(&self, url: &str, host: &str, port: u16) -> Result<TcpStream, NetworkError> {
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let addrs: Vec<SocketAddr> =
            if let Some((_, ip)) = self.resolve.iter().find(|(h, _)| *h == bare) {
                vec![SocketAddr::new(*ip, port)]
            } else if bare == "localhost" || bare.ends_with(".localhost") {
                vec![
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                    SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
                ]
            } else {
                (bare.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| NetworkError(format!("cannot connect to {url}: {e}")))?
                    .collect()
            };
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => {
                    let _ = s.set_read_timeout(Some(self.timeout));
                    let _ = s.set_write_timeout(Some(self.timeout));
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(NetworkError(format!(
            "cannot connect to {url}: {}",
            last.map_or_else(|| "no address".to_owned(), |e| e.to_string())
        )))
    }
}

/// Reads up to the end of the response head (`\r\n\r\n`), or what arrived before the
/// connection closed; at most [`MAX_HEAD`] bytes, by `deadline` (each read waits at most
/// until then on `socket(stream)`; past it, `TimedOut`).
fn read_head<S: Read>(
    stream: &mut S,
    socket: impl Fn(&S) -> &TcpStream,
    deadline: Instant,
) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        socket(stream).set_read_timeout(Some(left))?;
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n")
            || buf.windows(2).any(|w| w == b"\n\n")
            || buf.len() >= MAX_HEAD
        {
            return Ok(buf);
        }
    }
}

/// The status and header lines of a response head, read as browsers read them (Chromium's
/// `HttpResponseHeaders`): lines end in LF or CRLF; a line without a colon, or whose name
/// is empty or holds whitespace, is skipped; a line starting with a space or tab continues
/// the previous value; values are trimmed of spaces and tabs and may hold any other byte
/// but NUL. A NUL anywhere, or no `HTTP/x.y NNN` status line, is no response.
fn parse_head(raw: &[u8]) -> Result<HttpResponse, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 1))
        .ok_or("the response head is incomplete")?;
    let head = &raw[..end];
    if head.contains(&0) {
        return Err("a NUL byte in the response head".into());
    }
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix(b"HTTP/")
        .and_then(|rest| rest.splitn(3, |&b| b == b' ').nth(1))
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..1000).contains(code))
        .ok_or_else(|| {
            format!(
                "`{}` is not an HTTP status line",
                String::from_utf8_lossy(status_line)
            )
        })?;
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some((_, value)) = headers.last_mut() {
                value.push(b' ');
                value.extend_from_slice(trim(line));
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            continue;
        }
        headers.push((
            String::from_utf8_lossy(name).into_owned(),
            trim(&line[colon + 1..]).to_vec(),
        ));
    }
    let mut out = HttpResponse::new(status);
    for (name, value) in headers {
        out = out.header(name, String::from_utf8_lossy(&value).into_owned());
    }
    Ok(out)
}

/// `bytes` without leading and trailing spaces and tabs.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// A certificate verifier that accepts any certificate (`check -k`): the signatures are
/// still checked, the chain and name are not.
#[derive(Debug)]
pub(crate) struct AcceptAny(pub(crate) Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS configuration of the wire path: the platform's roots plus `extra` (`--cacert`),
/// or no verification with `insecure`.
pub(crate) fn tls_config(
    insecure: bool,
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
            .map_err(|e| e.to_string())?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_go_out_as_byte_strings() {
        assert_eq!(byte_string("caf\u{e9}"), Some(b"caf\xe9".to_vec()));
        assert_eq!(byte_string("\u{1}"), Some(vec![1]));
        assert_eq!(byte_string("\u{2026}"), None);
    }

    #[test]
    fn reads_a_response_head_as_browsers_do() {
        let ok = parse_head(
            b"HTTP/1.1 200 OK\r\nA: \x01b\r\nB:  c \r\n cont\r\nno colon\r\nbad name: x\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(ok.status, 200);
        assert_eq!(ok.get("a").as_deref(), Some("\u{1}b"));
        assert_eq!(ok.get("b").as_deref(), Some("c cont"));
        assert_eq!(ok.headers.len(), 2);
        let lf = parse_head(b"HTTP/1.0 404 Not Found\nX: y\n\n").unwrap();
        assert_eq!((lf.status, lf.get("x").as_deref()), (404, Some("y")));
    }

    #[test]
    fn a_head_dripped_slowly_ends_at_the_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
                // One byte of a header every 100 ms: each read succeeds, the head never ends.
                for _ in 0..100 {
                    std::thread::sleep(Duration::from_millis(100));
                    if s.write_all(b"x").is_err() {
                        return;
                    }
                }
            }
        });
        let wire = Wire {
            resolve: Vec::new(),
            timeout: Duration::from_millis(600),
            tls: Arc::new(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
            ),
        };
        let request = HttpRequest {
            method: "GET".into(),
            url: format!("http://{addr}/"),
            headers: Vec::new(),
            preflight: false,
            credentials: false,
        };
        let started = Instant::now();
        let err = wire.send(&request, &[]).unwrap_err();
        assert!(err.0.contains("timed out after"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_nul_in_a_response_header_is_no_response() {
        let err = parse_head(b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: a\0b\r\n\r\n");
        assert_eq!(err.unwrap_err(), "a NUL byte in the response head");
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
