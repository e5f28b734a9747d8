//! Numerical edge cases not covered by `tests/loss.rs` and `tests/activation_props.rs`:
//! log-sum-exp with distinct large logits (by hand), shift invariance of the softmax
//! cross-entropy at offsets up to 1e3, and logits far beyond +-1000 (1e300 in f64, 1e30 in
//! f32) that must still give finite, correct losses and gradients.

use approx::assert_relative_eq;
use nalgebra::DMatrix;
use proptest::prelude::*;
use vanishing_gradient::loss::{one_hot, BinaryCrossEntropy, Loss, SoftmaxCrossEntropy};

#[test]
fn log_sum_exp_of_large_distinct_logits_by_hand() {
    // ln(e^1000 + e^999 + e^998) - 998 = 2 + ln(1 + e^-1 + e^-2), computed without e^1000.
    let z = DMatrix::from_row_slice(1, 3, &[1000.0_f64, 999.0, 998.0]);
    let t = one_hot(&[2], 3).unwrap();
    let mut gradient = DMatrix::zeros(1, 3);
    let loss = SoftmaxCrossEntropy
        .loss_and_gradient(&z, &t, &mut gradient)
        .unwrap();
    let partition = 1.0 + (-1.0f64).exp() + (-2.0f64).exp();
    assert_relative_eq!(loss, 2.0 + partition.ln(), max_relative = 1e-14);
    let softmax = [
        1.0 / partition,
        (-1.0f64).exp() / partition,
        (-2.0f64).exp() / partition,
    ];
    assert_relative_eq!(gradient[(0, 0)], softmax[0], max_relative = 1e-13);
    assert_relative_eq!(gradient[(0, 1)], softmax[1], max_relative = 1e-13);
    assert_relative_eq!(gradient[(0, 2)], softmax[2] - 1.0, max_relative = 1e-13);

    // the same in f32 at -1000
    let z32 = DMatrix::from_row_slice(1, 3, &[-998.0_f32, -999.0, -1000.0]);
    let loss32 = SoftmaxCrossEntropy
        .loss(&z32, &one_hot::<f32>(&[2], 3).unwrap())
        .unwrap();
    assert_relative_eq!(loss32, (2.0 + partition.ln()) as f32, max_relative = 1e-6);
}

#[test]
fn logits_far_beyond_a_thousand_stay_finite_and_exact() {
    // f64 at 1e300: the losing class costs the gap, the winning class costs nothing.
    let z = DMatrix::from_row_slice(2, 2, &[1e300_f64, -1e300, 1e300, -1e300]);
    let t = one_hot(&[1, 0], 2).unwrap();
    let mut gradient = DMatrix::zeros(2, 2);
    let loss = SoftmaxCrossEntropy
        .loss_and_gradient(&z, &t, &mut gradient)
        .unwrap();
    assert_eq!(loss, 1e300); // (2e300 + 0) / 2
    assert_eq!(
        gradient,
        DMatrix::from_row_slice(2, 2, &[0.5, -0.5, 0.0, 0.0])
    );

    for (logit, target, expected) in [(1e300_f64, 0.0, 1e300), (-1e300, 0.0, 0.0)] {
        let z = DMatrix::from_element(1, 1, logit);
        let t = DMatrix::from_element(1, 1, target);
        let mut gradient = DMatrix::zeros(1, 1);
        let loss = BinaryCrossEntropy
            .loss_and_gradient(&z, &t, &mut gradient)
            .unwrap();
        assert_eq!(loss, expected, "logit {logit}");
        assert!(gradient[(0, 0)].is_finite());
    }

    // f32 at 1e30
    let z = DMatrix::from_row_slice(1, 2, &[1e30_f32, -1e30]);
    let mut gradient = DMatrix::zeros(1, 2);
    let loss = SoftmaxCrossEntropy
        .loss_and_gradient(&z, &one_hot::<f32>(&[1], 2).unwrap(), &mut gradient)
        .unwrap();
    assert_eq!(loss, 2e30);
    assert_eq!(gradient, DMatrix::from_row_slice(1, 2, &[1.0, -1.0]));
}

proptest! {
    /// Softmax is invariant under adding a constant to a row: a large offset changes the loss
    /// by rounding only (log-sum-exp subtracts the row maximum).
    #[test]
    fn softmax_cross_entropy_is_shift_invariant(
        logits in prop::collection::vec(-20.0..20.0f64, 2..6),
        offset in prop_oneof![-1000.0..1000.0f64, Just(1000.0), Just(-1000.0)],
        label in 0usize..6,
    ) {
        let classes = logits.len();
        let label = label % classes;
        let t = one_hot(&[label], classes).unwrap();
        let z = DMatrix::from_row_slice(1, classes, &logits);
        let shifted = z.map(|v| v + offset);
        let (mut g, mut g_shifted) = (DMatrix::zeros(1, classes), DMatrix::zeros(1, classes));
        let loss = SoftmaxCrossEntropy.loss_and_gradient(&z, &t, &mut g).unwrap();
        let loss_shifted =
            SoftmaxCrossEntropy.loss_and_gradient(&shifted, &t, &mut g_shifted).unwrap();
        prop_assert!(loss_shifted.is_finite());
        // the shifted logits themselves carry rounding of about |offset| * eps
        let tolerance = 1e-12 + 8.0 * offset.abs() * f64::EPSILON;
        prop_assert!((loss - loss_shifted).abs() <= tolerance, "{} vs {}", loss, loss_shifted);
        for (a, b) in g.iter().zip(g_shifted.iter()) {
            prop_assert!((a - b).abs() <= tolerance, "{} vs {}", a, b);
        }
    }
}
