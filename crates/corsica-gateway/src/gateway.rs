//! Listeners, reloads and shutdown.
//!
//! - Clients: HTTP/1.1 and h2c (prior knowledge) on one port, at most
//!   `limits.max_connections` at once, request heads bounded (431 beyond), header read
//!   timeout.
//! - Admin: `GET /metrics` (Prometheus text) and `GET /healthz`.
//! - Reload: [`Running::reload`] (called on SIGHUP and when the file changes) swaps the
//!   configuration atomically; requests in flight finish with the one they started with. An
//!   invalid file is logged with its line and column and the running configuration stays.
//! - Shutdown: stop accepting, let in-flight requests finish within `shutdown_grace`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{Config, ConfigError, ConfigErrors};
use crate::metrics::Metrics;
use crate::proxy::{self, Body, Shared};

/// A running gateway.
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use corsica_gateway::{config::Config, gateway};
/// let config = Config::parse(r#"
/// listen = "127.0.0.1:0"
/// admin = "127.0.0.1:0"
/// [[route]]
/// upstream = "echo"
/// [route.cors]
/// origins = ["https://app.example.com"]
/// "#, "gw.toml")?;
/// let rt = tokio::runtime::Runtime::new()?;
/// rt.block_on(async {
///     let running = gateway::start(config, None).await?;
///     // Port 0 in the configuration: the addresses say which ports were picked.
///     assert_ne!(running.addr.port(), 0);
///     let admin = running.admin_addr.expect("an admin listener is configured");
///     let mut stream = tokio::net::TcpStream::connect(admin).await?;
///     stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
///     let mut response = String::new();
///     stream.read_to_string(&mut response).await?;
///     assert!(response.starts_with("HTTP/1.1 200 OK") && response.ends_with("ok\n"));
///     running.shutdown().await;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Running {
    /// The client listener's address.
    pub addr: SocketAddr,
    /// The admin listener's address, if any.
    pub admin_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    source: Option<PathBuf>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds a listener; the error names the address and the setting it comes from, e.g.
/// `cannot listen on 127.0.0.1:8080 (listen): address already in use (...)`.
async fn bind(addr: SocketAddr, key: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "address already in use (another process listens there: stop it, or choose another address with `{key} = ...` or --{key})"
            ),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (ports below 1024 need privileges)".to_owned()
            }
            _ => e.to_string(),
        };
        std::io::Error::new(e.kind(), format!("cannot listen on {addr} ({key}): {hint}"))
    })
}

/// Starts the gateway with `config`; `source` is the file to reload from (watched for
/// changes), if any.
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use corsica_gateway::{config::Config, gateway};
/// let config = Config::parse(r#"
/// listen = "127.0.0.1:0"
/// [[route]]
/// upstream = "echo"
/// [route.cors]
/// origins = ["https://app.example.com"]
/// "#, "gw.toml")?;
/// let rt = tokio::runtime::Runtime::new()?;
/// rt.block_on(async {
///     let running = gateway::start(config, None).await?;
///     let mut stream = tokio::net::TcpStream::connect(running.addr).await?;
///     stream
///         .write_all(b"GET /hello HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://app.example.com\r\nConnection: close\r\n\r\n")
///         .await?;
///     let mut response = String::new();
///     stream.read_to_string(&mut response).await?;
///     assert!(response.starts_with("HTTP/1.1 200 OK"));
///     assert!(response.contains("access-control-allow-origin: https://app.example.com"));
///     running.shutdown().await;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn start(config: Config, source: Option<PathBuf>) -> std::io::Result<Running> {
    let listener = bind(config.listen, "listen").await?;
    let addr = listener.local_addr()?;
    let admin = match config.admin {
        Some(a) => Some(bind(a, "admin").await?),
        None => None,
    };
    let admin_addr = admin.as_ref().map(TcpListener::local_addr).transpose()?;
    let shared = Arc::new(Shared::new(config, Metrics::new()));
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(serve_clients(
        listener,
        shared.clone(),
        stop_rx.clone(),
    ))];
    if let Some(admin) = admin {
        tasks.push(tokio::spawn(serve_admin(
            admin,
            shared.clone(),
            stop_rx.clone(),
        )));
    }
    let running = Running {
        addr,
        admin_addr,
        shared,
        source,
        stop,
        tasks,
    };
    Ok(running)
}

impl Running {
    /// Reloads from the source file. On error the running configuration stays and the
    /// error is returned (and logged, and counted).
    ///
    /// ```
    /// use corsica_gateway::{config::Config, gateway};
    /// let route = |name: &str| format!("listen = \"127.0.0.1:0\"\n[[route]]\nname = \"{name}\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://app.example.com\"]\n");
    /// let file = tempfile::NamedTempFile::new()?;
    /// std::fs::write(file.path(), route("v1"))?;
    /// let config = Config::parse(&std::fs::read_to_string(file.path())?, "gw.toml")?;
    /// let rt = tokio::runtime::Runtime::new()?;
    /// rt.block_on(async {
    ///     let running = gateway::start(config, Some(file.path().to_path_buf())).await?;
    ///     std::fs::write(file.path(), route("v2"))?;
    ///     running.reload()?;
    ///     assert_eq!(running.config().routes()[0].name(), "v2");
    ///     // An invalid file is refused with its position; the running configuration stays.
    ///     std::fs::write(file.path(), "listen = 8080\n")?;
    ///     let err = running.reload().unwrap_err();
    ///     assert_eq!((err.first().line(), err.first().column()), (1, 10));
    ///     assert_eq!(running.config().routes()[0].name(), "v2");
    ///     running.shutdown().await;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reload(&self) -> Result<(), ConfigErrors> {
        let Some(path) = &self.source else {
            return Err(ConfigError::whole_file(
                "<embedded>",
                "running on the embedded default: there is no file to reload (start with --config FILE)",
            )
            .into());
        };
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::whole_file(&file, format!("cannot read the file: {e}")).into()
        });
        let result = text.and_then(|t| self.reload_text(&t, &file));
        if let Err(errors) = &result {
            for e in errors {
                tracing::error!(target: "corsica::gateway", error = %e, "configuration reload: problem");
            }
            tracing::error!(target: "corsica::gateway", problems = errors.len(), "configuration reload failed; the running configuration stays");
        }
        result
    }

    /// Reloads from text (counted in the metrics either way).
    ///
    /// ```
    /// # use corsica_gateway::{config::Config, gateway};
    /// # let rt = tokio::runtime::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let config = Config::parse("listen = \"127.0.0.1:0\"\n[[route]]\nname = \"api\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://app.example.com\"]\n", "gw.toml")?;
    /// # let running = gateway::start(config, None).await?;
    /// let err = running
    ///     .reload_text("[[route]]\nupstream = \"ftp://x\"\n[route.cors]\norigins = [\"*\"]\n", "new.toml")
    ///     .unwrap_err();
    /// let first = err.first();
    /// assert_eq!((first.file(), first.line(), first.column()), ("new.toml", 2, 12));
    /// assert_eq!(running.config().routes()[0].name(), "api"); // unchanged
    /// running.reload_text("listen = \"127.0.0.1:0\"\n[[route]]\nname = \"v2\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n", "new.toml")?;
    /// assert_eq!(running.config().routes()[0].name(), "v2");
    /// let metrics = running.metrics();
    /// assert!(metrics.contains("corsica_config_reloads_total{result=\"error\"} 1"));
    /// assert!(metrics.contains("corsica_config_reloads_total{result=\"ok\"} 1"));
    /// # running.shutdown().await;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reload_text(&self, text: &str, file: &str) -> Result<(), ConfigErrors> {
        match Config::parse(text, file) {
            Ok(mut new) => {
                let old = self.shared.load().config.clone();
                // The listeners stay where they are (command-line overrides included);
                // `max_connections` too. Everything else applies to new connections and
                // requests at once.
                if new.listen != old.listen || new.admin != old.admin {
                    tracing::debug!(target: "corsica::gateway", "listen/admin addresses take effect on restart");
                }
                new.listen = old.listen;
                new.admin = old.admin;
                let routes = new.routes.len();
                self.shared.set_config(new);
                self.shared.metrics.reloads.with_label_values(&["ok"]).inc();
                tracing::info!(target: "corsica::gateway", file, routes, "configuration reloaded");
                Ok(())
            }
            Err(e) => {
                self.shared
                    .metrics
                    .reloads
                    .with_label_values(&["error"])
                    .inc();
                Err(e)
            }
        }
    }

    /// The Prometheus text of the gateway's metrics.
    ///
    /// ```
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// # use corsica_gateway::{config::Config, gateway};
    /// # let rt = tokio::runtime::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let config = Config::parse("listen = \"127.0.0.1:0\"\n[[route]]\nname = \"api\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://app.example.com\"]\n", "gw.toml")?;
    /// # let running = gateway::start(config, None).await?;
    /// // A preflight for PUT, which the route does not allow (only GET, HEAD and POST by
    /// // default): the gateway answers it itself, and counts the denial with its reason.
    /// let mut stream = tokio::net::TcpStream::connect(running.addr).await?;
    /// stream
    ///     .write_all(b"OPTIONS /items HTTP/1.1\r\nHost: localhost\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n")
    ///     .await?;
    /// stream.read_to_end(&mut Vec::new()).await?;
    /// let metrics = running.metrics();
    /// assert!(metrics.contains("corsica_requests_total{outcome=\"preflight_denied\",route=\"api\"} 1"));
    /// assert!(metrics.contains("corsica_denials_total{reason=\"method_not_allowed\",route=\"api\"} 1"));
    /// # running.shutdown().await;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics(&self) -> String {
        self.shared.metrics.render()
    }

    /// The running configuration.
    ///
    /// ```
    /// # use corsica_gateway::{config::Config, gateway};
    /// # let rt = tokio::runtime::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let config = Config::parse("listen = \"127.0.0.1:0\"\n[[route]]\nname = \"api\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://app.example.com\"]\n", "gw.toml")?;
    /// # let running = gateway::start(config, None).await?;
    /// let config = running.config();
    /// assert_eq!(config.routes()[0].name(), "api");
    /// // The configuration as written (port 0); `running.addr` has the port in use.
    /// assert_eq!(config.listen().port(), 0);
    /// assert_ne!(running.addr.port(), 0);
    /// # running.shutdown().await;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> Arc<Config> {
        self.shared.load().config.clone()
    }

    /// Watches the source file (polling its size and modification time every
    /// `interval`; portable, and cheap at one `stat` per interval) and reloads on change.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use corsica_gateway::{config::Config, gateway};
    /// let route = |name: &str| format!("listen = \"127.0.0.1:0\"\n[[route]]\nname = \"{name}\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://app.example.com\"]\n");
    /// let file = tempfile::NamedTempFile::new()?;
    /// std::fs::write(file.path(), route("first"))?;
    /// let config = Config::parse(&route("first"), "gw.toml")?;
    /// let rt = tokio::runtime::Runtime::new()?;
    /// rt.block_on(async {
    ///     let running = Arc::new(gateway::start(config, Some(file.path().to_path_buf())).await?);
    ///     let watcher = running.watch_file(Duration::from_millis(20)).expect("started from a file");
    ///     // Let the watcher take its first look at the file, then change it.
    ///     tokio::time::sleep(Duration::from_millis(200)).await;
    ///     std::fs::write(file.path(), route("second"))?;
    ///     for _ in 0..250 {
    ///         if running.config().routes()[0].name() == "second" {
    ///             break;
    ///         }
    ///         tokio::time::sleep(Duration::from_millis(20)).await;
    ///     }
    ///     assert_eq!(running.config().routes()[0].name(), "second");
    ///     watcher.abort();
    ///     let _ = watcher.await;
    ///     if let Ok(running) = Arc::try_unwrap(running) {
    ///         running.shutdown().await;
    ///     }
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watch_file(self: &Arc<Self>, interval: Duration) -> Option<JoinHandle<()>> {
        let path = self.source.clone()?;
        let me = self.clone();
        let mut stop = self.stop.subscribe();
        Some(tokio::spawn(async move {
            let stamp = |p: &PathBuf| -> Option<(SystemTime, u64)> {
                let m = std::fs::metadata(p).ok()?;
                Some((m.modified().ok()?, m.len()))
            };
            let mut last = stamp(&path);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.changed() => return,
                }
                let now = stamp(&path);
                if now != last && now.is_some() {
                    last = now;
                    // Reading files (and maybe the system's roots) blocks: off the workers.
                    let again = me.clone();
                    let _ = tokio::task::spawn_blocking(move || again.reload()).await;
                }
            }
        }))
    }

    /// Stops accepting, lets in-flight requests finish within the configured grace (closing
    /// the connections still open when it ends), and returns when every listener is closed.
    ///
    /// ```
    /// # use corsica_gateway::{config::Config, gateway};
    /// # let rt = tokio::runtime::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let config = Config::parse("listen = \"127.0.0.1:0\"\n[[route]]\nname = \"api\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://app.example.com\"]\n", "gw.toml")?;
    /// # let running = gateway::start(config, None).await?;
    /// let addr = running.addr;
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    /// running.shutdown().await;
    /// // The listener is closed.
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Takes over SIGHUP (reload), SIGTERM and SIGINT (graceful stop) at once, and returns
    /// the future that serves until SIGTERM or SIGINT, reloading on SIGHUP, then shuts down
    /// gracefully. The signals are taken before this returns, so a caller that announces
    /// the gateway afterwards can never be ended by a SIGHUP sent on reading it.
    ///
    /// ```no_run
    /// use std::path::PathBuf;
    /// use corsica_gateway::{config::Config, gateway};
    /// #[tokio::main]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let path = PathBuf::from("gateway.toml");
    ///     let config = Config::parse(&std::fs::read_to_string(&path)?, "gateway.toml")?;
    ///     let running = gateway::start(config, Some(path)).await?;
    ///     let serving = running.run_until_signal()?;
    ///     // From here `kill -HUP <pid>` reloads gateway.toml; Ctrl-C or SIGTERM stops gracefully.
    ///     println!("ready");
    ///     serving.await;
    ///     Ok(())
    /// }
    /// ```
    #[cfg(unix)]
    pub fn run_until_signal(self) -> std::io::Result<impl std::future::Future<Output = ()>> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            let me = Arc::new(self);
            let watcher = me.watch_file(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = hup.recv() => {
                        tracing::info!(target: "corsica::gateway", "SIGHUP: reloading the configuration");
                        let again = me.clone();
                        let _ = tokio::task::spawn_blocking(move || again.reload()).await;
                    }
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                }
            }
            tracing::info!(target: "corsica::gateway", "shutting down: finishing in-flight requests");
            let _ = me.stop.send(true);
            if let Some(w) = watcher {
                let _ = w.await;
            }
            match Arc::try_unwrap(me) {
                Ok(running) => running.shutdown().await,
                Err(_) => {
                    tracing::warn!(target: "corsica::gateway", "shutdown with tasks still holding the gateway")
                }
            }
        })
    }
}

async fn serve_clients(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = shared.load().config.limits;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // The connection tasks, so those still running when the shutdown grace ends can be
    // closed (finished ones are reaped at each accept).
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.changed() => break,
        };
        let (stream, remote) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(target: "corsica::gateway", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let state = shared.load();
        let limits = state.config.limits;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes)
            .max_headers(limits.max_headers);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(MAX_H2_STREAMS)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20));
        let tls = state.config.tls.clone();
        drop(state);
        let svc_shared = shared.clone();
        let is_tls = tls.is_some();
        // A connection must bring its first request within the header timeout, whatever the
        // protocol (HTTP/1 or h2 detection, TLS handshake, h2 preface): an idle socket must
        // not hold a connection slot forever.
        let first_request = Arc::new(tokio::sync::Notify::new());
        let seen = first_request.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let shared = svc_shared.clone();
            seen.notify_one();
            async move {
                Ok::<_, std::convert::Infallible>(proxy::handle(shared, req, remote, is_tls).await)
            }
        });
        let watcher = graceful.watcher();
        let open = OpenConnection::new(&shared.metrics.connections);
        connections.spawn(async move {
            let serve = async move { match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    watcher.watch(conn).await
                }
                Some(config) => {
                    // The handshake gets the same time as a request head.
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            let conn = builder.serve_connection(TokioIo::new(tls_stream), service).into_owned();
                            watcher.watch(conn).await
                        }
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
            } };
            let first_deadline = limits.header_read_timeout * if is_tls { 2 } else { 1 };
            let watchdog = async move {
                if tokio::time::timeout(first_deadline, first_request.notified()).await.is_err() {
                    return;
                }
                std::future::pending::<()>().await
            };
            let result = tokio::select! {
                r = serve => r,
                () = watchdog => {
                    tracing::debug!(target: "corsica::gateway", client = %remote.ip(), "no request within the header timeout; closing");
                    Ok(())
                }
            };
            if let Err(e) = result {
                tracing::debug!(target: "corsica::gateway", error = %e, "connection ended with an error");
            }
            drop(open);
            drop(permit);
        });
    }
    drop(listener);
    let grace = shared.load().config.limits.shutdown_grace;
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(target: "corsica::gateway", grace_ms = grace.as_millis() as u64, "shutdown grace elapsed; closing remaining connections");
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

/// Streams an HTTP/2 client may open at once on one connection.
const MAX_H2_STREAMS: u32 = 100;

/// Counts an open client connection in the gauge until dropped (also when its task is
/// aborted at the end of the shutdown grace).
struct OpenConnection(prometheus::IntGauge);

impl OpenConnection {
    fn new(gauge: &prometheus::IntGauge) -> OpenConnection {
        gauge.inc();
        OpenConnection(gauge.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn serve_admin(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(admin(&shared, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn admin(shared: &Shared, req: &Request<Incoming>) -> Response<Body> {
    let (status, content_type, body) = match req.uri().path() {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            shared.metrics.render(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics or /healthz\n".to_owned(),
        ),
    };
    let mut r = Response::new(Body::text(body));
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}
