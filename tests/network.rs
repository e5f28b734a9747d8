//! The network's contract: typed errors for bad input, training works in f32 and f64, the
//! report's statistics mean what they say, and runs are reproducible.

use nalgebra::{DMatrix, RealField};
use vanishing_gradient::init::seeded_rng;
use vanishing_gradient::loss::SoftmaxCrossEntropy;
use vanishing_gradient::optim::Momentum;
use vanishing_gradient::prelude::*;

fn small<T: RealField + Copy>() -> Network<T> {
    NetworkBuilder::<T>::new(4)
        .dense(8, Tanh)
        .dense(3, Identity)
        .loss(Mse)
        .seed(1)
        .build()
        .unwrap()
}

#[test]
fn bad_shapes_and_values_are_typed_errors() {
    let mut net = small::<f64>();
    let x = DMatrix::<f64>::zeros(5, 4);
    let y = DMatrix::<f64>::zeros(5, 3);
    assert!(matches!(
        net.backward(&DMatrix::zeros(5, 3), &y),
        Err(Error::ShapeMismatch {
            expected: (5, 4),
            found: (5, 3),
            ..
        })
    ));
    assert!(matches!(
        net.backward(&x, &DMatrix::zeros(5, 2)),
        Err(Error::ShapeMismatch {
            expected: (5, 3),
            found: (5, 2),
            ..
        })
    ));
    assert!(matches!(
        net.backward(&DMatrix::zeros(0, 4), &DMatrix::zeros(0, 3)),
        Err(Error::EmptyBatch { .. })
    ));
    assert!(matches!(
        net.forward(&DMatrix::zeros(0, 4)),
        Err(Error::EmptyBatch { .. })
    ));
    let mut bad = x.clone();
    bad[(2, 1)] = f64::NAN;
    match net.backward(&bad, &y) {
        Err(Error::NonFinite { index, .. }) => assert_eq!(index, 2 + 5),
        other => panic!("expected NonFinite, got {other:?}"),
    }
    let mut bad_target = y.clone();
    bad_target[(0, 0)] = f64::INFINITY;
    assert!(matches!(
        net.backward(&x, &bad_target),
        Err(Error::NonFinite { .. })
    ));
    let mut sgd = Sgd::new(0.1).unwrap();
    assert!(matches!(net.step(&mut sgd), Err(Error::InvalidState(_))));
    let message = net
        .backward(&DMatrix::zeros(5, 3), &y)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("network input")
            && message.contains("(5, 4)")
            && message.contains("(5, 3)"),
        "{message}"
    );
}

#[test]
fn bad_architectures_are_typed_errors() {
    assert!(matches!(
        NetworkBuilder::<f64>::new(0).dense(3, Relu).build(),
        Err(Error::ZeroWidth { .. })
    ));
    assert!(matches!(
        NetworkBuilder::<f64>::new(3).dense(0, Relu).build(),
        Err(Error::ZeroWidth { .. })
    ));
    assert!(matches!(
        NetworkBuilder::<f32>::new(3).build(),
        Err(Error::InvalidState(_))
    ));
    assert!(matches!(
        NetworkBuilder::<f64>::new(3)
            .dense(2, Relu)
            .name("a")
            .dense(2, Relu)
            .name("a")
            .build(),
        Err(Error::InvalidArgument {
            name: "layer name",
            ..
        })
    ));
    assert!(matches!(
        NetworkBuilder::<f64>::new(3)
            .dense(2, Relu)
            .clip_gradient_norm(f64::NAN)
            .build(),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        NetworkBuilder::<f64>::new(3)
            .dense_with_init(2, Relu, Init::Normal { std: -1.0 })
            .build(),
        Err(Error::InvalidArgument { .. })
    ));
    let mut rng = seeded_rng(0);
    let layer = Dense::<f64>::new(
        "x",
        5,
        2,
        Box::new(Relu),
        &Init::he_normal(),
        &Init::Zeros,
        &mut rng,
    )
    .unwrap();
    assert!(matches!(
        NetworkBuilder::<f64>::new(3).layer(Box::new(layer)).build(),
        Err(Error::ShapeMismatch {
            expected: (1, 3),
            found: (1, 5),
            ..
        })
    ));
}

#[test]
fn epoch_loop_rejects_bad_arguments() {
    let mut net = small::<f64>();
    let data = Dataset::<f64>::teacher_regression(20, 4, 3, 0).unwrap();
    let other = Dataset::<f64>::teacher_regression(20, 5, 3, 0).unwrap();
    let mut sgd = Sgd::new(0.1).unwrap();
    let mut rng = seeded_rng(0);
    assert!(matches!(
        net.train_epoch(&data, 0, &mut sgd, &mut rng),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        net.train_epoch(&other, 4, &mut sgd, &mut rng),
        Err(Error::ShapeMismatch { .. })
    ));
    // A batch larger than the dataset is the whole dataset.
    let summary = net.train_epoch(&data, 1000, &mut sgd, &mut rng).unwrap();
    assert_eq!((summary.batches, summary.report.batch_size), (1, 20));
    // 20 rows in batches of 6: three full batches, the partial one skipped.
    assert_eq!(
        net.train_epoch(&data, 6, &mut sgd, &mut rng)
            .unwrap()
            .batches,
        3
    );
}

fn trains<T: RealField + Copy>() {
    let data = Dataset::<T>::gaussian_blobs(300, 6, 3, 9).unwrap();
    let mut net = NetworkBuilder::<T>::new(6)
        .dense(16, Relu)
        .dense(3, Identity)
        .loss(SoftmaxCrossEntropy)
        .seed(3)
        .build()
        .unwrap();
    let mut optimizer = Momentum::<T>::new(0.05, 0.9).unwrap();
    let mut rng = seeded_rng(4);
    let before = net.evaluate(&data, 64).unwrap();
    for _ in 0..30 {
        net.train_epoch(&data, 30, &mut optimizer, &mut rng)
            .unwrap();
    }
    let after = net.evaluate(&data, 64).unwrap();
    assert!(after < 0.5 * before, "loss {before} -> {after}");
}

#[test]
fn training_reduces_the_loss_in_f32_and_f64() {
    trains::<f32>();
    trains::<f64>();
}

#[test]
fn report_statistics_mean_what_they_say() {
    // ReLU units with a bias of -50 never activate on standard-normal inputs: all dead.
    let mut dead = NetworkBuilder::<f64>::new(4)
        .dense(6, Relu)
        .bias_init(Init::Constant(-50.0))
        .dense(2, Identity)
        .build()
        .unwrap();
    let data = Dataset::<f64>::teacher_regression(64, 4, 2, 1).unwrap();
    let report = dead
        .backward(data.inputs(), data.targets())
        .unwrap()
        .clone();
    assert_eq!(report.layers[0].dead_share, 1.0);
    assert_eq!(report.layers[0].weight_grad_l2, 0.0);
    assert_eq!(report.layers[0].mean_derivative_ratio, 0.0);
    assert_eq!(report.layers[1].dead_share, 0.0, "identity never dies");
    assert_eq!(report.layers[1].mean_derivative_ratio, 1.0);

    // Huge weights saturate a sigmoid layer; small ones keep it near its maximum slope.
    for (std, saturated) in [(100.0, true), (1e-3, false)] {
        let mut net = NetworkBuilder::<f64>::new(4)
            .dense_with_init(8, Sigmoid, Init::Normal { std })
            .dense(2, Identity)
            .build()
            .unwrap();
        let layer = net.backward(data.inputs(), data.targets()).unwrap().layers[0].clone();
        if saturated {
            assert!(
                layer.saturated_share > 0.5 && layer.mean_derivative_ratio < 0.1,
                "{layer:?}"
            );
        } else {
            assert!(
                layer.saturated_share == 0.0 && layer.mean_derivative_ratio > 0.99,
                "{layer:?}"
            );
        }
    }

    // Statistics agree with the gradient itself.
    let mut net = small::<f64>();
    let x = data.inputs().rows(0, 10).clone_owned();
    net.backward(&x, &DMatrix::zeros(10, 3)).unwrap();
    let grads: Vec<f64> = net.layers()[0].parameters()[0].grad.to_vec();
    let l2 = grads.iter().map(|g| g * g).sum::<f64>().sqrt();
    let max = grads.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let layer = &net.report().layers[0];
    assert!((layer.weight_grad_l2 - l2).abs() <= 1e-12 * l2);
    assert!((layer.weight_grad_rms - l2 / (grads.len() as f64).sqrt()).abs() <= 1e-12 * l2);
    assert_eq!(layer.weight_grad_max_abs, max);
    assert!(layer.update_ratio.is_none());
}

#[test]
fn update_ratio_and_clipping() {
    let data = Dataset::<f64>::teacher_regression(32, 4, 3, 2).unwrap();
    let mut net = small::<f64>();
    let before: Vec<f64> = net.layers()[0].parameters()[0].value.to_vec();
    let mut sgd = Sgd::new(0.5).unwrap();
    let report = net
        .train_step(data.inputs(), data.targets(), &mut sgd)
        .unwrap()
        .clone();
    let after: Vec<f64> = net.layers()[0].parameters()[0].value.to_vec();
    let delta = before
        .iter()
        .zip(&after)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let norm = before.iter().map(|a| a * a).sum::<f64>().sqrt();
    let ratio = report.layers[0].update_ratio.unwrap();
    assert!(
        (ratio - delta / norm).abs() <= 1e-12 * ratio,
        "{ratio} vs {}",
        delta / norm
    );

    // With clipping at a tenth of the global norm, the SGD update shrinks tenfold.
    let global = report.global_grad_norm();
    let mut clipped = NetworkBuilder::<f64>::new(4)
        .dense(8, Tanh)
        .dense(3, Identity)
        .seed(1)
        .clip_gradient_norm(global / 10.0)
        .build()
        .unwrap();
    let mut sgd = Sgd::new(0.5).unwrap();
    let clipped_ratio = clipped
        .train_step(data.inputs(), data.targets(), &mut sgd)
        .unwrap()
        .layers[0]
        .update_ratio
        .unwrap();
    assert!(
        (clipped_ratio * 10.0 - ratio).abs() <= 1e-9 * ratio,
        "{clipped_ratio} vs {ratio}"
    );
}

#[test]
fn same_seed_same_bits() {
    let run = || {
        let data = Dataset::<f32>::teacher_regression(96, 4, 3, 5).unwrap();
        let mut net = small::<f32>();
        let mut adam = Adam::<f32>::new(0.01).unwrap();
        let mut rng = seeded_rng(11);
        let mut reports = Vec::new();
        for _ in 0..3 {
            reports.push(net.train_epoch(&data, 16, &mut adam, &mut rng).unwrap());
        }
        let weights: Vec<Vec<f32>> = net
            .layers()
            .iter()
            .map(|l| l.parameters()[0].value.to_vec())
            .collect();
        (weights, reports)
    };
    let (w1, r1) = run();
    let (w2, r2) = run();
    assert_eq!(w1, w2);
    assert_eq!(r1, r2);
    let other = NetworkBuilder::<f32>::new(4)
        .dense(8, Tanh)
        .dense(3, Identity)
        .seed(2)
        .build()
        .unwrap();
    assert_ne!(
        other.layers()[0].parameters()[0].value,
        small::<f32>().layers()[0].parameters()[0].value
    );
}
