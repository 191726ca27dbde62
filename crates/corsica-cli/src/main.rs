//! `corsica`: the command-line face of Corsica.
//!
//! - `corsica serve [--config FILE] [--listen ADDR] [--admin ADDR] [--log-format pretty|json]`:
//!   the CORS gateway (embedded default without a file).
//! - `corsica lint CONFIG`: validates a gateway configuration with the gateway's own code
//!   path (exit 1 on errors).
//! - `corsica check URL --origin ORIGIN ...`: what Chromium does for that `fetch()`, explained.
//! - `corsica explain --har FILE`: the same for every cross-origin request of a HAR file.
//! - `corsica scan URL...`: probes for CORS misconfigurations (text, JSON, SARIF).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use corsica_gateway::config::{Config, EMBEDDED_DEFAULT};

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
    /// (127.0.0.1:8080, built-in echo upstream, local development origins).
    Serve {
        /// TOML configuration file (reloaded on SIGHUP and when it changes).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen address, overriding the file's `listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Admin address for /metrics and /healthz, overriding the file's `admin`.
        #[arg(long)]
        admin: Option<SocketAddr>,
        /// Log format.
        #[arg(long, value_enum, default_value_t = LogFormat::Pretty)]
        log_format: LogFormat,
        /// Print the embedded default configuration and exit.
        #[arg(long)]
        print_default_config: bool,
    },
    /// Validate a gateway configuration (exit 0 valid, 1 invalid, 2 unreadable).
    Lint {
        /// The TOML file.
        config: PathBuf,
    },
    /// Do against a live URL what Chromium does for fetch(URL, {method, headers,
    /// credentials}) from a page at ORIGIN, and explain the verdict.
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
        /// Print one JSON object instead of the trace.
        #[arg(long)]
        json: bool,
        /// Accept invalid TLS certificates (self-signed development servers).
        #[arg(long, short = 'k')]
        insecure: bool,
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
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Lowest severity that makes the exit code 1.
        #[arg(long, value_enum, default_value_t = FailOn::Medium)]
        fail_on: FailOn,
        /// How many hosts are scanned at once (each host gets one connection at a time).
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Accept invalid TLS certificates.
        #[arg(long, short = 'k')]
        insecure: bool,
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
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
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
enum LogFormat {
    Pretty,
    Json,
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
    match cli.command {
        Command::Lint { config } => lint(&config),
        Command::Check {
            url,
            origin,
            method,
            headers,
            credentials,
            json,
            insecure,
            resolve,
            timeout,
        } => {
            let credentials = match credentials {
                CredentialsArg::Omit => corsica::fetch::Credentials::Omit,
                CredentialsArg::SameOrigin => corsica::fetch::Credentials::SameOrigin,
                CredentialsArg::Include => corsica::fetch::Credentials::Include,
            };
            let mut live = corsica_doctor::LiveOptions {
                insecure,
                ..Default::default()
            };
            live.timeout = match seconds(timeout) {
                Some(d) => d,
                None => {
                    eprintln!("corsica check: --timeout must be a positive number of seconds");
                    return ExitCode::from(2);
                }
            };
            for r in &resolve {
                match corsica_doctor::live::parse_resolve(r) {
                    Ok(pair) => live.resolve.push(pair),
                    Err(e) => {
                        eprintln!("corsica check: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            let args = corsica_doctor::CheckArgs {
                url,
                origin,
                method,
                headers,
                credentials,
                live,
            };
            check(&args, json)
        }
        Command::Explain { har, json } => explain(&har, json),
        Command::Scan {
            urls,
            origins,
            format,
            fail_on,
            concurrency,
            insecure,
            timeout,
        } => scan(
            urls,
            origins,
            format,
            fail_on,
            concurrency,
            insecure,
            timeout,
        ),
        Command::Serve {
            config,
            listen,
            admin,
            log_format,
            print_default_config,
        } => {
            if print_default_config {
                print!("{EMBEDDED_DEFAULT}");
                return ExitCode::SUCCESS;
            }
            init_logs(log_format);
            serve(config, listen, admin)
        }
    }
}

/// A positive, finite number of seconds as a duration.
fn seconds(value: f64) -> Option<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| *d >= std::time::Duration::from_millis(1))
}

fn color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn check(args: &corsica_doctor::CheckArgs, json: bool) -> ExitCode {
    match corsica_doctor::check(args) {
        Ok((request, outcome)) => {
            if json {
                println!("{}", corsica_doctor::report::to_json(&request, &outcome));
            } else {
                print!(
                    "{}",
                    corsica_doctor::report::to_text(&request, &outcome, color())
                );
            }
            ExitCode::from(corsica_doctor::report::exit_code(&outcome))
        }
        Err(e) => {
            eprintln!("corsica check: {e}");
            ExitCode::from(2)
        }
    }
}

fn read_urls(args: Vec<String>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for a in args {
        let text = if a == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            s
        } else if let Some(file) = a.strip_prefix('@') {
            std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?
        } else {
            out.push(a);
            continue;
        };
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if out.is_empty() {
        return Err("no URLs to scan".into());
    }
    Ok(out)
}

fn scan(
    urls: Vec<String>,
    origins: Vec<String>,
    format: Format,
    fail_on: FailOn,
    concurrency: usize,
    insecure: bool,
    timeout: f64,
) -> ExitCode {
    use corsica_doctor::scan::{self, Severity};
    let urls = match read_urls(urls) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("corsica scan: {e}");
            return ExitCode::from(2);
        }
    };
    let mut trusted = Vec::new();
    for o in &origins {
        match corsica::Origin::parse(o) {
            Ok(o) => trusted.push(o),
            Err(e) => {
                eprintln!("corsica scan: --origin: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(timeout) = seconds(timeout) else {
        eprintln!("corsica scan: --timeout must be a positive number of seconds");
        return ExitCode::from(2);
    };
    let live = corsica_doctor::LiveOptions {
        insecure,
        timeout,
        ..Default::default()
    };
    let results = scan::scan(&urls, &trusted, &live, concurrency, urls.len() > 1);
    match format {
        Format::Text => print!("{}", scan::to_text(&results)),
        Format::Json if results.len() == 1 => println!("{}", results[0].to_json()),
        Format::Json => {
            for r in &results {
                println!("{}", r.to_json());
            }
        }
        Format::Sarif => println!("{}", scan::to_sarif(&results)),
    }
    let fail_on = match fail_on {
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
    };
    ExitCode::from(scan::exit_code(&results, fail_on))
}

fn explain(path: &PathBuf, json: bool) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("corsica explain: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match corsica_doctor::har::explain(&text) {
        Ok(explanation) => {
            if json {
                println!("{}", explanation.to_json());
            } else {
                print!("{}", explanation.to_text(color()));
            }
            ExitCode::from(explanation.exit_code())
        }
        Err(e) => {
            eprintln!("corsica explain: {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

fn lint(path: &PathBuf) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("corsica lint: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match Config::parse(&text, &path.display().to_string()) {
        Ok(c) => {
            println!(
                "{}: ok ({} route(s), listen {})",
                path.display(),
                c.routes().len(),
                c.listen()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(1)
        }
    }
}

fn serve(path: Option<PathBuf>, listen: Option<SocketAddr>, admin: Option<SocketAddr>) -> ExitCode {
    let mut config = match &path {
        None => Config::embedded(),
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => match Config::parse(&text, &p.display().to_string()) {
                Ok(c) => c,
                Err(errors) => {
                    eprintln!("{errors}");
                    return ExitCode::from(1);
                }
            },
            Err(e) => {
                eprintln!("corsica serve: cannot read {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
    };
    if let Some(l) = listen {
        config.set_listen(l);
    }
    if admin.is_some() {
        config.set_admin(admin);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("corsica serve: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let embedded = path.is_none();
        let routes: Vec<String> = config
            .routes()
            .iter()
            .map(|r| {
                format!(
                    "  {} {}{} -> {}",
                    r.name(),
                    r.host().unwrap_or("*"),
                    r.path().unwrap_or("/"),
                    match r.upstream().target() {
                        None => "echo".to_owned(),
                        Some((scheme, authority)) => format!("{scheme}://{authority}"),
                    }
                )
            })
            .collect();
        let running = match corsica_gateway::gateway::start(config, path).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("corsica serve: cannot listen: {e}");
                return ExitCode::from(2);
            }
        };
        let scheme = if running.config().tls().is_some() { "https" } else { "http" };
        println!("corsica gateway listening on {scheme}://{}", running.addr);
        if let Some(a) = running.admin_addr {
            println!("metrics on http://{a}/metrics, health on http://{a}/healthz");
        }
        println!("routes:\n{}", routes.join("\n"));
        if embedded {
            println!(
                "embedded default: upstream is the built-in echo; origins http://localhost:*, http://127.0.0.1:* and http://[::1]:* are allowed with credentials."
            );
            println!("try it from a page on http://localhost:3000 (paste into its DevTools console):");
            println!(
                "  fetch('http://{}/hello', {{method: 'POST', credentials: 'include', headers: {{'Content-Type': 'application/json'}}, body: '{{\"hi\":1}}'}}).then(r => r.json()).then(console.log)",
                running.addr
            );
            println!("or with curl: curl -i http://{}/hello -H 'Origin: http://localhost:3000'", running.addr);
        }
        match running.run_until_signal().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("corsica serve: {e}");
                ExitCode::from(2)
            }
        }
    })
}
