//! A hyper client for tests: HTTP/1.1, h2c (prior knowledge) and, with feature `tls`,
//! HTTPS trusting one test CA. Whole responses are read within [`STEP`].

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::STEP;
use crate::headers::{ACRH, ACRM, vary_tokens};
use crate::server::{Body, empty};

/// A request to `http://{addr}{path}` with `headers` in order.
///
/// ```
/// let addr = "127.0.0.1:8080".parse().unwrap();
/// let req = corsica_testkit::client::request("GET", addr, "/x", &[("origin", "https://a.example")], corsica_testkit::server::empty());
/// assert_eq!(req.uri(), "http://127.0.0.1:8080/x");
/// ```
pub fn request(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Request<Body> {
    to_url(method, &format!("http://{addr}{path}"), headers, body)
}

/// A request to `url` with `headers` in order.
///
/// ```
/// let req = corsica_testkit::client::to_url("PUT", "https://localhost/x", &[], corsica_testkit::server::full("b"));
/// assert_eq!(req.method(), "PUT");
/// ```
pub fn to_url(method: &str, url: &str, headers: &[(&str, &str)], body: Body) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(url);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(body).unwrap()
}

#[derive(Clone)]
enum Inner {
    Plain(Client<HttpConnector, Body>),
    #[cfg(feature = "tls")]
    Tls(Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>),
}

/// A test client; cheap to clone (clones share connections).
///
/// ```no_run
/// # async fn f(addr: std::net::SocketAddr) {
/// use corsica_testkit::client::HttpClient;
/// let client = HttpClient::h1();
/// let r = client.call("GET", addr, "/x", &[("origin", "https://a.example")]).await;
/// assert_eq!(r.status, 200);
/// let p = client.preflight(addr, "/x", "https://a.example", "PUT", None).await;
/// assert_eq!(p.status, 204);
/// # }
/// ```
#[derive(Clone)]
pub struct HttpClient(Inner);

impl HttpClient {
    /// An HTTP/1.1 client.
    pub fn h1() -> HttpClient {
        HttpClient(Inner::Plain(
            Client::builder(TokioExecutor::new()).build_http(),
        ))
    }

    /// An HTTP/2 prior-knowledge (h2c) client.
    pub fn h2() -> HttpClient {
        HttpClient(Inner::Plain(
            Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build_http(),
        ))
    }

    /// An HTTP/1.1 client for `https://` (trusting only the CA `ca_pem`) and `http://`.
    #[cfg(feature = "tls")]
    pub fn https(ca_pem: &str) -> HttpClient {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client_config(ca_pem))
            .https_or_http()
            .enable_http1()
            .build();
        HttpClient(Inner::Tls(
            Client::builder(TokioExecutor::new()).build(https),
        ))
    }

    /// Sends a request; the response head (the body still streaming).
    pub async fn request(
        &self,
        req: Request<Body>,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        match &self.0 {
            Inner::Plain(c) => c.request(req).await,
            #[cfg(feature = "tls")]
            Inner::Tls(c) => c.request(req).await,
        }
    }

    /// Sends a request and reads the whole response; panics on an error or after [`STEP`].
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let what = format!("{} {}", req.method(), req.uri());
        self.try_send(req)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// Sends a request and returns the error or the whole response (bounded by [`STEP`]).
    pub async fn try_send(&self, req: Request<Body>) -> Result<Resp, String> {
        let r = tokio::time::timeout(STEP, async {
            let r = self.request(req).await.map_err(|e| format!("{e:?}"))?;
            let (parts, body) = r.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            Ok(Resp {
                status: parts.status,
                version: parts.version,
                headers: parts.headers,
                body,
            })
        })
        .await;
        r.unwrap_or_else(|_| Err(format!("no answer within {STEP:?}")))
    }

    /// A bodiless request to `http://{addr}{path}`, read whole.
    pub async fn call(
        &self,
        method: &str,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.send(request(method, addr, path, headers, empty()))
            .await
    }

    /// A `GET` of `url`, read whole, or the error (bounded by [`STEP`]).
    pub async fn try_get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Resp, String> {
        self.try_send(to_url("GET", url, headers, empty())).await
    }

    /// A `GET` of `url`, read whole.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Resp {
        self.send(to_url("GET", url, headers, empty())).await
    }

    /// A preflight to `http://{addr}{path}`: `OPTIONS` with `origin`,
    /// `Access-Control-Request-Method: method` and, if given,
    /// `Access-Control-Request-Headers`.
    pub async fn preflight(
        &self,
        addr: SocketAddr,
        path: &str,
        origin: &str,
        method: &str,
        request_headers: Option<&str>,
    ) -> Resp {
        self.send(preflight(addr, path, origin, method, request_headers))
            .await
    }
}

/// The request [`HttpClient::preflight`] sends.
///
/// ```
/// let addr = "127.0.0.1:80".parse().unwrap();
/// let req = corsica_testkit::client::preflight(addr, "/", "https://a.example", "PUT", Some("x-a"));
/// assert_eq!(req.headers()["access-control-request-headers"], "x-a");
/// ```
pub fn preflight(
    addr: SocketAddr,
    path: &str,
    origin: &str,
    method: &str,
    request_headers: Option<&str>,
) -> Request<Body> {
    let mut headers = vec![("origin", origin), (ACRM, method)];
    if let Some(h) = request_headers {
        headers.push((ACRH, h));
    }
    request("OPTIONS", addr, path, &headers, empty())
}

/// A whole response.
#[derive(Debug)]
pub struct Resp {
    /// The status.
    pub status: StatusCode,
    /// The HTTP version it came in.
    pub version: Version,
    /// Every header.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Resp {
    /// The only value of a header (panics if there are several).
    ///
    /// ```
    /// let mut r = corsica_testkit::client::Resp::new(200);
    /// r.headers.insert("x-a", "1".parse().unwrap());
    /// assert_eq!((r.one("x-a"), r.one("x-b")), (Some("1"), None));
    /// ```
    pub fn one(&self, name: &str) -> Option<&str> {
        let all: Vec<&HeaderValue> = self.headers.get_all(name).iter().collect();
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.first().map(|v| v.to_str().unwrap())
    }

    /// How many lines of a header came.
    ///
    /// ```
    /// assert_eq!(corsica_testkit::client::Resp::new(200).count("vary"), 0);
    /// ```
    pub fn count(&self, name: &str) -> usize {
        self.headers.get_all(name).iter().count()
    }

    /// The body as text (lossy).
    ///
    /// ```
    /// assert_eq!(corsica_testkit::client::Resp::new(200).text(), "");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `Vary` tokens, lower-case, over every `Vary` line.
    ///
    /// ```
    /// let mut r = corsica_testkit::client::Resp::new(200);
    /// r.headers.append("vary", "Origin".parse().unwrap());
    /// r.headers.append("vary", "Accept-Encoding".parse().unwrap());
    /// assert_eq!(r.vary(), ["origin", "accept-encoding"]);
    /// ```
    pub fn vary(&self) -> Vec<String> {
        vary_tokens(
            self.headers
                .get_all("vary")
                .iter()
                .map(|v| v.to_str().unwrap()),
        )
    }

    /// Whether the `Vary` tokens include `token` (lower-case).
    ///
    /// ```
    /// let mut r = corsica_testkit::client::Resp::new(200);
    /// r.headers.append("vary", "Origin".parse().unwrap());
    /// assert!(r.varies_on("origin"));
    /// ```
    pub fn varies_on(&self, token: &str) -> bool {
        self.vary().iter().any(|t| t == token)
    }

    /// An empty HTTP/1.1 response with `status` (for building expectations).
    pub fn new(status: u16) -> Resp {
        Resp {
            status: StatusCode::from_u16(status).unwrap(),
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }
}
