//! Starts `corsica_gateway` on a TOML text, on ephemeral ports of 127.0.0.1, and builds
//! such texts.
//!
//! The launched gateway is the crate's own [`Running`]: its `addr`, `admin_addr`,
//! `metrics()`, `reload()` and `shutdown()` are what tests use; [`sample`] reads one
//! Prometheus sample out of `metrics()`.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use corsica_testkit::gateway::{self, cors_route};
//! let text = gateway::LISTEN.to_owned() + &cors_route("echo", "origins = [\"https://a.example\"]");
//! let running = gateway::start(&text).await;
//! let r = corsica_testkit::raw::text(running.addr, &corsica_testkit::raw::get("/", "https://a.example")).await;
//! assert!(r.contains("access-control-allow-origin: https://a.example"));
//! running.shutdown().await;
//! # });
//! ```

use std::path::{Path, PathBuf};

use corsica_gateway::config::Config;
pub use corsica_gateway::gateway::Running;

/// The origin the allowing policies allow.
pub const APP: &str = "https://app.example.com";
/// An origin no policy allows (unless said otherwise).
pub const EVIL: &str = "https://evil.example.net";

/// The client listener on a free port.
pub const LISTEN: &str = "listen = \"127.0.0.1:0\"\n";

/// The policy most tests use: origin [`APP`], with credentials.
pub const APP_CORS: &str = r#"origins = ["https://app.example.com"]
credentials = true
methods = ["GET", "POST", "PUT", "DELETE"]
headers = ["content-type", "x-api-key"]
expose = ["x-request-id"]
max_age = 600"#;

/// The head of a configuration: free ports for both listeners, then `limits` lines.
///
/// ```
/// let h = corsica_testkit::gateway::head("max_connections = 2");
/// assert!(h.contains("admin = \"127.0.0.1:0\"") && h.ends_with("[limits]\nmax_connections = 2\n"));
/// ```
pub fn head(limits: &str) -> String {
    format!("{LISTEN}admin = \"127.0.0.1:0\"\n\n[limits]\n{limits}\n")
}

/// A named `[[route]]` with a `[route.cors]` table; `matching` are the route's
/// host/path/methods lines and `cors` the policy's lines.
///
/// ```
/// let r = corsica_testkit::gateway::route("api", "path = \"/api\"", "echo", "origins = [\"*\"]");
/// assert!(r.contains("name = \"api\"\npath = \"/api\"\nupstream = \"echo\""));
/// ```
pub fn route(name: &str, matching: &str, upstream: &str, cors: &str) -> String {
    format!(
        "\n[[route]]\nname = \"{name}\"\n{matching}\nupstream = \"{upstream}\"\n\n[route.cors]\n{cors}\n"
    )
}

/// An unnamed `[[route]]` for every request, to `upstream`, with the policy `cors`.
///
/// ```
/// let r = corsica_testkit::gateway::cors_route("echo", "origins = [\"*\"]");
/// assert_eq!(r, "\n[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n");
/// ```
pub fn cors_route(upstream: &str, cors: &str) -> String {
    format!("\n[[route]]\nupstream = \"{upstream}\"\n[route.cors]\n{cors}\n")
}

/// Parses a configuration text, panicking with every error and the text.
///
/// ```
/// let c = corsica_testkit::gateway::parse("[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n", "t.toml");
/// assert_eq!(c.routes().len(), 1);
/// ```
pub fn parse(text: &str, file: &str) -> Config {
    Config::parse(text, file).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Starts a gateway on a configuration text (no file, so no reload from disk).
pub async fn start(text: &str) -> Running {
    corsica_gateway::gateway::start(parse(text, "test.toml"), None)
        .await
        .unwrap()
}

/// Starts a gateway with `limits` and one route `app`, for every path, with the policy
/// [`APP_CORS`], to `upstream`.
pub async fn app_gateway(upstream: std::net::SocketAddr, limits: &str) -> Running {
    start(
        &(head(limits)
            + &route(
                "app",
                "path = \"/\"",
                &format!("http://{upstream}"),
                APP_CORS,
            )),
    )
    .await
}

/// The value of a Prometheus sample (`name{labels}` exactly as rendered), if present.
///
/// ```
/// let m = "# HELP x\nx_total{a=\"1\"} 3\n";
/// assert_eq!(corsica_testkit::gateway::sample(m, r#"x_total{a="1"}"#), Some(3.0));
/// assert_eq!(corsica_testkit::gateway::sample(m, "y_total"), None);
/// ```
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// Asserts that the Prometheus sample `series` of `metrics` is `want` (`None`: absent).
///
/// ```
/// corsica_testkit::gateway::assert_sample("x_total 2\n", "x_total", Some(2.0));
/// ```
#[track_caller]
pub fn assert_sample(metrics: &str, series: &str, want: Option<f64>) {
    assert_eq!(sample(metrics, series), want, "{series} in\n{metrics}");
}

/// Replaces a file's content at once (write a sibling, rename), so a reader never sees a
/// half-written file.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.toml");
/// corsica_testkit::gateway::write_atomically(&path, "x = 1");
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "x = 1");
/// ```
pub fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A temporary directory holding `gateway.toml` and the files it names (certificates,
/// CA bundles), removed when dropped.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use corsica_testkit::gateway::{ConfigDir, LISTEN, cors_route};
/// let dir = ConfigDir::new();
/// let running = dir.start(&(LISTEN.to_owned() + &cors_route("echo", "origins = [\"https://a.example\"]"))).await;
/// dir.write_config(&(LISTEN.to_owned() + &cors_route("echo", "origins = [\"https://b.example\"]")));
/// running.reload().unwrap();
/// running.shutdown().await;
/// # });
/// ```
pub struct ConfigDir {
    dir: tempfile::TempDir,
}

impl Default for ConfigDir {
    fn default() -> ConfigDir {
        ConfigDir::new()
    }
}

impl ConfigDir {
    /// A new, empty directory.
    pub fn new() -> ConfigDir {
        ConfigDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration file, `gateway.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("gateway.toml")
    }

    /// Writes (atomically) a file of the directory.
    pub fn write(&self, name: &str, text: &str) {
        write_atomically(&self.dir.path().join(name), text);
    }

    /// Writes (atomically) the configuration file.
    pub fn write_config(&self, text: &str) {
        write_atomically(&self.config_path(), text);
    }

    /// Writes the configuration file and parses it (relative paths are resolved in the
    /// directory).
    pub fn load(&self, text: &str) -> Config {
        self.write_config(text);
        parse(text, &self.config_path().display().to_string())
    }

    /// Writes the configuration file and starts a gateway on it that reloads from it.
    pub async fn start(&self, text: &str) -> Running {
        corsica_gateway::gateway::start(self.load(text), Some(self.config_path()))
            .await
            .unwrap()
    }
}

/// Stops a file watcher started with [`Running::watch_file`], then shuts the gateway down
/// (the watcher holds the other reference).
pub async fn shutdown_watched(
    running: std::sync::Arc<Running>,
    watcher: tokio::task::JoinHandle<()>,
) {
    watcher.abort();
    let _ = watcher.await;
    let running = std::sync::Arc::try_unwrap(running)
        .ok()
        .expect("the watcher released the gateway");
    running.shutdown().await;
}
