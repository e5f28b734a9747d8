//! The demonstration: the same ten-layer network trained twice on a built-in synthetic task
//! (no download), once with sigmoid activations and Glorot initialisation (the gradient
//! vanishes) and once with ReLU and He initialisation (it does not). Both runs are recorded
//! through a `Recorder`, diagnosed side by side, and — with the `plot` feature — plotted.
//!
//! Run with `cargo run --release --features plot --example quickstart -- [DIRECTORY]`
//! (the plots go to `DIRECTORY/sigmoid` and `DIRECTORY/relu`, default `target/quickstart`).
//! The README's two pictures come from this program.

use vanishing_gradient::diagnose::Diagnosis;
use vanishing_gradient::history::Recorder;
use vanishing_gradient::init::seeded_rng;
use vanishing_gradient::prelude::*;

const INPUTS: usize = 32;
const WIDTH: usize = 32;
const HIDDEN_LAYERS: usize = 10;
const EPOCHS: usize = 30;

struct Run {
    name: &'static str,
    title: &'static str,
    recorder: Recorder,
    diagnosis: Diagnosis,
}

fn train(name: &'static str, title: &'static str, relu: bool) -> Result<Run> {
    let data = Dataset::<f32>::teacher_regression(1024, INPUTS, 4, 7)?;
    let mut builder = NetworkBuilder::<f32>::new(INPUTS).seed(1);
    for _ in 0..HIDDEN_LAYERS {
        builder = if relu {
            builder.dense_with_init(WIDTH, Relu, Init::he_normal())
        } else {
            builder.dense_with_init(WIDTH, Sigmoid, Init::glorot_uniform())
        };
    }
    let mut net = builder.dense(4, Identity).loss(Mse).build()?;
    let mut sgd = Sgd::new(0.05)?;
    let mut rng = seeded_rng(2);
    let mut recorder = Recorder::new();
    for _ in 0..EPOCHS {
        let summary = net.train_epoch(&data, 32, &mut sgd, &mut rng)?;
        net.record_epoch(&mut recorder, &summary, None)?;
    }
    let diagnosis = vanishing_gradient::diagnose(recorder.history())?;
    Ok(Run {
        name,
        title,
        recorder,
        diagnosis,
    })
}

/// One row of the side-by-side table: a label and a value per run.
fn row(label: &str, runs: &[Run], value: impl Fn(&Run) -> String) {
    print!("{label:<34}");
    for run in runs {
        print!("{:>28}", value(run));
    }
    println!();
}

fn main() -> Result<()> {
    let runs = [
        train("sigmoid", "10 x sigmoid, Glorot", false)?,
        train("relu", "10 x ReLU, He", true)?,
    ];
    println!("Ten hidden layers of 32 units, SGD 0.05, {EPOCHS} epochs of a synthetic regression task.\n");
    row("", &runs, |r| r.title.to_string());
    row("diagnosis", &runs, |r| {
        format!("{:?} ({:.2})", r.diagnosis.problem, r.diagnosis.confidence)
    });
    row("loss, first -> last epoch", &runs, |r| {
        let losses = r.recorder.history().losses();
        format!(
            "{:.3} -> {:.3}",
            losses.first().copied().unwrap_or(f64::NAN),
            losses.last().copied().unwrap_or(f64::NAN)
        )
    });
    row("gradient RMS, first / last layer", &runs, |r| {
        r.diagnosis
            .gradients
            .recent
            .last()
            .and_then(|p| p.first_to_last_ratio)
            .map_or("-".into(), |v| format!("{v:.1e}"))
    });
    row("weight update, first layer", &runs, |r| {
        r.diagnosis
            .constancy
            .layers
            .first()
            .and_then(|l| l.median_relative_update)
            .map_or("-".into(), |v| format!("{v:.1e}"))
    });
    for run in &runs {
        println!("\n=== {} ===\n{}", run.title, run.diagnosis);
    }

    #[cfg(feature = "plot")]
    {
        let directory = std::env::args_os().nth(1).map_or_else(
            || std::path::PathBuf::from("target/quickstart"),
            std::path::PathBuf::from,
        );
        for run in &runs {
            let written = vanishing_gradient::plot::write_all(
                run.recorder.history(),
                directory.join(run.name),
            )?;
            for file in written {
                println!("wrote {}", file.display());
            }
        }
    }
    #[cfg(not(feature = "plot"))]
    println!("\n(run with --features plot to also get the SVG plots)");
    Ok(())
}
