//! `corsica export`: a Corsica gateway configuration said in another server's language,
//! answering every request as `corsica serve` would (status and CORS headers), or refused
//! with an error naming the route and the feature the target cannot express.
//!
//! ```
//! use corsica_export::{Target, export};
//! let config = corsica_gateway::config::Config::parse(r#"
//! listen = "127.0.0.1:8080"
//! [[route]]
//! name = "api"
//! path = "/api/"
//! upstream = "http://127.0.0.1:9001"
//! [route.cors]
//! origins = ["https://app.example.com", "https://*.example.com"]
//! credentials = true
//! methods = ["GET", "POST"]
//! headers = ["content-type"]
//! "#, "gateway.toml")?;
//! let out = export(&config, Target::Nginx)?;
//! assert!(out.main().contains("location ^~ /api/"));
//! assert_eq!(out.files()[1].0, "corsica.js");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod caddy;
mod haproxy;
mod nginx;
mod plan;
mod regex;

use std::fmt;

use corsica_gateway::config::Config;

/// A server to export to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// nginx 1.22 or later with its JavaScript module (`ngx_http_js_module`, Debian's
    /// `libnginx-mod-http-js`), which reads repeated request headers as the engine does.
    Nginx,
    /// Caddy 2.6 or later (Debian's `caddy`), with its Caddyfile adapter.
    Caddy,
    /// HAProxy 2.6 or later (Debian's `haproxy`).
    Haproxy,
}

impl Target {
    /// Every target, in the order the documentation lists them.
    pub const ALL: [Target; 3] = [Target::Nginx, Target::Caddy, Target::Haproxy];

    /// Its name on the command line.
    ///
    /// ```
    /// assert_eq!(corsica_export::Target::Nginx.as_str(), "nginx");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Nginx => "nginx",
            Target::Caddy => "caddy",
            Target::Haproxy => "haproxy",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "nginx" => Ok(Target::Nginx),
            "caddy" => Ok(Target::Caddy),
            "haproxy" => Ok(Target::Haproxy),
            other => Err(format!(
                "`{other}` is not an export target: nginx, caddy or haproxy"
            )),
        }
    }
}

/// Something of the configuration a target cannot express faithfully.
///
/// ```
/// let config = corsica_gateway::config::Config::parse(r#"
/// [[route]]
/// name = "dev"
/// upstream = "echo"
/// [route.cors]
/// origins = ["http://localhost:*"]
/// "#, "gateway.toml")?;
/// let refused = corsica_export::refusals(&config, corsica_export::Target::Nginx);
/// assert_eq!(refused[0].route.as_deref(), Some("dev"));
/// assert!(refused[0].to_string().contains("echo"));
/// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{feature}: {target} cannot express it faithfully; {fix}", route.as_ref().map(|r| format!("route `{r}`: ")).unwrap_or_default())]
pub struct ExportError {
    /// The target.
    pub target: Target,
    /// The route, when the feature is a route's.
    pub route: Option<String>,
    /// The feature, as the configuration names it.
    pub feature: String,
    /// What to do instead.
    pub fix: String,
}

/// Every refusal, reported at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ExportErrors(pub Vec<ExportError>);

/// An exported configuration: the main file and its companions, each `(name, text)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    files: Vec<(String, String)>,
}

impl Export {
    /// The main configuration file's text.
    pub fn main(&self) -> &str {
        self.files.first().map_or("", |(_, t)| t.as_str())
    }

    /// Every file, the main one first (`nginx.conf`, then `corsica.js` beside it).
    pub fn files(&self) -> &[(String, String)] {
        &self.files
    }
}

/// What of `config` `target` cannot express (empty when it can all be exported): the list
/// `corsica lint --target` reports.
pub fn refusals(config: &Config, target: Target) -> Vec<ExportError> {
    plan::refusals(config, target)
}

/// Exports `config` to `target`; every refusal at once when something cannot be said
/// faithfully. The output is deterministic and commented (which route, which rule).
pub fn export(config: &Config, target: Target) -> Result<Export, ExportErrors> {
    let refused = refusals(config, target);
    if !refused.is_empty() {
        return Err(ExportErrors(refused));
    }
    let plan = plan::Plan::of(config);
    let files = match target {
        Target::Nginx => nginx::render(&plan),
        Target::Caddy => caddy::render(&plan),
        Target::Haproxy => haproxy::render(&plan),
    };
    Ok(Export { files })
}
