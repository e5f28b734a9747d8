//! Loads a history file in the versioned JSON format (see `docs/history-format.md`), as the
//! Python writers in `python/` produce it, and prints the gradient detector's verdict.
//!
//! Run with `cargo run --features serde --example load_history -- PATH`.
//!
//! The first line of the output is machine-readable: `verdict: vanishing`, `verdict: exploding`
//! or `verdict: healthy` (no vanishing or exploding finding), or `verdict: no-gradients` when
//! the file holds no gradient statistics.

use vanishing_gradient::detect::gradients::{analyze_gradients, GradientConfig};
use vanishing_gradient::history::TrainingHistory;
use vanishing_gradient::{Error, Result};

fn main() -> Result<()> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or_else(|| Error::InvalidArgument {
            name: "PATH",
            reason: "usage: load_history PATH (a history JSON file)".into(),
        })?;
    let file = std::fs::File::open(&path).map_err(|e| Error::InvalidArgument {
        name: "PATH",
        reason: format!("cannot open {}: {e}", path.to_string_lossy()),
    })?;
    let history = TrainingHistory::from_json_reader(std::io::BufReader::new(file))?;
    let has_gradients = history
        .epochs()
        .iter()
        .any(|epoch| epoch.layers.iter().any(|layer| layer.gradient.is_some()));
    if !has_gradients {
        println!("verdict: no-gradients");
        println!(
            "{} epochs, layers {:?}",
            history.len(),
            history.layer_names()
        );
        return Ok(());
    }
    let analysis = analyze_gradients(&history, &GradientConfig::default())?;
    let verdict = if analysis.vanishing.is_some() {
        "vanishing"
    } else if !analysis.exploding.is_empty() {
        "exploding"
    } else {
        "healthy"
    };
    println!("verdict: {verdict}");
    println!(
        "{} epochs, layers {:?}",
        history.len(),
        history.layer_names()
    );
    if let Some(ratio) = analysis.median_first_to_last_ratio {
        println!("median first/last gradient RMS ratio: {ratio:.3e}");
    }
    if let Some(decay) = analysis.median_decay_factor {
        println!("median decay factor per layer: {decay:.3}");
    }
    if let Some(finding) = &analysis.vanishing {
        println!("vanishing: {finding:?}");
    }
    for finding in &analysis.exploding {
        println!("exploding: {finding:?}");
    }
    if let Some(last) = history.epochs().last() {
        let updates: Vec<String> = last
            .layers
            .iter()
            .map(|l| l.relative_update.map_or("-".into(), |u| format!("{u:.1e}")))
            .collect();
        println!("relative update in the last epoch: {}", updates.join(" "));
    }
    Ok(())
}
