//! Whole-network gradient check: every parameter's backpropagated gradient against a central
//! finite difference of the loss, on random small f64 networks, for every activation and loss.

use nalgebra::DMatrix;
use proptest::prelude::*;
use rand::Rng;
use vanishing_gradient::activation::all_builtin;
use vanishing_gradient::init::seeded_rng;
use vanishing_gradient::loss::{BinaryCrossEntropy, SoftmaxCrossEntropy};
use vanishing_gradient::prelude::*;

/// Relative error with a floor: near-zero gradients are compared absolutely (to 1e-9).
fn relative_error(analytic: f64, numeric: f64) -> f64 {
    (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-3)
}

fn random_batch(
    rows: usize,
    cols: usize,
    seed: u64,
    kind: usize,
) -> (DMatrix<f64>, DMatrix<f64>, DMatrix<f64>) {
    let mut rng = seeded_rng(seed);
    let x = DMatrix::from_fn(rows, 3, |_, _| rng.random_range(-1.5..1.5));
    let target = match kind {
        // MSE: any real target.
        0 => DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0)),
        // BCE: probabilities.
        1 => DMatrix::from_fn(rows, cols, |_, _| rng.random_range(0.0..1.0)),
        // Softmax CE: one-hot rows.
        _ => {
            let labels: Vec<usize> = (0..rows).map(|_| rng.random_range(0..cols)).collect();
            DMatrix::from_fn(rows, cols, |r, c| if labels[r] == c { 1.0 } else { 0.0 })
        }
    };
    (x, target, DMatrix::zeros(0, 0))
}

fn build(
    activation: usize,
    loss: usize,
    hidden: (usize, usize),
    outputs: usize,
    seed: u64,
) -> Network<f64> {
    let acts = all_builtin::<f64>();
    let acts2 = all_builtin::<f64>();
    let builder = NetworkBuilder::<f64>::new(3)
        .dense_boxed(
            hidden.0,
            acts.into_iter().nth(activation).unwrap(),
            Some(Init::Normal { std: 0.8 }),
        )
        .bias_init(Init::Uniform {
            low: -0.5,
            high: 0.5,
        })
        .dense_boxed(
            hidden.1,
            acts2.into_iter().nth(activation).unwrap(),
            Some(Init::Normal { std: 0.8 }),
        )
        .bias_init(Init::Uniform {
            low: -0.5,
            high: 0.5,
        })
        .dense_with_init(outputs, Identity, Init::Normal { std: 0.8 })
        .seed(seed);
    match loss {
        0 => builder.loss(Mse),
        1 => builder.loss(BinaryCrossEntropy),
        _ => builder.loss(SoftmaxCrossEntropy),
    }
    .build()
    .unwrap()
}

/// The largest relative error over every parameter of every layer.
fn worst_relative_error(
    net: &mut Network<f64>,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
) -> (f64, String) {
    net.backward(x, y).unwrap();
    let analytic: Vec<Vec<Vec<f64>>> = net
        .layers()
        .iter()
        .map(|l| l.parameters().iter().map(|p| p.grad.to_vec()).collect())
        .collect();
    let mut worst = (0.0, String::new());
    for (l, layer_grads) in analytic.iter().enumerate() {
        for (p, grads) in layer_grads.iter().enumerate() {
            for (i, &g) in grads.iter().enumerate() {
                let original = param_value(net, l, p, i);
                let h = 1e-5 * original.abs().max(1.0);
                set_param(net, l, p, i, original + h);
                let plus = net.loss_on(x, y).unwrap();
                set_param(net, l, p, i, original - h);
                let minus = net.loss_on(x, y).unwrap();
                set_param(net, l, p, i, original);
                let numeric = (plus - minus) / (2.0 * h);
                let e = relative_error(g, numeric);
                if e > worst.0 {
                    worst = (
                        e,
                        format!(
                            "layer {l} param {p} index {i}: analytic {g:e}, numeric {numeric:e}"
                        ),
                    );
                }
            }
        }
    }
    worst
}

fn param_value(net: &Network<f64>, layer: usize, param: usize, index: usize) -> f64 {
    net.layers()[layer].parameters()[param].value[index]
}

fn set_param(net: &mut Network<f64>, layer: usize, param: usize, index: usize, value: f64) {
    // Only through the public API: the network's layers are reachable mutably by a visitor.
    let mut seen = 0;
    net.visit_layer_parameters_mut(layer, &mut |p| {
        if seen == param {
            p.value[index] = value;
        }
        seen += 1;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn backprop_matches_finite_differences(
        seed in any::<u64>(),
        rows in 1usize..7,
        hidden in (1usize..6, 1usize..6),
        outputs in 1usize..5,
    ) {
        for activation in 0..all_builtin::<f64>().len() {
            for loss in 0..3 {
                let mut net = build(activation, loss, hidden, outputs, seed);
                let (x, y, _) = random_batch(rows, outputs, seed ^ 0x5eed, loss);
                let (worst, at) = worst_relative_error(&mut net, &x, &y);
                let name = net.layers()[0].activation_name();
                prop_assert!(
                    worst < 1e-6,
                    "{name} with loss {}: relative error {worst:e} at {at}",
                    net.loss_function().name()
                );
            }
        }
    }
}

#[test]
fn the_check_detects_a_wrong_gradient() {
    // The same machinery must fail when the gradient is wrong: perturb the loss function
    // between the analytic and the numeric evaluation by comparing against a doubled gradient.
    let mut net = build(0, 0, (4, 3), 2, 1);
    let (x, y, _) = random_batch(5, 2, 2, 0);
    net.backward(&x, &y).unwrap();
    let g = net.layers()[0].parameters()[0].grad[0];
    let original = param_value(&net, 0, 0, 0);
    let h = 1e-5;
    set_param(&mut net, 0, 0, 0, original + h);
    let plus = net.loss_on(&x, &y).unwrap();
    set_param(&mut net, 0, 0, 0, original - h);
    let minus = net.loss_on(&x, &y).unwrap();
    let numeric = (plus - minus) / (2.0 * h);
    assert!(relative_error(g, numeric) < 1e-6);
    assert!(relative_error(2.0 * g, numeric) > 0.1);
}
