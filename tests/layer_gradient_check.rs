//! Every built-in activation in a `Dense` layer passes the test kit's layer gradient check,
//! and the check catches a layer whose backward pass is wrong.
#![cfg(feature = "testing")]

use nalgebra::DMatrix;
use proptest::prelude::*;
use vanishing_gradient::activation::{all_builtin, Tanh};
use vanishing_gradient::init::{seeded_rng, Init};
use vanishing_gradient::layer::{BackwardStats, Dense, Layer, ParameterMut, ParameterView};
use vanishing_gradient::testing::{batch_matrix_f64, check_layer_gradients, LayerGradientError};
use vanishing_gradient::Result;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn dense_layers_pass_the_kit(input in batch_matrix_f64(1..6, 1..5), units in 1usize..5, seed in any::<u64>()) {
        for activation in all_builtin::<f64>() {
            let name = activation.name();
            let mut rng = seeded_rng(seed);
            let mut layer = Dense::new("d", input.ncols(), units, activation, &Init::Normal { std: 0.7 }, &Init::Uniform { low: -0.3, high: 0.3 }, &mut rng).unwrap();
            // 1e-5: central differences with a step of 1e-5 carry truncation errors of about
            // 1e-6 relative for the smooth, curved activations (GELU).
            match check_layer_gradients(&mut layer, &input, 1e-5) {
                Ok(worst) => prop_assert!(worst <= 1e-5),
                // A pre-activation within the step of a kink makes the difference meaningless.
                Err(LayerGradientError::Mismatch(m)) if matches!(name, "relu" | "leaky_relu" | "elu" | "selu") => {
                    let near_kink = layer.output().iter().any(|y| y.abs() < 1e-4);
                    prop_assert!(near_kink, "{name}: {m}");
                }
                Err(e) => prop_assert!(false, "{name}: {e}"),
            }
        }
    }
}

/// A `Dense` whose weight gradient is 1% off.
#[derive(Debug)]
struct Wrong(Dense<f64>);

impl Layer<f64> for Wrong {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn activation_name(&self) -> &'static str {
        self.0.activation_name()
    }
    fn input_width(&self) -> usize {
        self.0.input_width()
    }
    fn output_width(&self) -> usize {
        self.0.output_width()
    }
    fn weight_count(&self) -> usize {
        self.0.weight_count()
    }
    fn forward(&mut self, input: &DMatrix<f64>) -> Result<&DMatrix<f64>> {
        self.0.forward(input)
    }
    fn output(&self) -> &DMatrix<f64> {
        self.0.output()
    }
    fn backward(
        &mut self,
        input: &DMatrix<f64>,
        output_grad: &mut DMatrix<f64>,
        input_grad: Option<&mut DMatrix<f64>>,
    ) -> Result<BackwardStats> {
        let stats = self.0.backward(input, output_grad, input_grad)?;
        self.0.visit_parameters_mut(&mut |p| {
            if p.name == "weights" {
                p.grad.iter_mut().for_each(|g| *g *= 1.01);
            }
        });
        Ok(stats)
    }
    fn parameters(&self) -> Vec<ParameterView<'_, f64>> {
        self.0.parameters()
    }
    fn visit_parameters_mut(&mut self, visit: &mut dyn FnMut(ParameterMut<'_, f64>)) {
        self.0.visit_parameters_mut(visit)
    }
}

#[test]
fn the_kit_catches_a_wrong_gradient() {
    let mut rng = seeded_rng(3);
    let dense = Dense::new(
        "d",
        3,
        2,
        Box::new(Tanh),
        &Init::glorot_normal(),
        &Init::Zeros,
        &mut rng,
    )
    .unwrap();
    let input = DMatrix::from_fn(4, 3, |r, c| (r as f64 - c as f64) * 0.3);
    match check_layer_gradients(&mut Wrong(dense), &input, 1e-6) {
        Err(LayerGradientError::Mismatch(m)) => {
            assert_eq!(m.parameter, "weights");
            assert!((m.relative_error - 0.01 / 1.01).abs() < 1e-4, "{m}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}
