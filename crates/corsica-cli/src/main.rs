//! `corsica`: the command-line face of Corsica.
//!
//! - `corsica serve [--config FILE] [--listen ADDR] [--admin ADDR] [--log-format pretty|json]`:
//!   the CORS gateway (embedded default without a file); `corsica serve --upstream URL
//!   --allow-origin ORIGIN...` builds a one-route configuration from flags.
//! - `corsica lint CONFIG`: validates a gateway configuration with the gateway's own code
//!   path, reporting every problem (exit 1 on errors) and warnings (routes that never match).
//! - `corsica check URL --origin ORIGIN [--browser chromium|firefox|webkit|all] ...`: what the browser
//!   does for that `fetch()`, explained (`all`: each browser's verdict, and where they differ).
//! - `corsica explain --har FILE`: the same for every cross-origin request of a HAR file.
//! - `corsica scan URL...`: probes for CORS misconfigurations.
//!
//! Every command takes `--format text|json` (`sarif` too for `lint` and `scan`), with
//! `--json` as an alias of `--format json`; the JSON shapes are the structs of
//! `corsica_doctor::output`. Every command returns `Result<ExitCode, CliError>`: errors are
//! printed in one place, and stdout is written in one place ([`error::out`]).

mod error;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use corsica_doctor::output;
use corsica_gateway::config::{Config, ConfigError, EMBEDDED_DEFAULT, QuickStart};

use crate::error::{CliError, out, out_json};

/// CORS made correct, fast and explainable.
#[derive(Debug, Parser)]
#[command(
    name = "corsica",
    version,
    about = "CORS made correct, fast and explainable",
    long_about = "Corsica makes CORS (Cross-Origin Resource Sharing) correct, fast and explainable: \
        a gateway that applies CORS once for many backends (serve, lint), and a doctor that \
        explains why a browser blocks a request (check, explain) and finds misconfigurations (scan).",
    after_help = "See README.md for examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the CORS gateway (reverse proxy). Without --config: the embedded default
    /// (127.0.0.1:8080, built-in echo upstream, local development origins), or with
    /// --upstream and --allow-origin, one route built from the flags.
    Serve {
        /// TOML configuration file (reloaded on SIGHUP and when it changes).
        #[arg(long, short, conflicts_with = "upstream")]
        config: Option<PathBuf>,
        #[command(flatten)]
        quick: QuickArgs,
        /// Listen address, overriding the file's `listen`.
        #[arg(long, value_parser = socket_addr)]
        listen: Option<SocketAddr>,
        /// Admin address for /metrics and /healthz, overriding the file's `admin`.
        #[arg(long, value_parser = socket_addr)]
        admin: Option<SocketAddr>,
        /// Log format.
        #[arg(long, value_enum, default_value_t = LogFormat::Pretty)]
        log_format: LogFormat,
        /// Print the embedded default configuration (TOML) and exit.
        #[arg(long)]
        print_default_config: bool,
        #[command(flatten)]
        format: FormatArgs<Format>,
    },
    /// Validate a gateway configuration and report every problem, each at its line and
    /// column (exit 0 valid, 1 invalid, 2 unreadable).
    Lint {
        /// The TOML file.
        config: PathBuf,
        /// Also report what `corsica export TARGET` would refuse (nginx, caddy,
        /// haproxy), each at its route's line.
        #[arg(long)]
        target: Option<corsica_export::Target>,
        #[command(flatten)]
        format: FormatArgs<FindingsFormat>,
    },
    /// Say a gateway configuration in another server's language (nginx, Caddy, HAProxy),
    /// answering every request as `corsica serve` would; refuse, naming the route and the
    /// feature, what the target cannot express (exit 0 exported, 1 refused, 2 unreadable).
    Export {
        /// The server to export to: nginx, caddy or haproxy.
        target: corsica_export::Target,
        /// The gateway configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Write the configuration here (and its companion files beside it) instead of
        /// printing it.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Do against a live URL what the browser (Chromium by default, Firefox, or all) does
    /// for fetch(URL, {method, headers, credentials}) from a page at ORIGIN, and explain the
    /// verdict.
    /// Exit 0 allowed, 1 blocked by CORS, 2 usage or network error.
    Check {
        /// The URL passed to fetch().
        url: String,
        /// The page's origin, e.g. https://app.example.com.
        #[arg(long)]
        origin: String,
        /// The method.
        #[arg(short = 'X', long = "request", default_value = "GET")]
        method: String,
        /// A request header set by the page, 'Name: value' (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// The credentials mode.
        #[arg(long, value_enum, default_value_t = CredentialsArg::SameOrigin)]
        credentials: CredentialsArg,
        /// Whose verdict: chromium, firefox, webkit (Safari's engine), or all (each
        /// browser's, and where they differ).
        #[arg(long, value_enum, default_value_t = BrowserArg::Chromium)]
        browser: BrowserArg,
        #[command(flatten)]
        format: FormatArgs<Format>,
        /// Accept invalid TLS certificates (self-signed development servers).
        #[arg(long, short = 'k')]
        insecure: bool,
        /// Trust the CA certificate(s) in this PEM file too (repeatable).
        #[arg(long = "cacert", value_name = "FILE")]
        cacert: Vec<PathBuf>,
        /// The browser's stored cookie for the URL's host, NAME=VALUE (repeatable); sent
        /// only where the browser would (credentialed requests, never preflights).
        #[arg(long = "cookie", value_name = "NAME=VALUE")]
        cookies: Vec<String>,
        /// Resolve HOST to ADDR, like curl (HOST:PORT:ADDR; repeatable).
        #[arg(long)]
        resolve: Vec<String>,
        /// Per-request timeout in seconds.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
    },
    /// Probe URLs for CORS misconfigurations (reflected origin, null, suffix/prefix
    /// bypasses, http trusted by https...). Exit 0 nothing at or above --fail-on,
    /// 1 findings, 2 error.
    Scan {
        /// URLs to scan; `-` reads URLs from stdin, `@FILE` from a file (one per line).
        #[arg(required = true)]
        urls: Vec<String>,
        /// A trusted origin of the site (repeatable); probes are derived from them.
        #[arg(long = "origin")]
        origins: Vec<String>,
        #[command(flatten)]
        format: FormatArgs<FindingsFormat>,
        /// Lowest severity that makes the exit code 1.
        #[arg(long, value_enum, default_value_t = FailOn::Medium)]
        fail_on: FailOn,
        /// How many hosts are scanned at once (each host gets one connection at a time).
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Accept invalid TLS certificates.
        #[arg(long, short = 'k')]
        insecure: bool,
        /// Resolve HOST to ADDR, like curl (HOST:PORT:ADDR; repeatable).
        #[arg(long)]
        resolve: Vec<String>,
        /// Per-request timeout in seconds.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
    },
    /// Explain every cross-origin request of a HAR file exported from DevTools.
    /// Exit 0 none blocked, 1 some blocked, 2 unreadable file.
    Explain {
        /// The HAR file.
        #[arg(long)]
        har: PathBuf,
        #[command(flatten)]
        format: FormatArgs<Format>,
    },
}

impl Command {
    /// The subcommand's name, to prefix its errors.
    fn name(&self) -> &'static str {
        match self {
            Command::Serve { .. } => "serve",
            Command::Lint { .. } => "lint",
            Command::Export { .. } => "export",
            Command::Check { .. } => "check",
            Command::Scan { .. } => "scan",
            Command::Explain { .. } => "explain",
        }
    }
}

/// `serve`'s quick start: one route from flags, no file.
#[derive(Debug, Clone, Args)]
struct QuickArgs {
    /// Quick start without a file: send every request to this upstream (http://host:port,
    /// https://host:port or echo), with the CORS policy of the --allow-* flags.
    #[arg(long, requires = "origins")]
    upstream: Option<String>,
    /// An origin the page runs on, e.g. http://localhost:5173 (repeatable; with --upstream).
    #[arg(long = "allow-origin", requires = "upstream")]
    origins: Vec<String>,
    /// Allow credentials (cookies, Authorization) (with --upstream).
    #[arg(long = "allow-credentials", requires = "upstream")]
    credentials: bool,
    /// A request header the page may send, e.g. content-type (repeatable; with --upstream).
    #[arg(long = "allow-header", requires = "upstream")]
    headers: Vec<String>,
    /// A method the page may use (repeatable; with --upstream; default GET, HEAD, POST).
    #[arg(long = "allow-method", requires = "upstream")]
    methods: Vec<String>,
}

/// `--format` and its alias `--json`; `F` is the formats the command offers.
#[derive(Debug, Clone, Args)]
struct FormatArgs<F: OutputFormat> {
    /// Output format (the JSON and SARIF shapes are documented in README.md).
    #[arg(long, default_value = "text", value_parser = clap::builder::EnumValueParser::<F>::new())]
    format: F,
    /// Alias of --format json.
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

impl<F: OutputFormat> FormatArgs<F> {
    fn get(&self) -> F {
        if self.json { F::JSON } else { self.format }
    }
}

/// A set of output formats with a JSON member.
trait OutputFormat: ValueEnum + Copy + Send + Sync + 'static {
    const JSON: Self;
}

/// The formats of the commands without findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

impl OutputFormat for Format {
    const JSON: Self = Format::Json;
}

/// The formats of the commands with findings (`lint`, `scan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FindingsFormat {
    Text,
    Json,
    Sarif,
}

impl OutputFormat for FindingsFormat {
    const JSON: Self = FindingsFormat::Json;
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FailOn {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CredentialsArg {
    Omit,
    SameOrigin,
    Include,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BrowserArg {
    Chromium,
    Firefox,
    /// WebKit, Safari's engine.
    Webkit,
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

/// `--listen`/`--admin`: the gateway's own address rule, so a port over 65535 says so.
fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    corsica_gateway::config::parse_socket_addr(s).map_err(|problem| format!("`{s}`{problem}"))
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = cli.command.name();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => e.report(name),
    }
}

fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Lint {
            config,
            target,
            format,
        } => lint(&config, target, format.get()),
        Command::Export {
            target,
            config,
            output,
        } => export(target, &config, output.as_deref()),
        Command::Check {
            url,
            origin,
            method,
            headers,
            credentials,
            browser,
            format,
            insecure,
            cacert,
            cookies,
            resolve,
            timeout,
        } => {
            let credentials = match credentials {
                CredentialsArg::Omit => corsica::fetch::Credentials::Omit,
                CredentialsArg::SameOrigin => corsica::fetch::Credentials::SameOrigin,
                CredentialsArg::Include => corsica::fetch::Credentials::Include,
            };
            let live = corsica_doctor::LiveOptions {
                insecure,
                timeout: seconds(timeout)?,
                resolve: parse_resolves(&resolve)?,
                cookies,
                ca_certs: cacert,
            };
            let args = corsica_doctor::CheckArgs {
                url,
                origin,
                method,
                headers,
                credentials,
                live,
            };
            check(&args, browser, format.get())
        }
        Command::Explain { har, format } => explain(&har, format.get()),
        Command::Scan {
            urls,
            origins,
            format,
            fail_on,
            concurrency,
            insecure,
            resolve,
            timeout,
        } => {
            let trusted = origins
                .iter()
                .map(|o| corsica::Origin::parse(o))
                .collect::<Result<Vec<_>, _>>()?;
            let live = corsica_doctor::LiveOptions {
                insecure,
                timeout: seconds(timeout)?,
                resolve: parse_resolves(&resolve)?,
                ..Default::default()
            };
            scan(
                read_urls(urls)?,
                &trusted,
                &live,
                format.get(),
                fail_on,
                concurrency,
            )
        }
        Command::Serve {
            config,
            quick,
            listen,
            admin,
            log_format,
            print_default_config,
            format,
        } => {
            if print_default_config {
                out(EMBEDDED_DEFAULT)?;
                return Ok(ExitCode::SUCCESS);
            }
            init_logs(log_format);
            let quick = quick.upstream.map(|upstream| QuickStart {
                upstream,
                origins: quick.origins,
                credentials: quick.credentials,
                headers: quick.headers,
                methods: quick.methods,
            });
            serve(config, quick, listen, admin, format.get())
        }
    }
}

/// `--resolve HOST:PORT:ADDR` arguments.
fn parse_resolves(args: &[String]) -> Result<Vec<(String, std::net::IpAddr)>, CliError> {
    Ok(args
        .iter()
        .map(|r| corsica_doctor::live::parse_resolve(r))
        .collect::<Result<_, _>>()?)
}

/// A positive, finite number of seconds as a duration.
fn seconds(value: f64) -> Result<std::time::Duration, CliError> {
    std::time::Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| *d >= std::time::Duration::from_millis(1))
        .ok_or(CliError::Timeout)
}

fn color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })
}

fn check(
    args: &corsica_doctor::CheckArgs,
    browser: BrowserArg,
    format: Format,
) -> Result<ExitCode, CliError> {
    use corsica::fetch::Browser;
    let one = match browser {
        BrowserArg::Chromium => Browser::Chromium,
        BrowserArg::Firefox => Browser::Firefox,
        BrowserArg::Webkit => Browser::WebKit,
        BrowserArg::All => {
            // Each browser's run against one server: what one browser sent is not sent again.
            let (request, outcomes) = corsica_doctor::check_browsers(args, &Browser::ALL)?;
            return check_all(&request, &outcomes, format);
        }
    };
    let (request, outcome) = corsica_doctor::check_in(args, one)?;
    match format {
        Format::Json => out_json(&output::Check::new(&request, &outcome))?,
        Format::Text => out(&corsica_doctor::report::to_text(
            &request,
            &outcome,
            color(),
        ))?,
    }
    Ok(ExitCode::from(corsica_doctor::report::exit_code(&outcome)))
}

/// `check --browser all`: every browser's verdict, where they differ, one fix for all.
fn check_all(
    request: &corsica::fetch::FetchRequest,
    outcomes: &[corsica::fetch::Outcome],
    format: Format,
) -> Result<ExitCode, CliError> {
    match format {
        Format::Json => out_json(&output::CheckAll::new(request, outcomes))?,
        Format::Text => out(&corsica_doctor::report::compare_to_text(
            request,
            outcomes,
            color(),
        ))?,
    }
    // The worst verdict: failed (2) over blocked (1) over allowed (0).
    let code = outcomes
        .iter()
        .map(corsica_doctor::report::exit_code)
        .max()
        .unwrap_or(0);
    Ok(ExitCode::from(code))
}

fn read_urls(args: Vec<String>) -> Result<Vec<String>, CliError> {
    let mut urls = Vec::new();
    for a in args {
        let text = if a == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(CliError::Stdin)?;
            s
        } else if let Some(file) = a.strip_prefix('@') {
            read(Path::new(file))?
        } else {
            urls.push(a);
            continue;
        };
        urls.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if urls.is_empty() {
        return Err(CliError::NoUrls);
    }
    Ok(urls)
}

fn scan(
    urls: Vec<String>,
    trusted: &[corsica::Origin],
    live: &corsica_doctor::LiveOptions,
    format: FindingsFormat,
    fail_on: FailOn,
    concurrency: usize,
) -> Result<ExitCode, CliError> {
    use corsica_doctor::scan::{self, Severity};
    let results = scan::scan(&urls, trusted, live, concurrency, urls.len() > 1);
    match format {
        FindingsFormat::Text => out(&scan::to_text(&results))?,
        // One object per URL, one per line.
        FindingsFormat::Json => {
            for r in &results {
                out_json(&r.output())?;
            }
        }
        FindingsFormat::Sarif => out_json(&scan::sarif(&results))?,
    }
    let fail_on = match fail_on {
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
    };
    Ok(ExitCode::from(scan::exit_code(&results, fail_on)))
}

fn explain(path: &Path, format: Format) -> Result<ExitCode, CliError> {
    let text = read(path)?;
    let explanation = corsica_doctor::har::explain(&text).map_err(|source| CliError::Har {
        path: path.to_owned(),
        source,
    })?;
    match format {
        Format::Json => out_json(&explanation.output())?,
        Format::Text => out(&explanation.to_text(color()))?,
    }
    Ok(ExitCode::from(explanation.exit_code()))
}

/// A configuration problem or warning as the JSON/SARIF contract's entry.
fn lint_entry(e: &ConfigError) -> output::LintError {
    output::LintError {
        column: e.column(),
        file: e.file().to_owned(),
        line: e.line(),
        message: e.message().to_owned(),
    }
}

/// An export refusal as a lint error, at the line of its route's `name` (or of
/// `[tls]`), column 1; line 1 when the file does not say it.
fn refusal_entry(file: &str, text: &str, r: &corsica_export::ExportError) -> output::LintError {
    let needle = match &r.route {
        Some(name) => format!("\"{name}\""),
        None => "[tls]".to_owned(),
    };
    let line = text
        .lines()
        .position(|l| {
            let l = l.trim_start();
            (l.starts_with("name") || l.starts_with("[tls]")) && l.contains(&needle)
        })
        .map_or(1, |i| i + 1);
    output::LintError {
        column: 1,
        file: file.to_owned(),
        line,
        message: r.to_string(),
    }
}

/// The refusals of `lint --target` in text: one `file:line:column: message` a line.
fn located(errors: &[output::LintError]) -> CliError {
    CliError::Located(
        errors
            .iter()
            .map(|e| format!("{}:{}:{}: {}", e.file, e.line, e.column, e.message))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// A warning as a compiler prints it: `file:line:column: warning: message`.
fn warning_line(w: &output::LintError) -> String {
    format!("{}:{}:{}: warning: {}", w.file, w.line, w.column, w.message)
}

/// Prints warnings on stderr, one a line (a closed stderr is ignored).
fn warn(warnings: &[output::LintError]) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    for w in warnings {
        let _ = writeln!(stderr, "{}", warning_line(w));
    }
}

/// `corsica export`: the configuration said for `target`, printed (the main file) or
/// written to `output` with its companions beside it.
fn export(
    target: corsica_export::Target,
    path: &Path,
    output: Option<&Path>,
) -> Result<ExitCode, CliError> {
    let text = read(path)?;
    let config = Config::parse(&text, &path.display().to_string()).map_err(CliError::Config)?;
    let exported = corsica_export::export(&config, target).map_err(CliError::Export)?;
    let Some(output) = output else {
        out(exported.main())?;
        return Ok(ExitCode::SUCCESS);
    };
    let dir = output.parent().unwrap_or(Path::new("."));
    for (i, (name, body)) in exported.files().iter().enumerate() {
        let file = if i == 0 {
            output.to_owned()
        } else {
            dir.join(name)
        };
        std::fs::write(&file, body).map_err(|source| CliError::Write { path: file, source })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every problem of the file: in text, on stderr, one `file:line:column: message` a line
/// (through [`CliError::Config`]); in JSON and SARIF, on stdout.
fn lint(
    path: &Path,
    target: Option<corsica_export::Target>,
    format: FindingsFormat,
) -> Result<ExitCode, CliError> {
    let text = read(path)?;
    let file = path.display().to_string();
    let lint = match Config::parse(&text, &file) {
        Ok(c) => {
            let mut lint = output::Lint::valid(&file, c.routes().len(), c.listen());
            lint.warnings = c.warnings().iter().map(lint_entry).collect();
            let refused = target
                .map(|t| corsica_export::refusals(&c, t))
                .unwrap_or_default();
            if !refused.is_empty() {
                let errors: Vec<output::LintError> = refused
                    .iter()
                    .map(|r| refusal_entry(&file, &text, r))
                    .collect();
                if format == FindingsFormat::Text {
                    return Err(located(&errors));
                }
                let mut invalid = output::Lint::invalid(&file, errors);
                invalid.warnings = lint.warnings;
                invalid
            } else {
                lint
            }
        }
        Err(errors) if format == FindingsFormat::Text => return Err(CliError::Config(errors)),
        Err(errors) => output::Lint::invalid(&file, errors.iter().map(lint_entry).collect()),
    };
    match format {
        FindingsFormat::Text => {
            warn(&lint.warnings);
            out(&format!(
                "{file}: ok ({} route(s), listen {}{})\n",
                lint.routes.unwrap_or_default(),
                lint.listen.as_deref().unwrap_or_default(),
                match lint.warnings.len() {
                    0 => String::new(),
                    n => format!(", {n} warning(s)"),
                }
            ))?
        }
        FindingsFormat::Json => out_json(&lint)?,
        FindingsFormat::Sarif => out_json(&lint.to_sarif())?,
    }
    Ok(if lint.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn serve(
    path: Option<PathBuf>,
    quick: Option<QuickStart>,
    listen: Option<SocketAddr>,
    admin: Option<SocketAddr>,
    format: Format,
) -> Result<ExitCode, CliError> {
    let mut config = match (&path, &quick) {
        (Some(p), _) => {
            Config::parse(&read(p)?, &p.display().to_string()).map_err(CliError::Config)?
        }
        (None, Some(q)) => q.config().map_err(CliError::Flags)?,
        (None, None) => Config::embedded(),
    };
    for w in config.warnings() {
        tracing::warn!(target: "corsica::gateway", "{}", warning_line(&lint_entry(w)));
    }
    if let Some(l) = listen {
        config.set_listen(l);
    }
    if admin.is_some() {
        config.set_admin(admin);
    }
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let embedded = path.is_none() && quick.is_none();
        let routes: Vec<output::ServeRoute> = config
            .routes()
            .iter()
            .map(|r| output::ServeRoute {
                host: r.host().map(str::to_owned),
                name: r.name().to_owned(),
                path: r.path().map(str::to_owned),
                upstream: match r.upstream().target() {
                    None => "echo".to_owned(),
                    Some((scheme, authority)) => format!("{scheme}://{authority}"),
                },
            })
            .collect();
        // The default soft limit of many systems (1024) is below what the default
        // `max_connections` needs; `start` sizes the connections against what is left.
        corsica_gateway::gateway::raise_open_file_limit();
        let running = corsica_gateway::gateway::start(config, path)
            .await
            .map_err(CliError::Listen)?;
        let scheme = if running.config().tls().is_some() {
            "https"
        } else {
            "http"
        };
        let banner = output::Serve {
            admin: running.admin_addr.map(|a| format!("http://{a}")),
            listen: format!("{scheme}://{}", running.addr),
            routes,
        };
        let text = banner_text(&banner, embedded, running.addr);
        // The signals are ours before the address is announced: a SIGHUP sent on reading it
        // reloads instead of ending the process.
        let serving = running.run_until_signal().map_err(CliError::Serve)?;
        match format {
            Format::Json => out_json(&banner)?,
            Format::Text => out(&text)?,
        }
        serving.await;
        Ok(ExitCode::SUCCESS)
    })
}

/// What `serve` prints when it listens, for people.
fn banner_text(banner: &output::Serve, embedded: bool, addr: SocketAddr) -> String {
    let mut text = format!("corsica gateway listening on {}\n", banner.listen);
    if let Some(a) = &banner.admin {
        text.push_str(&format!(
            "metrics on {a}/metrics, health on {a}/healthz, console on {a}/_corsica/\n"
        ));
    }
    text.push_str("routes:\n");
    for r in &banner.routes {
        text.push_str(&format!(
            "  {} {}{} -> {}\n",
            r.name,
            r.host.as_deref().unwrap_or("*"),
            r.path.as_deref().unwrap_or("/"),
            r.upstream
        ));
    }
    if embedded {
        text.push_str(&format!(
            "embedded default: upstream is the built-in echo; origins http://localhost:*, http://127.0.0.1:* and http://[::1]:* are allowed with credentials.\n\
             try it from a page on http://localhost:3000 (paste into its DevTools console):\n  \
             fetch('http://{addr}/hello', {{method: 'POST', credentials: 'include', headers: {{'Content-Type': 'application/json'}}, body: '{{\"hi\":1}}'}}).then(r => r.json()).then(console.log)\n\
             or with curl: curl -i http://{addr}/hello -H 'Origin: http://localhost:3000'\n"
        ));
    }
    text
}
