//! Generative test of the backprop core: arbitrary architectures, shapes and values through the
//! builder, forward, backward and step. The property: a typed error or a result, never a
//! panic; non-finite input is always an error naming it; a finite run's report is consistent.

use nalgebra::DMatrix;
use proptest::prelude::*;
use vanishing_gradient::activation::all_builtin;
use vanishing_gradient::loss::{BinaryCrossEntropy, SoftmaxCrossEntropy};
use vanishing_gradient::optim::{Momentum, RmsProp};
use vanishing_gradient::prelude::*;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -3.0..3.0f64,
        1 => prop::sample::select(vec![0.0, -0.0, 1e300, -1e300, 1e-310, f64::MIN_POSITIVE, 1e30, -1e30]),
        1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    input_width: usize,
    widths: Vec<(usize, usize)>,
    loss: usize,
    init_std: f64,
    rows: usize,
    x_cols: usize,
    y_cols_delta: i8,
    values: Vec<f64>,
    optimizer: usize,
    clip: Option<f64>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0usize..5,
        prop::collection::vec((0usize..6, 0usize..10), 0..5),
        0usize..3,
        prop::sample::select(vec![0.0, 1e-3, 0.5, 3.0, 1e30]),
        0usize..6,
        prop::bool::weighted(0.85),
        prop::sample::select(vec![0i8, 0, 0, 1, -1]),
        prop::collection::vec(value(), 64),
        0usize..4,
        prop::option::of(prop::sample::select(vec![1e-3, 1.0, 1e6])),
    )
        .prop_map(
            |(
                input_width,
                widths,
                loss,
                init_std,
                rows,
                same_width,
                y_cols_delta,
                values,
                optimizer,
                clip,
            )| Case {
                input_width,
                x_cols: if same_width {
                    input_width
                } else {
                    input_width + 1
                },
                widths,
                loss,
                init_std,
                rows,
                y_cols_delta,
                values,
                optimizer,
                clip,
            },
        )
}

fn fill(rows: usize, cols: usize, values: &[f64], offset: usize) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |r, c| {
        values[(offset + r * 7 + c * 3) % values.len()]
    })
}

fn optimizer(index: usize) -> Box<dyn Optimizer<f64>> {
    match index {
        0 => Box::new(Sgd::new(0.1).unwrap()),
        1 => Box::new(Momentum::<f64>::new(0.1, 0.9).unwrap().with_nesterov(true)),
        2 => Box::new(RmsProp::<f64>::new(0.01).unwrap()),
        _ => Box::new(Adam::<f64>::new(0.01).unwrap()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn core_never_panics(case in case()) {
        let mut builder = NetworkBuilder::<f64>::new(case.input_width).seed(case.rows as u64);
        for &(units, activation) in &case.widths {
            let act = all_builtin::<f64>().into_iter().nth(activation).unwrap();
            builder = builder.dense_boxed(units, act, Some(Init::Normal { std: case.init_std }));
        }
        if let Some(c) = case.clip {
            builder = builder.clip_gradient_norm(c);
        }
        builder = match case.loss {
            0 => builder.loss(Mse),
            1 => builder.loss(BinaryCrossEntropy),
            _ => builder.loss(SoftmaxCrossEntropy),
        };
        let valid_architecture = case.input_width > 0 && !case.widths.is_empty() && case.widths.iter().all(|w| w.0 > 0);
        let mut net = match builder.build() {
            Ok(net) => {
                prop_assert!(valid_architecture);
                net
            }
            Err(e) => {
                prop_assert!(!valid_architecture, "valid architecture rejected: {e}");
                prop_assert!(matches!(e, Error::ZeroWidth { .. } | Error::InvalidState(_)), "{e:?}");
                return Ok(());
            }
        };
        let out = net.output_width();
        let y_cols = (out as i64 + case.y_cols_delta as i64).max(0) as usize;
        let x = fill(case.rows, case.x_cols, &case.values, 0);
        let y = fill(case.rows, y_cols, &case.values, 5);
        let input_ok = case.rows > 0 && case.x_cols == case.input_width;
        let target_ok = y_cols == out;
        let finite = x.iter().chain(y.iter()).all(|v| v.is_finite());
        match net.backward(&x, &y) {
            Ok(report) => {
                prop_assert!(input_ok && target_ok && finite);
                prop_assert_eq!(report.layers.len(), case.widths.len());
                prop_assert_eq!(report.batch_size, case.rows);
                for layer in &report.layers {
                    prop_assert!((0.0..=1.0).contains(&layer.dead_share));
                    prop_assert!((0.0..=1.0).contains(&layer.saturated_share));
                }
            }
            Err(e) => {
                prop_assert!(!(input_ok && target_ok && finite), "good input rejected: {e}");
                if input_ok && target_ok {
                    prop_assert!(matches!(e, Error::NonFinite { .. }), "{e:?}");
                } else {
                    let allowed = matches!(e, Error::ShapeMismatch { .. } | Error::EmptyBatch { .. })
                        || (!finite && matches!(e, Error::NonFinite { .. }));
                    prop_assert!(allowed, "{e:?}");
                }
                prop_assert!(net.step(optimizer(case.optimizer).as_mut()).is_err());
                return Ok(());
            }
        }
        let mut opt = optimizer(case.optimizer);
        let report = net.step(opt.as_mut()).unwrap();
        for layer in &report.layers {
            if let Some(u) = layer.update_ratio {
                prop_assert!(u >= 0.0 || u.is_nan());
            }
        }
        // Forward still works after a step, even if the weights went non-finite.
        let _ = net.forward(&x);
    }
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Error>();
    send_sync::<GradientReport>();
    send_sync::<Dataset<f32>>();
    send_sync::<Init>();
    send_sync::<EpochSummary>();
    send_sync::<vanishing_gradient::history::TrainingHistory>();
    send_sync::<vanishing_gradient::history::Recorder>();
    send::<Network<f64>>();
    send::<Adam<f32>>();
}
