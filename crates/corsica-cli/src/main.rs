//! `corsica`: the command-line face of Corsica.
//!
//! Today it reports its version and help; the gateway (`serve`, `lint`) and the doctor
//! (`check`, `scan`, `explain`) are added as their crates land (see the README's roadmap).

use clap::Parser;

/// CORS made correct, fast and explainable.
#[derive(Debug, Parser)]
#[command(
    name = "corsica",
    version,
    about = "CORS made correct, fast and explainable",
    long_about = "Corsica makes CORS (Cross-Origin Resource Sharing) correct, fast and explainable.\n\n\
        The engine (the `corsica` crate) decides requests and refuses insecure policies; its \
        tower layer protects axum, hyper and tonic services.",
    after_help = "Subcommands on the roadmap: serve (gateway), lint, check, scan, explain. \
        See README.md."
)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    // No subcommand yet: show what there is.
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Printing help to stdout can only fail if stdout is closed; nothing to do then.
    let _ = cmd.print_help();
    println!();
    println!("engine: corsica {}", env!("CARGO_PKG_VERSION"));
    let _ = corsica::Policy::builder;
}
