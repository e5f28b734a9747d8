//! Tests of the loss functions: gradients against central finite differences, values against
//! independent hand formulas, stability at extreme logits, and typed shape errors.

use approx::assert_relative_eq;
use nalgebra::DMatrix;
use proptest::prelude::*;
use vanishing_gradient::loss::{one_hot, BinaryCrossEntropy, Loss, Mse, SoftmaxCrossEntropy};
use vanishing_gradient::Error;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Central finite difference of `loss` with respect to every element of `output`, in f64.
fn finite_difference_f64(
    loss: &dyn Loss<f64>,
    output: &DMatrix<f64>,
    target: &DMatrix<f64>,
    step: f64,
) -> DMatrix<f64> {
    let mut perturbed = output.clone();
    DMatrix::from_fn(output.nrows(), output.ncols(), |row, column| {
        let original = output[(row, column)];
        perturbed[(row, column)] = original + step;
        let plus = loss.loss(&perturbed, target).unwrap();
        perturbed[(row, column)] = original - step;
        let minus = loss.loss(&perturbed, target).unwrap();
        perturbed[(row, column)] = original;
        (plus - minus) / (2.0 * step)
    })
}

/// The same in f32 (a coarser step, since f32 has about 7 digits).
fn finite_difference_f32(
    loss: &dyn Loss<f32>,
    output: &DMatrix<f32>,
    target: &DMatrix<f32>,
    step: f32,
) -> DMatrix<f32> {
    let mut perturbed = output.clone();
    DMatrix::from_fn(output.nrows(), output.ncols(), |row, column| {
        let original = output[(row, column)];
        perturbed[(row, column)] = original + step;
        let plus = loss.loss(&perturbed, target).unwrap();
        perturbed[(row, column)] = original - step;
        let minus = loss.loss(&perturbed, target).unwrap();
        perturbed[(row, column)] = original;
        (plus - minus) / (2.0 * step)
    })
}

/// Checks the analytic gradient of `loss` against central differences in f64 (relative
/// tolerance 1e-6 with an absolute floor), and that both entry points give the same loss.
fn check_gradient_f64(
    loss: &dyn Loss<f64>,
    output: &DMatrix<f64>,
    target: &DMatrix<f64>,
) -> Result<(), TestCaseError> {
    let mut gradient = DMatrix::zeros(output.nrows(), output.ncols());
    let value = loss
        .loss_and_gradient(output, target, &mut gradient)
        .unwrap();
    let value_alone = loss.loss(output, target).unwrap();
    prop_assert!(
        (value - value_alone).abs() <= 1e-12 * value.abs().max(1.0),
        "loss_and_gradient {value} vs loss {value_alone}"
    );
    let numeric = finite_difference_f64(loss, output, target, 1e-5);
    for (index, (&analytic, &approximate)) in gradient.iter().zip(numeric.iter()).enumerate() {
        let tolerance = 1e-6 * analytic.abs().max(approximate.abs()) + 1e-8;
        prop_assert!(
            (analytic - approximate).abs() <= tolerance,
            "{}: element {index}: analytic {analytic}, finite difference {approximate}",
            loss.name()
        );
    }
    Ok(())
}

/// Checks the f32 gradient against f32 central differences (loose) and against the f64
/// analytic gradient on the same inputs (tight).
fn check_gradient_f32(
    loss32: &dyn Loss<f32>,
    loss64: &dyn Loss<f64>,
    output: &DMatrix<f32>,
    target: &DMatrix<f32>,
) -> Result<(), TestCaseError> {
    let mut gradient = DMatrix::zeros(output.nrows(), output.ncols());
    let value = loss32
        .loss_and_gradient(output, target, &mut gradient)
        .unwrap();
    let numeric = finite_difference_f32(loss32, output, target, 1e-2);
    for (index, (&analytic, &approximate)) in gradient.iter().zip(numeric.iter()).enumerate() {
        let tolerance = 1e-2 * analytic.abs().max(approximate.abs()) + 2e-3;
        prop_assert!(
            (analytic - approximate).abs() <= tolerance,
            "{}: f32 element {index}: analytic {analytic}, finite difference {approximate}",
            loss32.name()
        );
    }
    let output64 = output.map(f64::from);
    let target64 = target.map(f64::from);
    let mut gradient64 = DMatrix::zeros(output.nrows(), output.ncols());
    let value64 = loss64
        .loss_and_gradient(&output64, &target64, &mut gradient64)
        .unwrap();
    prop_assert!(
        (f64::from(value) - value64).abs() <= 1e-5 * value64.abs().max(1.0),
        "f32 loss {value} vs f64 loss {value64}"
    );
    for (&single, &double) in gradient.iter().zip(gradient64.iter()) {
        prop_assert!(
            (f64::from(single) - double).abs() <= 1e-5 * double.abs() + 1e-6,
            "f32 gradient {single} vs f64 gradient {double}"
        );
    }
    Ok(())
}

/// A matrix strategy with `rows x columns` in `1..6 x 1..6` and elements from `element`.
fn matrices(
    element: impl Strategy<Value = f64> + Clone,
) -> impl Strategy<Value = (DMatrix<f64>, DMatrix<f64>)> {
    (1usize..6, 1usize..6).prop_flat_map(move |(rows, columns)| {
        (
            prop::collection::vec(element.clone(), rows * columns),
            prop::collection::vec(element.clone(), rows * columns),
        )
            .prop_map(move |(a, b)| {
                (
                    DMatrix::from_vec(rows, columns, a),
                    DMatrix::from_vec(rows, columns, b),
                )
            })
    })
}

/// Logits and a target matrix whose elements come from `target_element`.
fn logits_and_targets(
    logit: impl Strategy<Value = f64> + Clone,
    target_element: impl Strategy<Value = f64> + Clone,
) -> impl Strategy<Value = (DMatrix<f64>, DMatrix<f64>)> {
    (1usize..6, 1usize..6).prop_flat_map(move |(rows, columns)| {
        (
            prop::collection::vec(logit.clone(), rows * columns),
            prop::collection::vec(target_element.clone(), rows * columns),
        )
            .prop_map(move |(z, t)| {
                (
                    DMatrix::from_vec(rows, columns, z),
                    DMatrix::from_vec(rows, columns, t),
                )
            })
    })
}

/// Logits and probability targets: every target row is non-negative and sums to one.
fn logits_and_probability_rows() -> impl Strategy<Value = (DMatrix<f64>, DMatrix<f64>)> {
    logits_and_targets(-8.0..8.0, 0.01..1.0).prop_map(|(z, mut t)| {
        for mut row in t.row_iter_mut() {
            let sum: f64 = row.iter().sum();
            row /= sum;
        }
        (z, t)
    })
}

/// Logits and one-hot targets.
fn logits_and_one_hot() -> impl Strategy<Value = (DMatrix<f64>, DMatrix<f64>)> {
    (1usize..6, 1usize..6).prop_flat_map(|(rows, columns)| {
        (
            prop::collection::vec(-8.0..8.0, rows * columns),
            prop::collection::vec(0..columns, rows),
        )
            .prop_map(move |(z, labels)| {
                (
                    DMatrix::from_vec(rows, columns, z),
                    one_hot::<f64>(&labels, columns).unwrap(),
                )
            })
    })
}

fn to_f32(m: &DMatrix<f64>) -> DMatrix<f32> {
    m.map(|x| x as f32)
}

/// The naive binary cross-entropy of one probability-space element, straight from the
/// definition (fine for moderate logits).
fn naive_binary_cross_entropy(z: f64, t: f64) -> f64 {
    let p = 1.0 / (1.0 + (-z).exp());
    -t * p.ln() - (1.0 - t) * (1.0 - p).ln()
}

/// The naive softmax cross-entropy of a batch, straight from the definition.
fn naive_softmax_cross_entropy(z: &DMatrix<f64>, t: &DMatrix<f64>) -> f64 {
    let mut total = 0.0;
    for row in 0..z.nrows() {
        let denominator: f64 = (0..z.ncols()).map(|j| z[(row, j)].exp()).sum();
        for j in 0..z.ncols() {
            total -= t[(row, j)] * (z[(row, j)].exp() / denominator).ln();
        }
    }
    total / z.nrows() as f64
}

// ---------------------------------------------------------------------------------------------
// Gradients against finite differences
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn mse_gradient_matches_finite_differences((y, t) in matrices(-5.0..5.0)) {
        check_gradient_f64(&Mse, &y, &t)?;
        check_gradient_f32(&Mse, &Mse, &to_f32(&y), &to_f32(&t))?;
    }

    #[test]
    fn binary_cross_entropy_gradient_matches_finite_differences(
        (z, t) in logits_and_targets(-10.0..10.0, 0.0..=1.0)
    ) {
        check_gradient_f64(&BinaryCrossEntropy, &z, &t)?;
        check_gradient_f32(&BinaryCrossEntropy, &BinaryCrossEntropy, &to_f32(&z), &to_f32(&t))?;
    }

    #[test]
    fn softmax_cross_entropy_gradient_matches_finite_differences_for_probability_rows(
        (z, t) in logits_and_probability_rows()
    ) {
        check_gradient_f64(&SoftmaxCrossEntropy, &z, &t)?;
        check_gradient_f32(&SoftmaxCrossEntropy, &SoftmaxCrossEntropy, &to_f32(&z), &to_f32(&t))?;
    }

    #[test]
    fn softmax_cross_entropy_gradient_matches_finite_differences_for_one_hot_rows(
        (z, t) in logits_and_one_hot()
    ) {
        check_gradient_f64(&SoftmaxCrossEntropy, &z, &t)?;
        check_gradient_f32(&SoftmaxCrossEntropy, &SoftmaxCrossEntropy, &to_f32(&z), &to_f32(&t))?;
    }

    /// The gradient is the true derivative even for target rows that do not sum to one.
    #[test]
    fn softmax_cross_entropy_gradient_matches_finite_differences_for_unnormalised_rows(
        (z, t) in logits_and_targets(-8.0..8.0, 0.0..2.0)
    ) {
        check_gradient_f64(&SoftmaxCrossEntropy, &z, &t)?;
    }

    // -----------------------------------------------------------------------------------------
    // Values against independent formulas
    // -----------------------------------------------------------------------------------------

    #[test]
    fn mse_matches_the_definition((y, t) in matrices(-5.0..5.0)) {
        let expected = y.iter().zip(t.iter()).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
            / (y.nrows() * y.ncols()) as f64;
        let value = Mse.loss(&y, &t).unwrap();
        prop_assert!((value - expected).abs() <= 1e-12 * expected.max(1.0));
    }

    #[test]
    fn binary_cross_entropy_matches_the_definition_for_moderate_logits(
        (z, t) in logits_and_targets(-15.0..15.0, 0.0..=1.0)
    ) {
        let expected = z.iter().zip(t.iter())
            .map(|(&a, &b)| naive_binary_cross_entropy(a, b)).sum::<f64>()
            / (z.nrows() * z.ncols()) as f64;
        let value = BinaryCrossEntropy.loss(&z, &t).unwrap();
        prop_assert!((value - expected).abs() <= 1e-9 * expected.max(1.0), "{value} vs {expected}");
    }

    #[test]
    fn softmax_cross_entropy_matches_the_definition_for_moderate_logits(
        (z, t) in logits_and_probability_rows()
    ) {
        let expected = naive_softmax_cross_entropy(&z, &t);
        let value = SoftmaxCrossEntropy.loss(&z, &t).unwrap();
        prop_assert!((value - expected).abs() <= 1e-10 * expected.max(1.0), "{value} vs {expected}");
    }

    /// Adding a constant to a row of logits changes neither the softmax nor the loss, even
    /// when the constant pushes the logits far beyond where `exp` overflows.
    #[test]
    fn softmax_cross_entropy_is_invariant_to_shifting_a_row(
        (z, t) in logits_and_probability_rows(),
        shift in -900.0..900.0f64,
    ) {
        let shifted = z.add_scalar(shift);
        let mut gradient = DMatrix::zeros(z.nrows(), z.ncols());
        let mut shifted_gradient = DMatrix::zeros(z.nrows(), z.ncols());
        let value = SoftmaxCrossEntropy.loss_and_gradient(&z, &t, &mut gradient).unwrap();
        let shifted_value = SoftmaxCrossEntropy
            .loss_and_gradient(&shifted, &t, &mut shifted_gradient)
            .unwrap();
        prop_assert!((value - shifted_value).abs() <= 1e-9 * value.max(1.0));
        for (a, b) in gradient.iter().zip(shifted_gradient.iter()) {
            prop_assert!((a - b).abs() <= 1e-9);
        }
    }

    /// Logits anywhere in [-1000, 1000] give finite, non-negative losses and gradients.
    #[test]
    fn extreme_logits_stay_finite(
        (z, t) in logits_and_targets(-1000.0..1000.0, 0.0..=1.0)
    ) {
        for loss in [&BinaryCrossEntropy as &dyn Loss<f64>, &SoftmaxCrossEntropy] {
            let mut gradient = DMatrix::zeros(0, 0);
            let value = loss.loss_and_gradient(&z, &t, &mut gradient).unwrap();
            prop_assert!(value.is_finite() && value >= 0.0, "{}: {value}", loss.name());
            prop_assert!(gradient.iter().all(|g| g.is_finite()));
        }
        let (z32, t32) = (to_f32(&z), to_f32(&t));
        for loss in [&BinaryCrossEntropy as &dyn Loss<f32>, &SoftmaxCrossEntropy] {
            let mut gradient = DMatrix::zeros(0, 0);
            let value = loss.loss_and_gradient(&z32, &t32, &mut gradient).unwrap();
            prop_assert!(value.is_finite() && value >= 0.0, "{} f32: {value}", loss.name());
            prop_assert!(gradient.iter().all(|g| g.is_finite()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Known values by hand
// ---------------------------------------------------------------------------------------------

#[test]
fn mse_of_one_two_against_zero_is_two_and_a_half() {
    let y = DMatrix::from_row_slice(1, 2, &[1.0_f64, 2.0]);
    let t = DMatrix::zeros(1, 2);
    let mut gradient = DMatrix::zeros(1, 2);
    assert_eq!(Mse.loss(&y, &t).unwrap(), 2.5);
    assert_eq!(Mse.loss_and_gradient(&y, &t, &mut gradient).unwrap(), 2.5);
    // 2 (y - t) / 2.
    assert_eq!(gradient, DMatrix::from_row_slice(1, 2, &[1.0, 2.0]));

    let y32 = DMatrix::from_row_slice(1, 2, &[1.0_f32, 2.0]);
    assert_eq!(Mse.loss(&y32, &DMatrix::zeros(1, 2)).unwrap(), 2.5_f32);
}

#[test]
fn mse_averages_over_every_element() {
    // 2 x 2: differences 1, -1, 3, 0 -> (1 + 1 + 9 + 0) / 4.
    let y = DMatrix::from_row_slice(2, 2, &[1.0_f64, 0.0, 3.0, 5.0]);
    let t = DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 0.0, 5.0]);
    let mut gradient = DMatrix::zeros(2, 2);
    assert_eq!(Mse.loss_and_gradient(&y, &t, &mut gradient).unwrap(), 2.75);
    assert_eq!(
        gradient,
        DMatrix::from_row_slice(2, 2, &[0.5, -0.5, 1.5, 0.0])
    );
}

#[test]
fn binary_cross_entropy_of_logit_zero_is_ln_two() {
    for target in [0.0_f64, 1.0, 0.5] {
        let z = DMatrix::zeros(1, 1);
        let t = DMatrix::from_element(1, 1, target);
        let mut gradient = DMatrix::zeros(1, 1);
        let value = BinaryCrossEntropy
            .loss_and_gradient(&z, &t, &mut gradient)
            .unwrap();
        assert_relative_eq!(value, std::f64::consts::LN_2, max_relative = 1e-15);
        assert_relative_eq!(gradient[(0, 0)], 0.5 - target, max_relative = 1e-15);
    }
    let value: f32 = BinaryCrossEntropy
        .loss(&DMatrix::zeros(3, 2), &DMatrix::from_element(3, 2, 1.0))
        .unwrap();
    assert_relative_eq!(value, std::f32::consts::LN_2, max_relative = 1e-6);
}

#[test]
fn binary_cross_entropy_of_logit_two_with_target_one_is_minus_ln_sigmoid() {
    let z = DMatrix::from_row_slice(2, 1, &[2.0_f64, -2.0]);
    let t = DMatrix::from_row_slice(2, 1, &[1.0, 1.0]);
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let expected = (-sigmoid(2.0).ln() - sigmoid(-2.0).ln()) / 2.0;
    let mut gradient = DMatrix::zeros(2, 1);
    let value = BinaryCrossEntropy
        .loss_and_gradient(&z, &t, &mut gradient)
        .unwrap();
    assert_relative_eq!(value, expected, max_relative = 1e-14);
    assert_relative_eq!(
        gradient[(0, 0)],
        (sigmoid(2.0) - 1.0) / 2.0,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        gradient[(1, 0)],
        (sigmoid(-2.0) - 1.0) / 2.0,
        max_relative = 1e-12
    );
}

#[test]
fn binary_cross_entropy_is_exact_at_logits_of_plus_minus_thousand() {
    // Wrong side: the loss is |z|; right side: zero. Gradient sigmoid(z) - t is +-1 or 0.
    let cases = [
        (1000.0_f64, 0.0, 1000.0, 1.0),
        (-1000.0, 1.0, 1000.0, -1.0),
        (1000.0, 1.0, 0.0, 0.0),
        (-1000.0, 0.0, 0.0, 0.0),
    ];
    for (logit, target, expected_loss, expected_gradient) in cases {
        let z = DMatrix::from_element(1, 1, logit);
        let t = DMatrix::from_element(1, 1, target);
        let mut gradient = DMatrix::zeros(1, 1);
        let value = BinaryCrossEntropy
            .loss_and_gradient(&z, &t, &mut gradient)
            .unwrap();
        assert_eq!(value, expected_loss, "logit {logit}, target {target}");
        assert_eq!(gradient[(0, 0)], expected_gradient);

        let z32 = DMatrix::from_element(1, 1, logit as f32);
        let t32 = DMatrix::from_element(1, 1, target as f32);
        let mut gradient32 = DMatrix::zeros(1, 1);
        let value32 = BinaryCrossEntropy
            .loss_and_gradient(&z32, &t32, &mut gradient32)
            .unwrap();
        assert_eq!(value32, expected_loss as f32);
        assert_eq!(gradient32[(0, 0)], expected_gradient as f32);
    }
}

#[test]
fn softmax_cross_entropy_of_uniform_logits_is_ln_classes() {
    for classes in 1..=10usize {
        for logit in [0.0_f64, 3.5, -1000.0, 1000.0] {
            let z = DMatrix::from_element(3, classes, logit);
            let labels: Vec<usize> = (0..3).map(|i| i % classes).collect();
            let t = one_hot(&labels, classes).unwrap();
            let value = SoftmaxCrossEntropy.loss(&z, &t).unwrap();
            assert_relative_eq!(
                value,
                (classes as f64).ln(),
                epsilon = 1e-12,
                max_relative = 1e-12
            );

            let value32 = SoftmaxCrossEntropy
                .loss(&to_f32(&z), &one_hot::<f32>(&labels, classes).unwrap())
                .unwrap();
            assert_relative_eq!(
                value32,
                (classes as f32).ln(),
                epsilon = 1e-6,
                max_relative = 1e-6
            );
        }
    }
}

#[test]
fn softmax_cross_entropy_of_one_two_three_by_hand() {
    let z = DMatrix::from_row_slice(1, 3, &[1.0_f64, 2.0, 3.0]);
    let t = one_hot(&[0], 3).unwrap();
    let denominator = 1f64.exp() + 2f64.exp() + 3f64.exp();
    let expected = -(1f64.exp() / denominator).ln();
    let mut gradient = DMatrix::zeros(1, 3);
    let value = SoftmaxCrossEntropy
        .loss_and_gradient(&z, &t, &mut gradient)
        .unwrap();
    assert_relative_eq!(value, expected, max_relative = 1e-14);
    let expected_gradient = [
        1f64.exp() / denominator - 1.0,
        2f64.exp() / denominator,
        3f64.exp() / denominator,
    ];
    for (j, expected) in expected_gradient.into_iter().enumerate() {
        assert_relative_eq!(gradient[(0, j)], expected, max_relative = 1e-13);
    }
}

#[test]
fn softmax_cross_entropy_is_exact_at_logits_of_plus_minus_thousand() {
    let z = DMatrix::from_row_slice(2, 2, &[1000.0_f64, -1000.0, 1000.0, -1000.0]);
    // Row 0 labels the losing class: loss 2000. Row 1 labels the winner: loss 0.
    let t = one_hot(&[1, 0], 2).unwrap();
    let mut gradient = DMatrix::zeros(2, 2);
    let value = SoftmaxCrossEntropy
        .loss_and_gradient(&z, &t, &mut gradient)
        .unwrap();
    assert_eq!(value, 1000.0); // (2000 + 0) / 2
    assert_eq!(
        gradient,
        DMatrix::from_row_slice(2, 2, &[0.5, -0.5, 0.0, 0.0])
    );

    let value32 = SoftmaxCrossEntropy
        .loss(&to_f32(&z), &one_hot::<f32>(&[1, 0], 2).unwrap())
        .unwrap();
    assert_eq!(value32, 1000.0_f32);
}

#[test]
fn gradient_buffer_of_the_wrong_shape_is_resized() {
    let y = DMatrix::from_row_slice(2, 3, &[1.0_f64, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let t = DMatrix::zeros(2, 3);
    for loss in [
        &Mse as &dyn Loss<f64>,
        &BinaryCrossEntropy,
        &SoftmaxCrossEntropy,
    ] {
        let mut right = DMatrix::zeros(2, 3);
        let mut wrong = DMatrix::from_element(5, 1, f64::NAN);
        let a = loss.loss_and_gradient(&y, &t, &mut right).unwrap();
        let b = loss.loss_and_gradient(&y, &t, &mut wrong).unwrap();
        assert_eq!(a, b);
        assert_eq!(right, wrong, "{}", loss.name());
    }
}

#[test]
fn names_are_distinct() {
    let names = [
        Loss::<f64>::name(&Mse),
        Loss::<f64>::name(&BinaryCrossEntropy),
        Loss::<f64>::name(&SoftmaxCrossEntropy),
    ];
    assert_eq!(
        names,
        ["mse", "binary_cross_entropy", "softmax_cross_entropy"]
    );
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
fn shape_mismatch_is_a_typed_error() {
    let y = DMatrix::<f64>::zeros(2, 3);
    let t = DMatrix::<f64>::zeros(3, 2);
    for loss in [
        &Mse as &dyn Loss<f64>,
        &BinaryCrossEntropy,
        &SoftmaxCrossEntropy,
    ] {
        let expected = Error::ShapeMismatch {
            context: "loss target".to_string(),
            expected: (2, 3),
            found: (3, 2),
        };
        assert_eq!(loss.loss(&y, &t), Err(expected.clone()), "{}", loss.name());
        let mut gradient = DMatrix::zeros(2, 3);
        assert_eq!(loss.loss_and_gradient(&y, &t, &mut gradient), Err(expected));
    }
}

#[test]
fn empty_batch_and_zero_width_are_typed_errors() {
    for loss in [
        &Mse as &dyn Loss<f32>,
        &BinaryCrossEntropy,
        &SoftmaxCrossEntropy,
    ] {
        let mut gradient = DMatrix::zeros(0, 0);
        let empty = DMatrix::<f32>::zeros(0, 4);
        assert!(matches!(
            loss.loss(&empty, &empty),
            Err(Error::EmptyBatch { .. })
        ));
        assert!(matches!(
            loss.loss_and_gradient(&empty, &empty, &mut gradient),
            Err(Error::EmptyBatch { .. })
        ));
        let narrow = DMatrix::<f32>::zeros(3, 0);
        assert!(matches!(
            loss.loss(&narrow, &narrow),
            Err(Error::ZeroWidth { .. })
        ));
        assert!(matches!(
            loss.loss_and_gradient(&narrow, &narrow, &mut gradient),
            Err(Error::ZeroWidth { .. })
        ));
    }
}

#[test]
fn one_hot_builds_rows_and_rejects_bad_labels() {
    let m = one_hot::<f64>(&[1, 0, 2, 1], 3).unwrap();
    assert_eq!(
        m,
        DMatrix::from_row_slice(
            4,
            3,
            &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
        )
    );
    assert_eq!(one_hot::<f32>(&[], 3).unwrap().shape(), (0, 3));
    assert!(matches!(
        one_hot::<f64>(&[0, 3], 3),
        Err(Error::InvalidArgument { name: "labels", .. })
    ));
    assert!(matches!(
        one_hot::<f64>(&[0], 0),
        Err(Error::InvalidArgument {
            name: "classes",
            ..
        })
    ));
}
