//! The one error type of the commands, and the one place that writes to stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use corsica_gateway::config::ConfigErrors;

/// Why a command stopped. Every command returns `Result<ExitCode, CliError>`; `main`
/// prints the error on stderr and exits with [`CliError::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Standard input could not be read.
    #[error("cannot read stdin: {0}")]
    Stdin(#[source] std::io::Error),
    /// A HAR file is not one.
    #[error("{}: {source}", path.display())]
    Har {
        path: PathBuf,
        #[source]
        source: corsica_doctor::har::HarError,
    },
    /// A `check` argument is wrong, or the HTTP client cannot be set up.
    #[error(transparent)]
    Doctor(#[from] corsica_doctor::DoctorError),
    /// A `--resolve` argument is wrong.
    #[error(transparent)]
    Resolve(#[from] corsica_doctor::live::ResolveError),
    /// An `--origin` of `scan` is not an origin.
    #[error("--origin: {0}")]
    Origin(#[from] corsica::OriginError),
    /// `--timeout` is not a positive number of seconds.
    #[error("--timeout must be a positive number of seconds")]
    Timeout,
    /// `scan` was given no URL.
    #[error("no URLs to scan")]
    NoUrls,
    /// A gateway configuration is refused: every problem, one `file:line:column: message`
    /// a line.
    #[error("{0}")]
    Config(ConfigErrors),
    /// The configuration built from `serve --upstream ...` flags is refused: every problem,
    /// one a line, without the position of the generated text.
    #[error("{}", .0.iter().map(|e| e.message()).collect::<Vec<_>>().join("\n"))]
    Flags(ConfigErrors),
    /// The async runtime cannot start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The gateway cannot bind its addresses (the message names the address).
    #[error("{0}")]
    Listen(#[source] std::io::Error),
    /// The gateway stopped with an error.
    #[error("{0}")]
    Serve(#[source] std::io::Error),
    /// `export`: what the target cannot express, every item at once.
    #[error("{0}")]
    Export(corsica_export::ExportErrors),
    /// `lint --target`: what the export would refuse, one `file:line:column: message` a
    /// line.
    #[error("{0}")]
    Located(String),
    /// `export -o`: a file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Standard output failed (other than being closed).
    #[error("cannot write the output: {0}")]
    Stdout(#[source] std::io::Error),
}

impl CliError {
    /// 1 for a refused configuration (as `lint` finding problems), 2 for usage, network
    /// and I/O errors (the README's exit codes).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Config(_)
            | CliError::Flags(_)
            | CliError::Export(_)
            | CliError::Located(_) => ExitCode::from(1),
            _ => ExitCode::from(2),
        }
    }

    /// Prints the error on stderr, prefixed with the command, except configuration
    /// problems, whose lines start with their `file:line:column` like a compiler's.
    pub fn report(&self, command: &str) -> ExitCode {
        let text = match self {
            CliError::Config(errors) => format!("{errors}\n"),
            CliError::Located(lines) => format!("{lines}\n"),
            CliError::Flags(errors) => errors
                .iter()
                .map(|e| format!("corsica {command}: {}\n", e.message()))
                .collect(),
            e => format!("corsica {command}: {e}\n"),
        };
        // Nothing more can be done if stderr is closed too.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
        self.exit_code()
    }
}

/// Writes `text` to stdout. A closed stdout (`corsica ... | head`) is not an error: the
/// rest of the output is dropped and the command ends with its usual exit code (Rust's
/// `print!` would panic and exit 101).
pub fn out(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(CliError::Stdout),
    }
}

/// Writes one JSON document and a newline to stdout (see [`out`]).
pub fn out_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let mut text =
        serde_json::to_string(value).map_err(|e| CliError::Stdout(std::io::Error::other(e)))?;
    text.push('\n');
    out(&text)
}
