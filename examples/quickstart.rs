//! The demonstration: the same ten-layer network trained twice on a built-in synthetic task,
//! once with sigmoid activations (the gradient vanishes) and once with ReLU and He
//! initialisation (it does not), with the per-layer evidence side by side.
//!
//! Run with `cargo run --release --example quickstart`.

use vanishing_gradient::history::Recorder;
use vanishing_gradient::init::seeded_rng;
use vanishing_gradient::prelude::*;

const INPUTS: usize = 32;
const WIDTH: usize = 32;
const HIDDEN_LAYERS: usize = 10;
const EPOCHS: usize = 30;

struct Run {
    title: &'static str,
    losses: Vec<f64>,
    last: EpochSummary,
    recorder: Recorder,
}

fn train(title: &'static str, relu: bool) -> Result<Run> {
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
    let mut losses = Vec::with_capacity(EPOCHS);
    let mut last = None;
    for _ in 0..EPOCHS {
        let summary = net.train_epoch(&data, 32, &mut sgd, &mut rng)?;
        net.record_epoch(&mut recorder, &summary, None)?;
        losses.push(summary.mean_loss);
        last = Some(summary);
    }
    let last = last.ok_or_else(|| Error::InvalidState("no epoch was trained".into()))?;
    Ok(Run {
        title,
        losses,
        last,
        recorder,
    })
}

fn main() -> Result<()> {
    let runs = [
        train("10 x sigmoid, Glorot init", false)?,
        train("10 x ReLU, He init", true)?,
    ];
    for run in &runs {
        let first = run.losses.first().copied().unwrap_or(f64::NAN);
        let last = run.losses.last().copied().unwrap_or(f64::NAN);
        println!("\n=== {} ===", run.title);
        println!(
            "loss: epoch 1 {first:.4} -> epoch {EPOCHS} {last:.4} ({:+.1}%)",
            100.0 * (last / first - 1.0)
        );
        let report = &run.last.report;
        if let Some(ratio) = report.first_to_last_rms_ratio() {
            println!("first / last layer gradient RMS: {ratio:.2e}");
        }
        println!("relative weight update in the last epoch, per layer (input side first):");
        let history = run.recorder.history();
        if let Some(epoch) = history.epochs().last() {
            let updates: Vec<String> = epoch
                .layers
                .iter()
                .map(|l| l.relative_update.map_or("-".into(), |u| format!("{u:.1e}")))
                .collect();
            println!("  {}", updates.join(" "));
        }
        println!("{report}");
    }
    Ok(())
}
