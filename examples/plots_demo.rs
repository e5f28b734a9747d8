//! Trains the ten-layer sigmoid network of the quickstart (the gradient vanishes) and the same
//! network with ReLU and He initialisation (it does not), and writes every plot of both runs
//! as SVG.
//!
//! Run with `cargo run --release --features plot --example plots_demo -- [DIRECTORY]`
//! (default `target/plots`). The README's images in `docs/images/` come from this program.

use std::path::PathBuf;

use vanishing_gradient::history::Recorder;
use vanishing_gradient::init::seeded_rng;
use vanishing_gradient::plot;
use vanishing_gradient::prelude::*;

const INPUTS: usize = 32;
const WIDTH: usize = 32;
const HIDDEN_LAYERS: usize = 10;
const EPOCHS: usize = 30;

fn train(relu: bool) -> Result<Recorder> {
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
    Ok(recorder)
}

fn main() -> Result<()> {
    let directory = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/plots"), PathBuf::from);
    for (name, relu) in [("sigmoid", false), ("relu", true)] {
        let recorder = train(relu)?;
        let written = plot::write_all(recorder.history(), directory.join(name))?;
        for path in written {
            println!("{}", path.display());
        }
    }
    Ok(())
}
