//! Listeners, reloads and shutdown.
//!
//! - Clients: HTTP/1.1 and h2c (prior knowledge) on one port, at most
//!   `limits.max_connections` at once and `limits.max_connections_per_client` from one
//!   address (see the slot table, `slots.rs`: a full table closes the oldest connection that
//!   has sent no request head for a newcomer), request heads bounded (431 beyond), header
//!   read timeout.
//! - Admin: `GET /metrics` (Prometheus text) and `GET /healthz` (503 `draining` during
//!   the shutdown drain), at most `limits.max_admin_connections` at once (more are closed
//!   at once), with the same header read timeout as the clients.
//! - File descriptors: the client connections are sized at start against the open-file
//!   limit, so that the admin connections and a reserve always fit; `accept` failures
//!   (out of descriptors) back off instead of spinning and are logged once per interval.
//! - Reload: [`Running::reload`] (called on SIGHUP) swaps the configuration atomically;
//!   requests in flight finish with the one they started with. An invalid file is logged
//!   with its line and column and the running configuration stays. The file watcher
//!   ([`Running::watch_file`]) applies a change only once the file has stopped changing.
//! - Shutdown: stop accepting, let in-flight requests finish within `shutdown_grace`; the
//!   admin listener stays up until then (`/healthz` says `draining`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{Config, ConfigError, ConfigErrors, Limits};
use crate::connection;
use crate::metrics::{Counted, Metrics};
use crate::proxy::{Body, Shared};
use crate::slots::{Admitted, Refused, Slots};

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
    /// The stamp of the file as last read for a reload (by SIGHUP or the watcher), so the
    /// watcher does not apply (or refuse, and log) the same file a second time.
    read_stamp: std::sync::Mutex<Option<FileStamp>>,
    /// Held across stamping, reading and applying the file (SIGHUP and the watcher), so
    /// that the configuration in force is always the one of the stamp last read.
    reload_lock: std::sync::Mutex<()>,
    /// Stops the client listener and starts the drain (the admin says `draining`).
    stop: watch::Sender<bool>,
    /// Closes the admin listener, once the drain is over.
    admin_stop: watch::Sender<bool>,
    clients: JoinHandle<()>,
    admin: Option<JoinHandle<()>>,
}

/// Connections the kernel completes and queues before the gateway accepts them (the
/// kernel caps it at `net.core.somaxconn`, 4096 by default). tokio's default, 1024, let a
/// burst of 10,000 connects see most of them dropped and retried after a second.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listener; the error names the address and the setting it comes from, e.g.
/// `cannot listen on 127.0.0.1:8080 (listen): address already in use (...)`.
async fn bind(addr: SocketAddr, key: &str) -> std::io::Result<TcpListener> {
    let listen = || {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().map_err(|e| {
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
    if let Some(problem) = config.admin_exposure() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            problem,
        ));
    }
    let listener = bind(config.listen, "listen").await?;
    let addr = listener.local_addr()?;
    let admin = match config.admin {
        Some(a) => Some(bind(a, "admin").await?),
        None => None,
    };
    let admin_addr = admin.as_ref().map(TcpListener::local_addr).transpose()?;
    let slots = client_slots(&config.limits, admin.is_some(), open_file_limit())
        .map_err(std::io::Error::other)?;
    let shared = Arc::new(Shared::new(config, Metrics::new()));
    let (stop, stop_rx) = watch::channel(false);
    crate::memory::spawn_trimmer(
        shared.metrics.connections.clone(),
        shared.metrics.parked.clone(),
        stop_rx.clone(),
    );
    let (admin_stop, admin_stop_rx) = watch::channel(false);
    let clients = tokio::spawn(serve_clients(
        listener,
        shared.clone(),
        stop_rx.clone(),
        slots,
    ));
    if admin.is_some() {
        // The dashboard's per-second series.
        tokio::spawn(crate::console::sample(
            shared.clone(),
            admin_stop_rx.clone(),
        ));
    }
    let admin = admin.map(|admin| {
        tokio::spawn(serve_admin(
            admin,
            shared.clone(),
            stop_rx.clone(),
            admin_stop_rx,
        ))
    });
    let running = Running {
        addr,
        admin_addr,
        shared,
        read_stamp: std::sync::Mutex::new(source.as_deref().and_then(file_stamp)),
        reload_lock: std::sync::Mutex::new(()),
        source,
        stop,
        admin_stop,
        clients,
        admin,
    };
    Ok(running)
}

/// How long a changed configuration file must stay the same before the watcher applies it.
pub const WATCH_SETTLE: Duration = Duration::from_millis(500);

/// What the watcher compares between looks: modification time and size.
type FileStamp = (SystemTime, u64);

/// The file's modification time and size, if it can be read.
fn file_stamp(path: &std::path::Path) -> Option<FileStamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Logs every problem of a refused reload, then that the running configuration stays.
fn log_reload_errors(errors: &ConfigErrors) {
    for e in errors {
        tracing::error!(target: "corsica::gateway", error = %e, "configuration reload: problem");
    }
    tracing::error!(target: "corsica::gateway", problems = errors.len(), "configuration reload failed; the running configuration stays");
}

/// File descriptors kept free beyond the connections the limits allow: the listeners, the
/// runtime's own, the log output, the files read at a reload, DNS lookups.
pub const FD_RESERVE: u64 = 64;

/// The soft limit on open files of the process (`RLIMIT_NOFILE`), if there is one.
fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft)
            .filter(|&soft| soft != rlimit::INFINITY)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Raises the soft limit on open files to the hard limit (as Go programs and nginx's
/// `worker_rlimit_nofile` do), and returns the limit now in force. `corsica serve` calls it
/// before [`start`]: the default soft limit of many systems (1024) is below what the
/// default `max_connections` needs.
///
/// ```
/// if let Some(limit) = corsica_gateway::gateway::raise_open_file_limit() {
///     assert!(limit >= 1);
/// }
/// ```
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(e) => {
                tracing::debug!(target: "corsica::gateway", error = %e, "cannot raise the open-file limit");
                open_file_limit()
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// How many client connections the gateway serves at once: `max_connections`, unless the
/// open-file limit `nofile` cannot hold them (two descriptors each, the client's socket and
/// an upstream connection) beside the admin connections and [`FD_RESERVE`]; then as many
/// as fit, with a warning. An error when not even one fits.
fn client_slots(limits: &Limits, admin: bool, nofile: Option<u64>) -> Result<usize, String> {
    let wanted = limits.max_connections;
    let Some(nofile) = nofile else {
        return Ok(wanted);
    };
    let admin_fds = if admin {
        limits.max_admin_connections as u64
    } else {
        0
    };
    let kept = admin_fds + FD_RESERVE;
    let needed = 2 * wanted as u64 + kept;
    if nofile >= needed {
        return Ok(wanted);
    }
    let fit = usize::try_from(nofile.saturating_sub(kept) / 2).unwrap_or(usize::MAX);
    let raise = format!(
        "raise the limit (`ulimit -n {needed}`, or `LimitNOFILE={needed}` in a systemd unit) or lower [limits] max_connections"
    );
    if fit == 0 {
        return Err(format!(
            "the open-file limit ({nofile}) leaves no room for client connections: \
             {admin_fds} admin connections and {FD_RESERVE} kept in reserve already need {kept}; \
             {raise}{}",
            if admin {
                " or max_admin_connections"
            } else {
                ""
            }
        ));
    }
    tracing::warn!(
        target: "corsica::gateway",
        "the open-file limit ({nofile}) is too low for max_connections = {wanted} \
         ({needed} descriptors: two per client connection, {admin_fds} for the admin listener, \
         {FD_RESERVE} in reserve): serving at most {fit} client connections at once; {raise}"
    );
    Ok(fit)
}

/// Paces a listener's accept loop after failures: a failing `accept` (out of file
/// descriptors, typically) is retried after a delay that doubles up to one second instead
/// of spinning, and logged at most once per [`ACCEPT_LOG_EVERY`] with how many failures
/// were not logged.
struct AcceptFailures {
    listener: &'static str,
    delay: Duration,
    logged: Option<Instant>,
    unlogged: u64,
}

/// The shortest and longest waits after a failed `accept`.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// How often a listener logs its failures (or refusals) at most.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

impl AcceptFailures {
    fn new(listener: &'static str) -> AcceptFailures {
        AcceptFailures {
            listener,
            delay: ACCEPT_BACKOFF.0,
            logged: None,
            unlogged: 0,
        }
    }

    /// Logs `e` (unless logged recently) and waits before the next `accept`.
    async fn failed(&mut self, e: &std::io::Error) {
        if let Some(not_logged) = self.log_due() {
            // EMFILE (24) and ENFILE (23), the same numbers on Linux and the BSDs.
            let out_of_fds = matches!(e.raw_os_error(), Some(23 | 24));
            let hint = if out_of_fds {
                "out of file descriptors: raise the open-file limit (ulimit -n, LimitNOFILE=) or lower [limits] max_connections"
            } else {
                "retrying"
            };
            tracing::warn!(
                target: "corsica::gateway",
                listener = self.listener,
                error = %e,
                not_logged,
                "accept failed ({hint}); backing off, logged at most every {}s",
                ACCEPT_LOG_EVERY.as_secs()
            );
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(ACCEPT_BACKOFF.1);
    }

    /// A connection was accepted and closed at once, for `why` (which names the limit to
    /// raise): logged at most once per [`ACCEPT_LOG_EVERY`].
    fn refused(&mut self, why: std::fmt::Arguments<'_>) {
        if let Some(not_logged) = self.log_due() {
            tracing::warn!(
                target: "corsica::gateway",
                listener = self.listener,
                not_logged,
                "connection closed: {why}; logged at most every {}s",
                ACCEPT_LOG_EVERY.as_secs()
            );
        }
    }

    /// Whether to log an event now (at most once per [`ACCEPT_LOG_EVERY`]): the number of
    /// events not logged since the last line, or `None` (and the event is counted).
    fn log_due(&mut self) -> Option<u64> {
        if self.logged.is_some_and(|t| t.elapsed() < ACCEPT_LOG_EVERY) {
            self.unlogged += 1;
            return None;
        }
        self.logged = Some(Instant::now());
        Some(std::mem::take(&mut self.unlogged))
    }

    /// An `accept` succeeded: the next failure waits the shortest delay again.
    fn succeeded(&mut self) {
        self.delay = ACCEPT_BACKOFF.0;
    }
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
        let _reloading = self.reload_lock.lock().unwrap_or_else(|e| e.into_inner());
        // Stamped before it is read: a change made meanwhile has another stamp, which the
        // watcher then sees.
        let stamp = file_stamp(path);
        *self.read_stamp.lock().unwrap_or_else(|e| e.into_inner()) = stamp;
        self.apply_read(&file, crate::config::read_config_file(path))
    }

    /// Applies what the watcher read of the file with `stamp`, unless the file has changed
    /// since (the next look sees the change) or that version was applied already (by
    /// SIGHUP).
    fn reload_watched(&self, path: &Path, stamp: FileStamp, read: std::io::Result<String>) {
        let _reloading = self.reload_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = self.read_stamp.lock().unwrap_or_else(|e| e.into_inner());
        if file_stamp(path) != Some(stamp) || *last == Some(stamp) {
            return;
        }
        *last = Some(stamp);
        drop(last);
        let _ = self.apply_read(&path.display().to_string(), read);
    }

    /// Applies what was read of `file` ([`reload_text`](Running::reload_text)), or refuses
    /// it when it could not be read (counted as a failed reload too); a refusal is logged
    /// with every problem.
    fn apply_read(&self, file: &str, read: std::io::Result<String>) -> Result<(), ConfigErrors> {
        let result = match read {
            Ok(text) => self.reload_text(&text, file),
            Err(e) => {
                self.shared
                    .metrics
                    .reloads
                    .with_label_values(&["error"])
                    .inc();
                let error = ConfigError::whole_file(file, format!("cannot read the file: {e}"));
                self.shared.activity.reloaded(vec![error.to_string()]);
                Err(error.into())
            }
        };
        if let Err(errors) = &result {
            log_reload_errors(errors);
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
        let parsed = Config::parse(text, file).and_then(|mut new| {
            let old = self.shared.load().config.clone();
            // The listeners stay where they are (command-line overrides included);
            // `max_connections` too. Everything else applies to new connections and
            // requests at once.
            if new.listen != old.listen || new.admin != old.admin {
                tracing::debug!(target: "corsica::gateway", "listen/admin addresses take effect on restart");
            }
            new.listen = old.listen;
            new.admin = old.admin;
            // A token removed while the admin listener stays reachable from other hosts.
            match new.admin_exposure() {
                Some(problem) => Err(ConfigError::whole_file(file, problem).into()),
                None => Ok(new),
            }
        });
        match parsed {
            Ok(new) => {
                let routes = new.routes.len();
                self.shared.set_config(new);
                self.shared.activity.reloaded(Vec::new());
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
                self.shared
                    .activity
                    .reloaded(e.iter().map(ToString::to_string).collect());
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

    /// What the routes' report-only candidates (`[route.cors_shadow]`) have seen: for each
    /// route of the running configuration that has one, its counts of requests whose verdict
    /// would change (since the gateway started, as `corsica_shadow_changes_total`), and the
    /// latest [`SAMPLES`](crate::shadow::SAMPLES) samples, oldest first. Serializable (the
    /// admin listener's `GET /shadow` answers it as JSON); follow new samples with
    /// [`shadow_subscribe`](Running::shadow_subscribe).
    ///
    /// ```
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// use corsica_gateway::shadow::Change;
    /// # use corsica_gateway::{config::Config, gateway};
    /// # let rt = tokio::runtime::Runtime::new()?;
    /// # rt.block_on(async {
    /// let config = Config::parse(r#"
    /// listen = "127.0.0.1:0"
    /// [[route]]
    /// name = "orders"
    /// upstream = "echo"
    /// [route.cors]
    /// origins = ["https://old.example.com"]
    /// methods = ["GET", "PUT"]
    /// [route.cors_shadow]
    /// origins = ["https://old.example.com"]
    /// methods = ["GET"]
    /// "#, "gw.toml")?;
    /// let running = gateway::start(config, None).await?;
    /// let mut stream = tokio::net::TcpStream::connect(running.addr).await?;
    /// stream
    ///     .write_all(b"OPTIONS /orders HTTP/1.1\r\nHost: localhost\r\nOrigin: https://old.example.com\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n")
    ///     .await?;
    /// let mut response = String::new();
    /// stream.read_to_string(&mut response).await?;
    /// assert!(response.starts_with("HTTP/1.1 204")); // the policy in force answers
    /// let report = running.shadow_report();
    /// assert_eq!((report.routes[0].route.as_str(), report.routes[0].would_deny), ("orders", 1));
    /// let sample = &report.samples[0];
    /// assert_eq!(sample.change, Change::WouldDeny);
    /// assert_eq!(sample.reason.as_deref(), Some("method_not_allowed"));
    /// assert!(sample.message.starts_with("would now deny https://old.example.com on PUT /orders: method `PUT` is not allowed"));
    /// assert!(running.metrics().contains("corsica_shadow_changes_total{change=\"would_deny\",route=\"orders\"} 1"));
    /// # running.shutdown().await;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shadow_report(&self) -> crate::shadow::ShadowReport {
        crate::shadow::report(&self.shared)
    }

    /// A receiver of every shadow sample taken from now on (for server-sent events), in
    /// `seq` order. A receiver more than
    /// [`SUBSCRIBER_BACKLOG`](crate::shadow::SUBSCRIBER_BACKLOG) samples behind gets
    /// `RecvError::Lagged(missed)` once, then the next samples: read
    /// [`shadow_report`](Running::shadow_report) again to catch up. Dropping it
    /// unsubscribes.
    ///
    /// ```
    /// # use corsica_gateway::{config::Config, gateway};
    /// # let rt = tokio::runtime::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let config = Config::parse("listen = \"127.0.0.1:0\"\n[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://app.example.com\"]\n[route.cors_shadow]\norigins = [\"https://new.example.com\"]\n", "gw.toml")?;
    /// # let running = gateway::start(config, None).await?;
    /// let mut samples = running.shadow_subscribe();
    /// // A request from https://app.example.com, which the candidate would deny:
    /// # let mut s = tokio::net::TcpStream::connect(running.addr).await?;
    /// # tokio::io::AsyncWriteExt::write_all(&mut s, b"GET /x HTTP/1.1\r\nHost: localhost\r\nOrigin: https://app.example.com\r\nConnection: close\r\n\r\n").await?;
    /// # tokio::io::AsyncReadExt::read_to_end(&mut s, &mut Vec::new()).await?;
    /// let sample = samples.recv().await?;
    /// assert_eq!(sample.seq, 1);
    /// assert!(sample.message.starts_with("would now deny https://app.example.com on GET /x: origin"));
    /// # running.shutdown().await;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shadow_subscribe(
        &self,
    ) -> tokio::sync::broadcast::Receiver<crate::shadow::ShadowSample> {
        self.shared.shadow.subscribe()
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

    /// Watches the source file and applies it once it has stopped changing: every `poll`
    /// it looks at the file's size and modification time, and when they differ from the
    /// configuration in force it reads the file; the text is applied (validated whole, as
    /// [`reload`](Running::reload) does) only when the same size, modification time and text
    /// were seen at looks at least [`WATCH_SETTLE`] (or `poll`, if longer) apart with no
    /// other change between. A file written in two steps (an editor, a `>` redirect) is
    /// thus never applied half, unless its writer pauses longer than that: writing a
    /// sibling file and renaming it over the configuration is atomic and always safe.
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
    ///     // Atomically: a sibling file renamed over the configuration.
    ///     let next = file.path().with_extension("new");
    ///     std::fs::write(&next, route("second"))?;
    ///     std::fs::rename(&next, file.path())?;
    ///     // Applied once it has stayed the same for `WATCH_SETTLE` (0.5 s).
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
    pub fn watch_file(self: &Arc<Self>, poll: Duration) -> Option<JoinHandle<()>> {
        let path = self.source.clone()?;
        let settle = WATCH_SETTLE.max(poll);
        let me = self.clone();
        let mut stop = self.stop.subscribe();
        Some(tokio::spawn(async move {
            // The text seen last while the file differs from the one in force, its stamp,
            // and when it was first seen so.
            let mut pending: Option<(FileStamp, String, Instant)> = None;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = stop.changed() => return,
                }
                let now = file_stamp(&path);
                let applied = *me.read_stamp.lock().unwrap_or_else(|e| e.into_inner());
                let Some(stamp) = now.filter(|_| now != applied) else {
                    // Unchanged, or gone for a moment (a rename in progress).
                    pending = None;
                    continue;
                };
                // Reading files (and maybe the system's roots) blocks: off the workers.
                let p = path.clone();
                let read =
                    tokio::task::spawn_blocking(move || crate::config::read_config_file(&p)).await;
                let text = match read {
                    Ok(Ok(text)) => text,
                    // Gone for a moment (a rename in progress): looked at again.
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                        pending = None;
                        continue;
                    }
                    // Unreadable (too large, not UTF-8, no permission): refused once.
                    Ok(Err(e)) => {
                        pending = None;
                        let again = me.clone();
                        let p = path.clone();
                        let _ = tokio::task::spawn_blocking(move || {
                            again.reload_watched(&p, stamp, Err(e));
                        })
                        .await;
                        continue;
                    }
                    Err(_) => continue,
                };
                match &pending {
                    Some((s, t, since)) if *s == stamp && *t == text => {
                        if since.elapsed() < settle {
                            continue;
                        }
                    }
                    _ => {
                        pending = Some((stamp, text, Instant::now()));
                        continue;
                    }
                }
                // The same for `settle`: applied (or refused whole, and not tried again
                // until it changes).
                pending = None;
                let again = me.clone();
                let p = path.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    again.reload_watched(&p, stamp, Ok(text));
                })
                .await;
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
        let _ = self.clients.await;
        // The admin listener stays up through the drain (`/healthz` says `draining`).
        let _ = self.admin_stop.send(true);
        if let Some(admin) = self.admin {
            let _ = admin.await;
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
            let watcher = me.watch_file(Duration::from_millis(200));
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
    slots: usize,
) {
    let slots = Slots::new(slots);
    let mut failures = AcceptFailures::new("listen");
    let mut refusals = AcceptFailures::new("listen");
    // The connection tasks, so that shutdown can wait for them and close those still
    // running when the grace ends (finished ones are reaped at each accept).
    let mut connections = JoinSet::new();
    'accept: loop {
        while connections.try_join_next().is_some() {}
        // Accept only when a slot is free or can be made free: otherwise newcomers wait in
        // the listen backlog.
        tokio::select! {
            () = slots.room() => {}
            _ = stop.changed() => break,
        }
        let (stream, remote) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // The wait ends early at shutdown.
                    tokio::select! {
                        () = failures.failed(&e) => continue,
                        _ = stop.changed() => break,
                    }
                }
            },
            _ = stop.changed() => break,
        };
        failures.succeeded();
        let per_client = shared.load().config.limits.max_connections_per_client;
        let slot = loop {
            match slots.admit(remote.ip(), per_client) {
                Ok((slot, how)) => {
                    if how == Admitted::Evicted {
                        shared
                            .metrics
                            .connections_shed
                            .with_label_values(&["evicted"])
                            .inc();
                    }
                    break slot;
                }
                Err(Refused::PerClient) => {
                    shared
                        .metrics
                        .connections_shed
                        .with_label_values(&["per_client"])
                        .inc();
                    refusals.refused(format_args!(
                        "client {} already holds max_connections_per_client = {per_client} connections \
                         (raise [limits] max_connections_per_client, or set 0 behind a load balancer)",
                        remote.ip()
                    ));
                    continue 'accept;
                }
                // The connection that could be evicted sent its request meanwhile: this
                // one waits for the next free slot.
                Err(Refused::Full) => tokio::select! {
                    () = slots.room() => {}
                    _ = stop.changed() => break 'accept,
                },
            }
        };
        let _ = stream.set_nodelay(true);
        let (limits, tls) = {
            let state = shared.load();
            (state.config.limits, state.config.tls.clone())
        };
        let open = Counted::new(&shared.metrics.connections);
        let client = connection::Client {
            stream,
            remote,
            shared: shared.clone(),
            limits,
            tls,
            slot,
            drain: stop.clone(),
        };
        connections.spawn(async move {
            connection::serve(client).await;
            drop(open);
        });
    }
    drop(listener);
    // Every connection saw the stop: requests in flight finish, idle ones close.
    let grace = shared.load().config.limits.shutdown_grace;
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::warn!(target: "corsica::gateway", grace_ms = grace.as_millis() as u64, "shutdown grace elapsed; closing remaining connections");
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

/// Serves `/metrics` and `/healthz` until `stop`: at most `max_admin_connections` at once
/// (more are closed as soon as accepted, so they cost a descriptor for an instant, not for
/// the header timeout), each bounded like a client's (header read timeout, small heads).
/// `draining` is the client listener's stop: once set, `/healthz` answers 503 `draining`.
async fn serve_admin(
    listener: TcpListener,
    shared: Arc<Shared>,
    draining: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(
        shared.load().config.limits.max_admin_connections,
    ));
    let mut failures = AcceptFailures::new("admin");
    let mut refusals = AcceptFailures::new("admin");
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = tokio::select! {
            a = listener.accept() => match a {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tokio::select! {
                        () = failures.failed(&e) => continue,
                        _ = stop.changed() => break,
                    }
                }
            },
            _ = stop.changed() => break,
        };
        failures.succeeded();
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refusals.refused(format_args!(
                "every slot is taken (raise [limits] max_admin_connections if the scrapers need more)"
            ));
            drop(stream);
            continue;
        };
        let header_read_timeout = shared.load().config.limits.header_read_timeout;
        let shared = shared.clone();
        let draining = draining.clone();
        let closing = stop.clone();
        connections.spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                let draining = *draining.borrow();
                let closing = closing.clone();
                async move {
                    let response = if crate::console::is_console(req.uri().path()) {
                        crate::console::serve(shared, req, closing).await
                    } else {
                        admin(&shared, &req, draining)
                    };
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .max_buf_size(ADMIN_MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
    drop(listener);
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// The largest request head the admin listener reads (hyper's minimum buffer).
const ADMIN_MAX_HEAD: usize = 8192;

/// The admin listener's answer; `draining`: the gateway is shutting down.
fn admin(shared: &Shared, req: &Request<Incoming>, draining: bool) -> Response<Body> {
    let path = req.uri().path();
    // `/healthz` stays open (a load balancer's check sends no token; it tells only `ok` or
    // `draining`); everything else needs the token when one is configured.
    if path != "/healthz" {
        let config = shared.load().config.clone();
        if let Some(token) = &config.admin_token {
            let given = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(http::HeaderValue::as_bytes);
            if !token.admits(given) {
                let mut r = Response::new(Body::text(
                    "401 Unauthorized: send `Authorization: Bearer <admin_token>`\n",
                ));
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                r.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer realm=\"corsica admin\""),
                );
                return r;
            }
        }
    }
    // Without a token, the shadow samples (origins, paths) are read only by loopback names
    // (a page that rebinds its own name to this address would otherwise read them as
    // same-origin). `/metrics` holds no request data (bounded labels) and stays open to
    // scrapers under any local name.
    if path == "/shadow" {
        if let Some(refused) = crate::console::rebinding(shared, req) {
            return refused;
        }
    }
    let (status, content_type, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            shared.metrics.render(),
        ),
        "/shadow" => (
            StatusCode::OK,
            "application/json",
            serde_json::to_string(&crate::shadow::report(shared)).unwrap_or_default(),
        ),
        "/healthz" if draining => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "draining\n".to_owned(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics, /shadow or /healthz\n".to_owned(),
        ),
    };
    let mut r = Response::new(Body::text(body));
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize, max_admin_connections: usize) -> Limits {
        Limits {
            max_connections,
            max_admin_connections,
            ..Limits::default()
        }
    }

    #[test]
    fn client_slots_leave_room_for_the_admin_and_the_reserve() {
        // Enough descriptors: what the configuration says.
        assert_eq!(
            client_slots(&limits(1024, 64), true, Some(65_536)),
            Ok(1024)
        );
        assert_eq!(client_slots(&limits(1024, 64), true, None), Ok(1024));
        assert_eq!(
            client_slots(&limits(100, 64), true, Some(2 * 100 + 64 + FD_RESERVE)),
            Ok(100)
        );
        // A 1024 limit with the defaults: the admin's 64 and the reserve stay free, the
        // clients get the rest at two descriptors each.
        assert_eq!(
            client_slots(&limits(1024, 64), true, Some(1024)),
            Ok(((1024 - 64 - FD_RESERVE) / 2) as usize)
        );
        // Without an admin listener its share goes to the clients.
        assert_eq!(
            client_slots(&limits(1024, 64), false, Some(1024)),
            Ok(((1024 - FD_RESERVE) / 2) as usize)
        );
        // No room at all: an error that says what to change.
        let err = client_slots(&limits(1024, 64), true, Some(100)).unwrap_err();
        assert!(err.contains("open-file limit (100)"), "{err}");
        assert!(err.contains("ulimit -n 2176"), "{err}");
        assert!(err.contains("max_admin_connections"), "{err}");
    }
}
