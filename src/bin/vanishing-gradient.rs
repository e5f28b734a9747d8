//! `vanishing-gradient`: diagnose a training history from the command line.
//!
//! ```text
//! vanishing-gradient diagnose history.json            # the report, for people
//! vanishing-gradient diagnose history.json --json     # the Diagnosis as JSON, for programs
//! vanishing-gradient diagnose history.json --plots out/   # and the SVG plots
//! ```
//!
//! Exit codes: 0 when no problem is found (healthy, converged, or too little data to say),
//! 3 when a problem is found (so a training pipeline can stop on it), 1 when the history cannot
//! be read, 2 for a usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vanishing_gradient::history::TrainingHistory;
use vanishing_gradient::{diagnose, Diagnosis};

/// Exit code when the diagnosis names a problem.
const EXIT_PROBLEM: u8 = 3;
/// Exit code when the history cannot be read or diagnosed.
const EXIT_ERROR: u8 = 1;

#[derive(Parser)]
#[command(
    name = "vanishing-gradient",
    version,
    about = "Tells whether a stalled training run suffers from a vanishing or exploding gradient, and what to change."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Diagnose a history file (the JSON format of docs/history-format.md).
    ///
    /// Exit code 0: no problem found; 3: a problem was found; 1: the file could not be read.
    Diagnose {
        /// The history file, or `-` for standard input.
        history: PathBuf,
        /// Print the diagnosis as JSON instead of the report.
        #[arg(long)]
        json: bool,
        /// Also write the SVG plots into this folder (created if missing).
        #[arg(long, value_name = "DIR")]
        plots: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Diagnose {
            history,
            json,
            plots,
        } => match run(&history, json, plots.as_deref()) {
            Ok(diagnosis) if diagnosis.has_problem() => ExitCode::from(EXIT_PROBLEM),
            Ok(_) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("vanishing-gradient: {message}");
                ExitCode::from(EXIT_ERROR)
            }
        },
    }
}

fn run(
    path: &std::path::Path,
    json: bool,
    plots: Option<&std::path::Path>,
) -> Result<Diagnosis, String> {
    let history = read_history(path)?;
    let diagnosis = diagnose(&history).map_err(|e| e.to_string())?;
    if json {
        let text = serde_json::to_string_pretty(&diagnosis)
            .map_err(|e| format!("cannot write JSON: {e}"))?;
        println!("{text}");
    } else {
        println!("{diagnosis}");
    }
    if let Some(dir) = plots {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let written =
            vanishing_gradient::plot::write_all(&history, dir).map_err(|e| e.to_string())?;
        for file in written {
            eprintln!("wrote {}", file.display());
        }
    }
    Ok(diagnosis)
}

fn read_history(path: &std::path::Path) -> Result<TrainingHistory, String> {
    let loaded = if path.as_os_str() == "-" {
        TrainingHistory::from_json_reader(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        TrainingHistory::from_json_reader(std::io::BufReader::new(file))
    };
    loaded.map_err(|e| format!("{}: {e}", path.display()))
}
