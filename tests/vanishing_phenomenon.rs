//! The phenomenon the crate is about, reproduced by its own core: through ten sigmoid layers the
//! gradient that reaches the first layer is orders of magnitude smaller than the one at the
//! top, while the same depth with ReLU and He initialisation keeps it within a factor of ten.
//!
//! Measured over several seeds (the figures are printed with `--nocapture` and recorded in
//! docs/vanishing-phenomenon.md).

use vanishing_gradient::init::seeded_rng;
use vanishing_gradient::prelude::*;

const HIDDEN_LAYERS: usize = 10;
const WIDTH: usize = 32;
const SEEDS: [u64; 5] = [0, 1, 2, 3, 4];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Family {
    SigmoidGlorot,
    SigmoidSmallNormal,
    ReluHe,
}

fn build(family: Family, seed: u64) -> Network<f64> {
    let mut builder = NetworkBuilder::<f64>::new(WIDTH).seed(seed);
    for _ in 0..HIDDEN_LAYERS {
        builder = match family {
            Family::SigmoidGlorot => {
                builder.dense_with_init(WIDTH, Sigmoid, Init::glorot_uniform())
            }
            Family::SigmoidSmallNormal => {
                builder.dense_with_init(WIDTH, Sigmoid, Init::Normal { std: 0.1 })
            }
            Family::ReluHe => builder.dense_with_init(WIDTH, Relu, Init::he_normal()),
        };
    }
    builder.dense(4, Identity).loss(Mse).build().unwrap()
}

/// (first / last hidden layer, first / output layer) weight-gradient RMS ratios, at
/// initialisation and averaged over the fifth epoch of SGD.
fn ratios(family: Family, seed: u64) -> [(f64, f64); 2] {
    let data = Dataset::<f64>::teacher_regression(512, WIDTH, 4, 100 + seed).unwrap();
    let mut net = build(family, seed);
    let x = data.inputs().rows(0, 128).clone_owned();
    let y = data.targets().rows(0, 128).clone_owned();
    let at_init = pair(net.backward(&x, &y).unwrap());
    let mut sgd = Sgd::new(0.05).unwrap();
    let mut rng = seeded_rng(seed);
    let mut summary = None;
    for _ in 0..5 {
        summary = Some(net.train_epoch(&data, 32, &mut sgd, &mut rng).unwrap());
    }
    let trained = pair(&summary.unwrap().report);
    [at_init, trained]
}

fn pair(report: &GradientReport) -> (f64, f64) {
    let rms: Vec<f64> = report.layers.iter().map(|l| l.weight_grad_rms).collect();
    let first = rms[0];
    (first / rms[HIDDEN_LAYERS - 1], first / rms[HIDDEN_LAYERS])
}

#[test]
fn sigmoid_stack_starves_the_first_layer_relu_he_does_not() {
    for seed in SEEDS {
        for family in [Family::SigmoidGlorot, Family::SigmoidSmallNormal] {
            for (stage, (hidden, output)) in ["init", "epoch 5"].iter().zip(ratios(family, seed)) {
                println!("{family:?} seed {seed} {stage}: first/last hidden {hidden:.3e}, first/output {output:.3e}");
                assert!(hidden <= 1e-2, "{family:?} seed {seed} {stage}: first/last hidden RMS {hidden:e} is not 100x below");
                assert!(
                    output <= 1e-2,
                    "{family:?} seed {seed} {stage}: first/output RMS {output:e} is not 100x below"
                );
            }
        }
        for (stage, (hidden, output)) in
            ["init", "epoch 5"].iter().zip(ratios(Family::ReluHe, seed))
        {
            println!("ReluHe seed {seed} {stage}: first/last hidden {hidden:.3e}, first/output {output:.3e}");
            assert!(
                (0.1..=10.0).contains(&hidden),
                "ReLU + He seed {seed} {stage}: first/last hidden RMS {hidden:e} is not within 10x"
            );
            // The output layer's gradient carries the loss's own factor (DESIGN.md), so against
            // it the ratio is looser; it must still be far from the sigmoid's.
            assert!(
                output >= 1e-2,
                "ReLU + He seed {seed} {stage}: first/output RMS {output:e}"
            );
        }
    }
}
