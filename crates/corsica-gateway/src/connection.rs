//! One client connection, from its slot to its close.
//!
//! - **Nothing is allocated for a silent socket.** The connection waits for its first
//!   byte with the socket's readiness alone; hyper's buffers (8 KiB to read, 8 KiB to
//!   write) come with the first byte.
//! - **Idle HTTP/1.1 keep-alive connections are parked.** Once a plain-TCP HTTP/1.1
//!   connection has been quiet for [`PARK_AFTER`] (no request in flight, every response
//!   byte written, nothing read or written meanwhile), hyper is asked to close it
//!   gracefully *without* shutting the socket down: it finishes at once, being idle, and
//!   gives back the socket and any bytes it had read ahead. The socket then waits for the
//!   next request's first byte with no HTTP state at all, and a fresh hyper connection
//!   takes it from there (with the bytes read ahead put back in front). An idle
//!   connection costs its socket, its task (about 2 KB) and its slot, not hyper's
//!   buffers. The client sees nothing: no `Connection: close`, no byte lost or reordered.
//!   A connection that is quiet but not idle (the upstream answered before reading the
//!   whole request body, which is still arriving) is not parked: hyper finishes the
//!   message without keep-alive and the connection closes, so a body's bytes can never be
//!   read as a request.
//! - h2 (prior knowledge, `PRI * HTTP/2.0` first) and TLS connections are served by
//!   hyper-util's auto connection as a whole, without parking (h2 multiplexes, and TLS
//!   keeps its own buffers).
//! - **Idle timeout.** A parked connection is closed once it has been quiet for
//!   `header_read_timeout` (as hyper closes an unparked one that waits that long for its
//!   next request head); a resumed one gets the whole header timeout for the head whose
//!   first byte woke it.
//! - **Drain.** On shutdown every connection is asked to close gracefully: requests in
//!   flight finish, idle and parked connections close at once.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use crate::config::Limits;
use crate::metrics::Counted;
use crate::proxy::{self, Body, Shared};
use crate::slots::Slot;

/// How long an HTTP/1.1 connection stays quiet before it is parked.
pub(crate) const PARK_AFTER: Duration = Duration::from_secs(1);

/// Streams an HTTP/2 client may open at once on one connection.
const MAX_H2_STREAMS: u32 = 100;

/// The first bytes of the h2 connection preface.
const H2_PREFACE_START: &[u8] = b"PRI ";

/// What a connection's task needs.
pub(crate) struct Client {
    pub(crate) stream: TcpStream,
    pub(crate) remote: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    pub(crate) limits: Limits,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    pub(crate) slot: Slot,
    /// Set when the gateway starts draining.
    pub(crate) drain: watch::Receiver<bool>,
}

/// Serves one client connection until it closes (or is closed: no request within the
/// header timeout, evicted for a newcomer, drained).
pub(crate) async fn serve(client: Client) {
    let Client {
        stream,
        remote,
        shared,
        limits,
        tls,
        slot,
        mut drain,
    } = client;
    let is_tls = tls.is_some();
    let parked = shared.metrics.parked.clone();
    // A connection must bring its first request within the header timeout, whatever the
    // protocol (first byte, TLS handshake, HTTP/1 or h2 detection, h2 preface): an idle
    // socket must not hold a slot forever. Until then it may also be closed to make room
    // for a newcomer.
    let first_request = Arc::new(Notify::new());
    let activity = Arc::new(Activity::default());
    let service = {
        let first_request = first_request.clone();
        let requests = slot.requests();
        let activity = activity.clone();
        service_fn(move |req: Request<Incoming>| {
            if requests.arrived() {
                first_request.notify_one();
            }
            let shared = shared.clone();
            let in_flight = activity.begin();
            // Boxed: parking needs `poll_without_shutdown`, which wants an `Unpin` future.
            Box::pin(async move {
                let response = proxy::handle(shared, req, remote, is_tls).await;
                Ok::<_, std::convert::Infallible>(response.map(|body| Tracked {
                    body,
                    _in_flight: in_flight,
                }))
            }) as ServiceFuture
        })
    };
    let serve = async move {
        // Nothing is allocated for the connection before its first byte (its first bytes
        // are peeked at, for the protocol); a drain closes it at once.
        if *drain.borrow() {
            return Ok(());
        }
        let mut start = [0u8; H2_PREFACE_START.len()];
        let n = tokio::select! {
            n = stream.peek(&mut start) => n?,
            _ = drain.changed() => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        match tls {
            None => {
                if H2_PREFACE_START.starts_with(&start[..n]) {
                    // Boxed, as the TLS path: the task of an idle HTTP/1.1 connection is
                    // not sized for h2's state.
                    Box::pin(serve_auto(stream, &limits, service, drain)).await
                } else {
                    serve_http1(stream, &limits, service, drain, activity, parked).await
                }
            }
            // Boxed: the task of an idle HTTP/1.1 connection is not sized for TLS's state.
            Some(config) => {
                Box::pin(serve_tls(stream, config, &limits, service, drain, remote)).await
            }
        }
    };
    let first_deadline = limits.header_read_timeout * if is_tls { 2 } else { 1 };
    let watchdog = async move {
        if tokio::time::timeout(first_deadline, first_request.notified())
            .await
            .is_err()
        {
            return;
        }
        std::future::pending::<()>().await
    };
    let result: Result<(), BoxError> = tokio::select! {
        r = serve => r,
        () = watchdog => {
            tracing::debug!(target: "corsica::gateway", client = %remote.ip(), "no request within the header timeout; closing");
            Ok(())
        }
        () = slot.evicted() => {
            tracing::debug!(target: "corsica::gateway", client = %remote.ip(), "every slot taken: closing this connection, which has sent no request, for a newcomer");
            Ok(())
        }
    };
    if let Err(e) = result {
        tracing::debug!(target: "corsica::gateway", client = %remote.ip(), error = %e, "connection ended with an error");
    }
}

use proxy::BoxError;
type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<Tracked>, std::convert::Infallible>> + Send>>;

/// The per-connection request service, as both serving paths need it.
trait ClientService:
    hyper::service::Service<
        Request<Incoming>,
        Response = Response<Tracked>,
        Error = std::convert::Infallible,
        Future = ServiceFuture,
    > + Clone
    + Send
    + 'static
{
}

impl<S> ClientService for S where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<Tracked>,
            Error = std::convert::Infallible,
            Future = ServiceFuture,
        > + Clone
        + Send
        + 'static
{
}

/// Serves a TLS connection: the handshake (given the same time as a request head), then
/// HTTP/1.1 or h2.
async fn serve_tls<S: ClientService>(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    limits: &Limits,
    service: S,
    drain: watch::Receiver<bool>,
    remote: SocketAddr,
) -> Result<(), BoxError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls_stream)) => serve_auto(tls_stream, limits, service, drain).await,
        Ok(Err(e)) => {
            tracing::debug!(target: "corsica::gateway", client = %remote.ip(), error = %e, "TLS handshake failed");
            Ok(())
        }
        Err(_) => {
            tracing::debug!(target: "corsica::gateway", client = %remote.ip(), "TLS handshake timed out");
            Ok(())
        }
    }
}

/// Serves h2 or TLS (HTTP/1.1 or h2 by detection) without parking.
async fn serve_auto<I, S>(
    io: I,
    limits: &Limits,
    service: S,
    mut drain: watch::Receiver<bool>,
) -> Result<(), BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: ClientService,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.parser_head_bytes())
        .max_headers(limits.parser_headers());
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.parser_head_bytes()).unwrap_or(u32::MAX))
        .max_concurrent_streams(MAX_H2_STREAMS)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut draining = *drain.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => return r,
            _ = drain.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The HTTP/1.1 server settings of a client connection: request heads bounded by
/// `limits` (431 beyond), `header_read_timeout` to send one. Also the fuzzing harness's (see
/// `fuzzing.rs`), so the fuzzer parses requests exactly as clients' are parsed.
pub(crate) fn http1_builder(limits: &Limits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.parser_head_bytes())
        .max_headers(limits.parser_headers());
    builder
}

/// Serves plain HTTP/1.1, parking the connection whenever it has been quiet for
/// [`PARK_AFTER`].
async fn serve_http1<S>(
    stream: TcpStream,
    limits: &Limits,
    service: S,
    mut drain: watch::Receiver<bool>,
    activity: Arc<Activity>,
    parked: prometheus::IntGauge,
) -> Result<(), BoxError>
where
    S: ClientService + Unpin,
{
    let mut io = Watched {
        stream,
        ahead: Bytes::new(),
        activity: activity.clone(),
    };
    // Every request head gets the whole header timeout from when hyper waits for it (a
    // parked connection's wait counts from its last activity: the idle deadline below).
    loop {
        // Boxed: hyper's connection (and what serving it takes) is allocated while the
        // connection is active and freed while it is parked, so that a parked connection's
        // task holds only the socket.
        let served = Box::pin(serve_until_quiet(
            io,
            limits,
            service.clone(),
            &mut drain,
            &activity,
        ))
        .await?;
        let Some(quiet) = served else {
            // The client closed (or asked to), or the gateway is draining.
            return Ok(());
        };
        io = quiet;
        // Parked: no HTTP state until the next request's first byte.
        let deadline = activity.last() + limits.header_read_timeout;
        if io.ahead.is_empty() {
            let _parked = Counted::new(&parked);
            let mut first = [0u8; 1];
            tokio::select! {
                n = io.stream.peek(&mut first) => if n? == 0 {
                    return Ok(());
                },
                () = tokio::time::sleep_until(deadline.into()) => return Ok(()),
                _ = drain.changed() => return Ok(()),
            }
        }
    }
}

/// Serves HTTP/1.1 on `io` until the connection ends (`None`) or has been quiet for
/// [`PARK_AFTER`] (its socket given back, with the bytes hyper had read ahead).
async fn serve_until_quiet<S>(
    io: Watched,
    limits: &Limits,
    service: S,
    drain: &mut watch::Receiver<bool>,
    activity: &Activity,
) -> Result<Option<Watched>, BoxError>
where
    S: ClientService + Unpin,
{
    let mut conn = http1_builder(limits).serve_connection(TokioIo::new(io), service);
    let mut draining = *drain.borrow();
    if draining {
        Pin::new(&mut conn).graceful_shutdown();
    }
    let (mut parking, mut closing) = (false, false);
    let check = tokio::time::sleep(PARK_AFTER);
    tokio::pin!(check);
    let done = loop {
        tokio::select! {
            r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => break r,
            () = check.as_mut(), if !closing && !draining => {
                match activity.quiet_since(PARK_AFTER) {
                    None => {
                        // Quiet, everything written: an idle hyper connection ends at
                        // once, leaving the socket open. One that is not idle — still
                        // reading a request body the upstream answered before reading it
                        // all — goes on without keep-alive and closes when done: its
                        // socket is never taken back in the middle of a message.
                        Pin::new(&mut conn).graceful_shutdown();
                        let now = std::future::poll_fn(|cx| {
                            std::task::Poll::Ready(conn.poll_without_shutdown(cx))
                        })
                        .await;
                        match now {
                            std::task::Poll::Ready(r) => {
                                parking = true;
                                break r;
                            }
                            std::task::Poll::Pending => closing = true,
                        }
                    }
                    Some(next) => check.as_mut().reset(next.into()),
                }
            }
            _ = drain.changed(), if !draining => {
                draining = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
        }
    };
    done?;
    if !parking || draining {
        return Ok(None);
    }
    let parts = conn.into_parts();
    let mut io = parts.io.into_inner();
    // Copied (or dropped when empty): the bytes read ahead are a view of hyper's read
    // buffer, and would keep all of it (8 KiB and more) alive while the connection is
    // parked.
    io.ahead = if parts.read_buf.is_empty() {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(&parts.read_buf)
    };
    Ok(Some(io))
}

/// What a connection did lately, for parking: requests in flight, whether every response
/// byte hyper buffered has been written, and when it last read or wrote.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    /// Hyper calls the socket's flush only once its own write buffer is empty: `true`
    /// after such a flush, `false` after any write since.
    flushed: AtomicBool,
    /// Milliseconds since [`epoch`] of the last read or write of a byte, or request end.
    last: AtomicU64,
}

/// The clock [`Activity::last`] counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        epoch() + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// A request begins; it ends when the returned guard (kept in its response body) is
    /// dropped, that is once hyper has taken the whole body.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InFlight(self.clone())
    }

    /// `None` when the connection has been quiet for `quiet` (nothing in flight, all
    /// written, no activity); else the instant to check again.
    fn quiet_since(&self, quiet: Duration) -> Option<Instant> {
        let again = self.last() + quiet;
        let now = Instant::now();
        if self.in_flight.load(Ordering::Relaxed) != 0 || !self.flushed.load(Ordering::Relaxed) {
            return Some(now + quiet);
        }
        (again > now).then_some(again)
    }
}

/// A request in flight, until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request counted as in flight until hyper drops it.
pub(crate) struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The client's socket as hyper sees it: bytes hyper read ahead before parking come
/// first, and every read, write and flush is noted in the connection's [`Activity`].
struct Watched {
    stream: TcpStream,
    ahead: Bytes,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if !me.ahead.is_empty() {
            let n = me.ahead.len().min(buf.remaining());
            buf.put_slice(&me.ahead[..n]);
            me.ahead.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut me.stream).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            me.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        me.activity.flushed.store(false, Ordering::Relaxed);
        let r = Pin::new(&mut me.stream).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            me.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        me.activity.flushed.store(false, Ordering::Relaxed);
        let r = Pin::new(&mut me.stream).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            me.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.stream).poll_flush(cx);
        if matches!(r, Poll::Ready(Ok(()))) {
            me.activity.flushed.store(true, Ordering::Relaxed);
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
