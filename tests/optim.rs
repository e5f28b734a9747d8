//! Tests of the optimizers and of gradient clipping: convergence on convex problems, first
//! steps against hand-unrolled formulas, the returned squared update norm, per-slot state,
//! validation, and clipping by global norm.

use approx::assert_relative_eq;
use proptest::prelude::*;
use vanishing_gradient::optim::{
    global_norm, Adam, ClipByGlobalNorm, Momentum, Optimizer, RmsProp, Sgd,
};
use vanishing_gradient::Error;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// One of each optimizer, with hyperparameters suited to the test problems below.
fn optimizers<T: nalgebra::RealField + Copy>() -> Vec<Box<dyn Optimizer<T>>> {
    vec![
        Box::new(Sgd::new(0.05).unwrap()),
        Box::new(Momentum::new(0.02, 0.9).unwrap()),
        Box::new(Momentum::new(0.02, 0.9).unwrap().with_nesterov(true)),
        Box::new(RmsProp::new(0.01).unwrap()),
        Box::new(Adam::new(0.05).unwrap()),
    ]
}

/// A least-squares problem `mean_i (w . a_i + b - y_i)^2` over a fixed design: weights in
/// slot 0, bias in slot 1. Returns the loss and writes both gradients.
fn least_squares(weights: &[f64], bias: f64, weight_grad: &mut [f64], bias_grad: &mut f64) -> f64 {
    const DESIGN: [([f64; 2], f64); 5] = [
        ([1.0, 0.0], 3.0),
        ([0.0, 1.0], -1.0),
        ([1.0, 1.0], 2.5),
        ([2.0, -1.0], 6.0),
        ([-1.0, 0.5], -3.0),
    ];
    let n = DESIGN.len() as f64;
    let mut loss = 0.0;
    weight_grad.iter_mut().for_each(|g| *g = 0.0);
    *bias_grad = 0.0;
    for (a, y) in DESIGN {
        let residual = weights[0] * a[0] + weights[1] * a[1] + bias - y;
        loss += residual * residual / n;
        weight_grad[0] += 2.0 * residual * a[0] / n;
        weight_grad[1] += 2.0 * residual * a[1] / n;
        *bias_grad += 2.0 * residual / n;
    }
    loss
}

/// The least-squares loss at its minimum, found by a long run of plain gradient descent.
fn least_squares_minimum() -> f64 {
    let (mut w, mut b) = ([0.0; 2], 0.0);
    let (mut gw, mut gb) = ([0.0; 2], 0.0);
    for _ in 0..20_000 {
        least_squares(&w, b, &mut gw, &mut gb);
        w[0] -= 0.1 * gw[0];
        w[1] -= 0.1 * gw[1];
        b -= 0.1 * gb;
    }
    least_squares(&w, b, &mut gw, &mut gb)
}

// ---------------------------------------------------------------------------------------------
// Convergence on convex problems
// ---------------------------------------------------------------------------------------------

#[test]
fn every_optimizer_solves_least_squares_in_f64() {
    let minimum = least_squares_minimum();
    for mut optimizer in optimizers::<f64>() {
        let (mut w, mut b) = ([0.0; 2], [0.0]);
        let (mut gw, mut gb) = ([0.0; 2], 0.0);
        let initial = least_squares(&w, b[0], &mut gw, &mut gb);
        for _ in 0..2000 {
            least_squares(&w, b[0], &mut gw, &mut gb);
            optimizer.begin_step();
            optimizer.update(0, &mut w, &gw);
            optimizer.update(1, &mut b, &[gb]);
        }
        let last = least_squares(&w, b[0], &mut gw, &mut gb);
        let excess = last - minimum;
        assert!(
            excess < 1e-3 * (initial - minimum),
            "{}: initial {initial}, final {last}, minimum {minimum}",
            optimizer.name()
        );
    }
}

#[test]
fn every_optimizer_descends_a_quadratic_bowl_in_f32() {
    // f(x) = sum_i c_i (x_i - a_i)^2 / 2.
    let curvature = [0.5_f32, 1.0, 2.0, 4.0];
    let centre = [1.0_f32, -2.0, 0.5, 3.0];
    let loss = |x: &[f32]| -> f32 {
        x.iter()
            .zip(curvature.iter().zip(&centre))
            .map(|(x, (c, a))| 0.5 * c * (x - a) * (x - a))
            .sum()
    };
    for mut optimizer in optimizers::<f32>() {
        let mut x = [0.0_f32; 4];
        let initial = loss(&x);
        let mut grad = [0.0_f32; 4];
        for _ in 0..1500 {
            for i in 0..4 {
                grad[i] = curvature[i] * (x[i] - centre[i]);
            }
            optimizer.begin_step();
            optimizer.update(0, &mut x, &grad);
        }
        assert!(
            loss(&x) < 1e-3 * initial,
            "{}: initial {initial}, final {}",
            optimizer.name(),
            loss(&x)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// On a random bowl every optimizer ends far below where it started.
    #[test]
    fn every_optimizer_descends_random_bowls(
        curvature in prop::collection::vec(0.2..3.0f64, 1..8),
        // Away from the start: RMSProp and Adam step about `lr` whatever the gradient, so near
        // the optimum they hover at a loss of order `curvature * lr^2`, not below it.
        centre in prop::collection::vec(prop_oneof![-5.0..-1.0f64, 1.0..5.0f64], 8),
    ) {
        let n = curvature.len();
        let loss = |x: &[f64]| -> f64 {
            (0..n).map(|i| 0.5 * curvature[i] * (x[i] - centre[i]).powi(2)).sum()
        };
        for mut optimizer in optimizers::<f64>() {
            let mut x = vec![0.0; n];
            let mut grad = vec![0.0; n];
            let initial = loss(&x);
            for _ in 0..1500 {
                for i in 0..n {
                    grad[i] = curvature[i] * (x[i] - centre[i]);
                }
                optimizer.begin_step();
                optimizer.update(0, &mut x, &grad);
            }
            prop_assert!(
                loss(&x) <= 1e-2 * initial,
                "{}: initial {initial}, final {}", optimizer.name(), loss(&x)
            );
        }
    }

    /// The returned value is the squared L2 norm of the change actually made.
    #[test]
    fn returned_squared_norm_is_the_actual_change(
        values in prop::collection::vec(-10.0..10.0f64, 1..20),
        gradient_seed in prop::collection::vec(-10.0..10.0f64, 20),
        steps in 1usize..5,
    ) {
        let n = values.len();
        for mut optimizer in optimizers::<f64>() {
            let mut x = values.clone();
            for step in 0..steps {
                let grad: Vec<f64> = (0..n)
                    .map(|i| gradient_seed[i] * (1.0 + step as f64) - 0.1 * x[i])
                    .collect();
                let before = x.clone();
                optimizer.begin_step();
                let reported = optimizer.update(0, &mut x, &grad);
                let actual: f64 = x.iter().zip(&before).map(|(a, b)| (a - b) * (a - b)).sum();
                prop_assert!(
                    (reported - actual).abs() <= 1e-12 * actual.max(1e-300),
                    "{}: reported {reported}, actual {actual}", optimizer.name()
                );
                prop_assert!(actual > 0.0);
            }
        }
        // f32 too.
        for mut optimizer in optimizers::<f32>() {
            let mut x: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            let grad: Vec<f32> = gradient_seed[..n].iter().map(|&g| g as f32).collect();
            let before = x.clone();
            optimizer.begin_step();
            let reported = optimizer.update(0, &mut x, &grad);
            let actual: f32 = x.iter().zip(&before).map(|(a, b)| (a - b) * (a - b)).sum();
            prop_assert!((reported - actual).abs() <= 1e-5 * actual);
        }
    }

    /// Adam's first step is lr g / (|g| + eps) per coordinate after bias correction: about
    /// lr against the gradient's sign whatever the gradient's size.
    #[test]
    fn adam_first_step_is_about_lr_times_sign(
        grad in prop::collection::vec(
            prop_oneof![-1e3..-1e-3f64, 1e-3..1e3f64], 1..10),
        learning_rate in 1e-4..1.0f64,
    ) {
        let mut adam = Adam::new(learning_rate).unwrap();
        let mut x = vec![0.0; grad.len()];
        adam.begin_step();
        adam.update(0, &mut x, &grad);
        for (&xi, &g) in x.iter().zip(&grad) {
            prop_assert!((xi + learning_rate * g.signum()).abs() <= 1e-4 * learning_rate);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Steps against hand-unrolled formulas
// ---------------------------------------------------------------------------------------------

#[test]
fn sgd_step_by_hand() {
    let mut sgd = Sgd::new(0.1).unwrap();
    let mut x = [1.0_f64, 2.0, -3.0];
    let change = sgd.update(0, &mut x, &[10.0, -5.0, 0.0]);
    assert_relative_eq!(x[0], 0.0, epsilon = 1e-15);
    assert_relative_eq!(x[1], 2.5, epsilon = 1e-15);
    assert_eq!(x[2], -3.0);
    assert_relative_eq!(change, 1.0 + 0.25, max_relative = 1e-14);
}

#[test]
fn momentum_two_steps_by_hand() {
    let (lr, mu) = (0.1, 0.9);
    let (p0, g1, g2) = ([1.0_f64, -2.0], [0.5, 3.0], [-1.0, 2.0]);
    let mut classical = Momentum::new(lr, mu).unwrap();
    let mut nesterov = Momentum::new(lr, mu).unwrap().with_nesterov(true);
    let mut a = p0;
    let mut b = p0;
    classical.update(0, &mut a, &g1);
    classical.update(0, &mut a, &g2);
    nesterov.update(0, &mut b, &g1);
    nesterov.update(0, &mut b, &g2);
    for i in 0..2 {
        // v1 = g1, v2 = mu v1 + g2.
        let v1 = g1[i];
        let v2 = mu * v1 + g2[i];
        let classical_expected = p0[i] - lr * v1 - lr * v2;
        let nesterov_expected = p0[i] - lr * (g1[i] + mu * v1) - lr * (g2[i] + mu * v2);
        assert_relative_eq!(a[i], classical_expected, max_relative = 1e-14);
        assert_relative_eq!(b[i], nesterov_expected, max_relative = 1e-14);
    }
    assert_eq!(Optimizer::<f64>::name(&classical), "momentum");
    assert_eq!(Optimizer::<f64>::name(&nesterov), "nesterov");
}

#[test]
fn momentum_two_steps_by_hand_in_f32() {
    let mut classical = Momentum::<f32>::new(0.5, 0.5).unwrap();
    let mut x = [0.0_f32];
    classical.update(0, &mut x, &[1.0]); // v = 1, x = -0.5
    classical.update(0, &mut x, &[1.0]); // v = 1.5, x = -1.25
    assert_eq!(x[0], -1.25);
    let mut nesterov = Momentum::<f32>::new(0.5, 0.5).unwrap().with_nesterov(true);
    let mut y = [0.0_f32];
    nesterov.update(0, &mut y, &[1.0]); // v = 1, y = -0.5 (1 + 0.5) = -0.75
    nesterov.update(0, &mut y, &[1.0]); // v = 1.5, y = -0.75 - 0.5 (1 + 0.75) = -1.625
    assert_eq!(y[0], -1.625);
}

#[test]
fn rmsprop_two_steps_by_hand() {
    let (lr, alpha, eps) = (0.01, 0.9, 1e-6);
    let mut rmsprop = RmsProp::new(lr)
        .unwrap()
        .with_alpha(alpha)
        .unwrap()
        .with_eps(eps)
        .unwrap();
    let (p0, g1, g2) = (0.5_f64, 2.0, -0.5);
    let mut x = [p0];
    rmsprop.update(0, &mut x, &[g1]);
    rmsprop.update(0, &mut x, &[g2]);
    let s1 = (1.0 - alpha) * g1 * g1;
    let p1 = p0 - lr * g1 / (s1.sqrt() + eps);
    let s2 = alpha * s1 + (1.0 - alpha) * g2 * g2;
    let p2 = p1 - lr * g2 / (s2.sqrt() + eps);
    assert_relative_eq!(x[0], p2, max_relative = 1e-14);
}

#[test]
fn adam_two_steps_by_hand() {
    let (lr, b1, b2, eps) = (0.01, 0.8, 0.99, 1e-3);
    let mut adam = Adam::new(lr)
        .unwrap()
        .with_betas(b1, b2)
        .unwrap()
        .with_eps(eps)
        .unwrap();
    // A small gradient so that eps visibly matters.
    let (p0, g1, g2) = ([1.0_f64, 0.0], [4.0, 1e-3], [-2.0, 3e-3]);
    let mut x = p0;
    adam.begin_step();
    adam.update(0, &mut x, &g1);
    let after_first = x;
    adam.begin_step();
    adam.update(0, &mut x, &g2);
    assert_eq!(adam.step_count(), 2);
    for i in 0..2 {
        let m1 = (1.0 - b1) * g1[i];
        let v1 = (1.0 - b2) * g1[i] * g1[i];
        let p1 = p0[i] - lr * (m1 / (1.0 - b1)) / ((v1 / (1.0 - b2)).sqrt() + eps);
        let m2 = b1 * m1 + (1.0 - b1) * g2[i];
        let v2 = b2 * v1 + (1.0 - b2) * g2[i] * g2[i];
        let p2 = p1 - lr * (m2 / (1.0 - b1 * b1)) / ((v2 / (1.0 - b2 * b2)).sqrt() + eps);
        assert_relative_eq!(after_first[i], p1, max_relative = 1e-13);
        assert_relative_eq!(x[i], p2, max_relative = 1e-13);
    }
    // First step of the large coordinate: lr g / (|g| + eps), by the shortcut formula too.
    assert_relative_eq!(
        after_first[0],
        1.0 - lr * 4.0 / (4.0 + eps),
        max_relative = 1e-13
    );
}

#[test]
fn adam_first_step_in_f32_with_default_hyperparameters() {
    let mut adam = Adam::<f32>::new(1e-3).unwrap();
    let mut x = [0.0_f32, 0.0];
    adam.begin_step();
    adam.update(0, &mut x, &[2.0, -1e-8]);
    assert_relative_eq!(x[0], -1e-3 * 2.0 / (2.0 + 1e-8), max_relative = 1e-6);
    // With |g| = eps the step is half the learning rate.
    assert_relative_eq!(x[1], 1e-3 * 0.5, max_relative = 1e-4);
}

#[test]
fn adam_counts_one_time_step_for_all_slots_of_a_step() {
    // Two slots updated in the same step must both see t = 1: both first steps are
    // lr g / (|g| + eps).
    let mut adam = Adam::new(0.1).unwrap();
    let mut a = [0.0_f64];
    let mut b = [0.0_f64];
    adam.begin_step();
    adam.update(0, &mut a, &[5.0]);
    adam.update(1, &mut b, &[-0.5]);
    assert_relative_eq!(a[0], -0.1 * 5.0 / (5.0 + 1e-8), max_relative = 1e-12);
    assert_relative_eq!(b[0], 0.1 * 0.5 / (0.5 + 1e-8), max_relative = 1e-12);
}

#[test]
fn adam_without_begin_step_treats_the_update_as_step_one() {
    let mut adam = Adam::new(0.1).unwrap();
    let mut x = [0.0_f64];
    adam.update(0, &mut x, &[5.0]);
    assert!(x[0].is_finite());
    assert_relative_eq!(x[0], -0.1 * 5.0 / (5.0 + 1e-8), max_relative = 1e-12);
}

#[test]
fn reset_forgets_the_state() {
    let mut adam = Adam::new(0.1).unwrap();
    let mut x = [0.0_f64];
    for _ in 0..3 {
        adam.begin_step();
        adam.update(0, &mut x, &[1.0]);
    }
    adam.reset();
    assert_eq!(adam.step_count(), 0);
    let mut y = [0.0_f64];
    adam.begin_step();
    adam.update(0, &mut y, &[-3.0]);
    assert_relative_eq!(y[0], 0.1 * 3.0 / (3.0 + 1e-8), max_relative = 1e-12);

    let mut momentum = Momentum::new(1.0, 0.5).unwrap();
    let mut z = [0.0_f64];
    momentum.update(0, &mut z, &[1.0]);
    momentum.reset();
    let mut w = [0.0_f64];
    momentum.update(0, &mut w, &[1.0]);
    assert_eq!(w[0], -1.0); // no leftover velocity
}

// ---------------------------------------------------------------------------------------------
// Slots and lengths
// ---------------------------------------------------------------------------------------------

#[test]
fn slots_keep_separate_state() {
    // One optimizer driving two slots takes the same steps as two optimizers with one each.
    let mut first = optimizers::<f64>();
    let mut second = optimizers::<f64>();
    for ((shared, first), second) in optimizers::<f64>()
        .iter_mut()
        .zip(first.iter_mut())
        .zip(second.iter_mut())
    {
        let (mut a, mut b) = ([1.0, 2.0], [-1.0, 0.5, 3.0]);
        let (mut c, mut d) = (a, b);
        for step in 0..4 {
            let s = f64::from(step);
            let ga = [0.3 * s - 1.0, 2.0];
            let gb = [1.0, -0.2 * s, 4.0 - s];
            shared.begin_step();
            shared.update(0, &mut a, &ga);
            shared.update(1, &mut b, &gb);
            first.begin_step();
            first.update(0, &mut c, &ga);
            second.begin_step();
            second.update(0, &mut d, &gb);
        }
        assert_eq!(a, c, "{}", shared.name());
        assert_eq!(b, d, "{}", shared.name());
    }
}

#[test]
fn slot_numbers_may_skip() {
    let mut adam = Adam::new(0.1).unwrap();
    let mut x = [0.0_f64];
    adam.begin_step();
    adam.update(7, &mut x, &[1.0]);
    assert_relative_eq!(x[0], -0.1 / (1.0 + 1e-8), max_relative = 1e-12);
}

#[test]
fn a_length_change_resets_that_slot() {
    for mut optimizer in optimizers::<f64>() {
        let mut fresh = optimizers::<f64>()
            .into_iter()
            .find(|o| o.name() == optimizer.name())
            .unwrap();
        let mut x = [1.0, 2.0];
        for _ in 0..3 {
            optimizer.begin_step();
            optimizer.update(0, &mut x, &[1.0, 1.0]);
        }
        // The parameter changed length: the slot starts over as if new (Adam keeps its step
        // count, so compare against a fresh optimizer at the same step).
        for _ in 0..3 {
            fresh.begin_step();
        }
        let mut grown = [1.0, 2.0, 3.0];
        let mut expected = grown;
        optimizer.begin_step();
        optimizer.update(0, &mut grown, &[0.5, -0.5, 2.0]);
        fresh.begin_step();
        fresh.update(0, &mut expected, &[0.5, -0.5, 2.0]);
        assert_eq!(grown, expected, "{}", optimizer.name());
    }
}

#[test]
fn mismatched_lengths_update_the_common_prefix_only() {
    for mut optimizer in optimizers::<f64>() {
        let mut x = [1.0, 2.0, 3.0];
        optimizer.begin_step();
        let change = optimizer.update(0, &mut x, &[1.0]);
        assert!(x[0] < 1.0, "{}", optimizer.name());
        assert_eq!(&x[1..], &[2.0, 3.0]);
        assert_relative_eq!(change, (1.0 - x[0]).powi(2), max_relative = 1e-12);

        let mut y = [1.0];
        let change = optimizer.update(1, &mut y, &[1.0, 5.0, 5.0]);
        assert!(y[0] < 1.0);
        assert_relative_eq!(change, (1.0 - y[0]).powi(2), max_relative = 1e-12);
    }
}

#[test]
fn zero_gradient_changes_nothing() {
    for mut optimizer in optimizers::<f64>() {
        let mut x = [1.0, -2.0];
        optimizer.begin_step();
        let change = optimizer.update(0, &mut x, &[0.0, 0.0]);
        assert_eq!(x, [1.0, -2.0], "{}", optimizer.name());
        assert_eq!(change, 0.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Validation and learning rates
// ---------------------------------------------------------------------------------------------

fn is_invalid<T: std::fmt::Debug>(result: Result<T, Error>, expected_name: &str) -> bool {
    matches!(result, Err(Error::InvalidArgument { name, .. }) if name == expected_name)
}

#[test]
fn constructors_validate_their_arguments() {
    for bad in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(is_invalid(Sgd::new(bad), "learning_rate"), "{bad}");
        assert!(is_invalid(Momentum::<f64>::new(bad, 0.9), "learning_rate"));
        assert!(is_invalid(RmsProp::<f64>::new(bad), "learning_rate"));
        assert!(is_invalid(Adam::<f64>::new(bad), "learning_rate"));
    }
    for bad in [1.0, 1.5, -0.1, f64::NAN] {
        assert!(
            is_invalid(Momentum::<f64>::new(0.1, bad), "momentum"),
            "{bad}"
        );
        assert!(is_invalid(
            RmsProp::<f32>::new(0.1).unwrap().with_alpha(bad),
            "alpha"
        ));
        assert!(is_invalid(
            Adam::<f32>::new(0.1).unwrap().with_betas(bad, 0.9),
            "beta1"
        ));
        assert!(is_invalid(
            Adam::<f32>::new(0.1).unwrap().with_betas(0.9, bad),
            "beta2"
        ));
    }
    for bad in [0.0, -1e-8, f64::NAN, f64::INFINITY] {
        assert!(is_invalid(
            RmsProp::<f64>::new(0.1).unwrap().with_eps(bad),
            "eps"
        ));
        assert!(is_invalid(
            Adam::<f64>::new(0.1).unwrap().with_eps(bad),
            "eps"
        ));
        assert!(is_invalid(ClipByGlobalNorm::new(bad), "max_norm"));
    }
    assert!(is_invalid(ClipByGlobalNorm::new(-1.0), "max_norm"));
    // Edge values that are allowed.
    assert!(Momentum::<f64>::new(0.1, 0.0).is_ok());
    assert!(Adam::<f64>::new(0.1).unwrap().with_betas(0.0, 0.0).is_ok());
    let adam = Adam::<f64>::new(0.1).unwrap();
    assert_eq!(adam.betas(), (0.9, 0.999));
    assert_eq!(adam.eps(), 1e-8);
    let rmsprop = RmsProp::<f64>::new(0.1).unwrap();
    assert_eq!((rmsprop.alpha(), rmsprop.eps()), (0.99, 1e-8));
}

#[test]
fn set_learning_rate_takes_finite_non_negative_rates_only() {
    for mut optimizer in optimizers::<f64>() {
        optimizer.set_learning_rate(0.5);
        assert_eq!(optimizer.learning_rate(), 0.5);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            optimizer.set_learning_rate(bad);
            assert_eq!(optimizer.learning_rate(), 0.5, "{}", optimizer.name());
        }
        optimizer.set_learning_rate(0.0);
        assert_eq!(optimizer.learning_rate(), 0.0);
        let mut x = [1.0];
        optimizer.begin_step();
        assert_eq!(optimizer.update(0, &mut x, &[3.0]), 0.0);
        assert_eq!(x, [1.0]);
    }
}

#[test]
fn a_new_learning_rate_changes_the_step() {
    let mut sgd = Sgd::new(0.1).unwrap();
    let mut x = [0.0_f64];
    Optimizer::<f64>::set_learning_rate(&mut sgd, 0.25);
    sgd.update(0, &mut x, &[2.0]);
    assert_eq!(x[0], -0.5);
}

#[test]
fn names() {
    let names: Vec<&str> = optimizers::<f64>().iter().map(|o| o.name()).collect();
    assert_eq!(names, ["sgd", "momentum", "nesterov", "rmsprop", "adam"]);
}

// ---------------------------------------------------------------------------------------------
// Clipping
// ---------------------------------------------------------------------------------------------

fn naive_norm(grads: &[Vec<f64>]) -> f64 {
    grads.iter().flatten().map(|g| g * g).sum::<f64>().sqrt()
}

proptest! {
    #[test]
    fn clipping_bounds_the_norm_and_keeps_the_direction(
        grads in prop::collection::vec(prop::collection::vec(-100.0..100.0f64, 0..6), 1..5),
        max_norm in 0.01..200.0f64,
    ) {
        let clip = ClipByGlobalNorm::new(max_norm).unwrap();
        let before_norm = naive_norm(&grads);
        let mut clipped = grads.clone();
        let mut views: Vec<&mut [f64]> = clipped.iter_mut().map(|g| g.as_mut_slice()).collect();
        let reported = clip.clip(&mut views);
        prop_assert!((reported - before_norm).abs() <= 1e-12 * before_norm.max(1e-300));
        let after_norm = naive_norm(&clipped);
        if before_norm <= max_norm {
            prop_assert_eq!(&clipped, &grads);
        } else {
            prop_assert!((after_norm - max_norm).abs() <= 1e-12 * max_norm);
            let scale = max_norm / before_norm;
            for (a, b) in clipped.iter().flatten().zip(grads.iter().flatten()) {
                prop_assert!((a - b * scale).abs() <= 1e-12 * b.abs().max(1e-300));
            }
        }
    }

    #[test]
    fn global_norm_matches_the_definition(
        grads in prop::collection::vec(prop::collection::vec(-1e3..1e3f64, 0..8), 0..5),
    ) {
        let views: Vec<&[f64]> = grads.iter().map(|g| g.as_slice()).collect();
        let expected = naive_norm(&grads);
        let norm = global_norm(&views);
        prop_assert!((norm - expected).abs() <= 1e-13 * expected.max(1e-300));
    }
}

#[test]
fn clipping_in_f32_by_hand() {
    let clip = ClipByGlobalNorm::new(2.5).unwrap();
    let mut a = [3.0_f32, 4.0];
    let mut b: [f32; 0] = [];
    let norm = clip.clip(&mut [&mut a[..], &mut b[..]]);
    assert_eq!(norm, 5.0);
    assert_relative_eq!(a[0], 1.5, max_relative = 1e-6);
    assert_relative_eq!(a[1], 2.0, max_relative = 1e-6);

    let mut small = [0.3_f32, -0.4];
    let norm = clip.clip(&mut [&mut small[..]]);
    assert_relative_eq!(norm, 0.5, max_relative = 1e-6);
    assert_eq!(small, [0.3, -0.4]);
}

#[test]
fn non_finite_gradients_are_left_alone_and_reported() {
    let clip = ClipByGlobalNorm::new(1.0).unwrap();
    let mut a = [1.0_f64, f64::NAN];
    let mut b = [100.0_f64];
    let norm = clip.clip(&mut [&mut a[..], &mut b[..]]);
    assert!(norm.is_nan());
    assert_eq!(b, [100.0]);
    assert_eq!(a[0], 1.0);

    let mut c = [f64::INFINITY, 3.0];
    let norm = clip.clip(&mut [&mut c[..]]);
    assert_eq!(norm, f64::INFINITY);
    assert_eq!(c, [f64::INFINITY, 3.0]);

    let mut d = [f32::NEG_INFINITY, f32::NAN];
    assert!(clip.clip(&mut [&mut d[..]]).is_nan());
}

#[test]
fn global_norm_neither_overflows_nor_underflows_in_f32() {
    // Squaring 3e30 or 3e-30 overflows or underflows f32; the norm itself is representable.
    let huge = [3e30_f32, -4e30];
    assert_relative_eq!(global_norm(&[&huge[..]]), 5e30, max_relative = 1e-6);
    let tiny = [3e-30_f32, 4e-30];
    assert_relative_eq!(global_norm(&[&tiny[..]]), 5e-30, max_relative = 1e-6);
    let subnormal = [3e-44_f32, 4e-44];
    let norm = global_norm(&[&subnormal[..]]);
    assert!(norm > 0.0 && norm.is_finite());
    assert_eq!(global_norm::<f32>(&[]), 0.0);
    assert_eq!(global_norm::<f64>(&[&[], &[0.0, -0.0]]), 0.0);

    // Clipping a huge f32 gradient works because the norm is finite.
    let clip = ClipByGlobalNorm::new(1.0).unwrap();
    let mut g = huge;
    let norm = clip.clip(&mut [&mut g[..]]);
    assert_relative_eq!(norm, 5e30, max_relative = 1e-6);
    assert_relative_eq!(g[0], 0.6, max_relative = 1e-5);
    assert_relative_eq!(g[1], -0.8, max_relative = 1e-5);
}

#[test]
fn a_directly_set_invalid_max_norm_leaves_gradients_alone() {
    let mut g = [3.0_f64, 4.0];
    for max_norm in [-1.0, f64::NAN] {
        let clip = ClipByGlobalNorm { max_norm };
        assert_eq!(clip.clip(&mut [&mut g[..]]), 5.0);
        assert_eq!(g, [3.0, 4.0]);
    }
}

// ---------------------------------------------------------------------------------------------
// The fused SGD step with the report's statistics (explicit SIMD for f32 and f64)
// ---------------------------------------------------------------------------------------------

/// Gradients over 25 orders of magnitude, down to where `f32` squares would be subnormal (the
/// kernel sums those apart, scaled).
fn gradient_strategy() -> impl Strategy<Value = f64> {
    (-1.0..1.0f64, -30i32..2).prop_map(|(m, e)| m * 10f64.powi(e))
}

/// `update_measured` against the plain definitions computed in `f64`: the weights move exactly
/// as `update` moves them, and the sums agree to rounding.
fn check_update_measured<T: nalgebra::RealField + Copy>(
    values: &[f64],
    grads: &[f64],
    relative: f64,
) -> Result<(), TestCaseError> {
    let to_t = |v: &[f64]| -> Vec<T> { v.iter().map(|&x| nalgebra::convert(x)).collect() };
    let to_f64 = |x: T| -> f64 { nalgebra::try_convert(x).unwrap() };
    let (mut measured, grad) = (to_t(values), to_t(grads));
    let mut plain = measured.clone();
    let before = measured.clone();
    let mut sgd = Sgd::new(0.01).unwrap();
    let m = sgd.update_measured(0, &mut measured, &grad);
    let change = sgd.update(0, &mut plain, &grad);
    prop_assert_eq!(
        &measured,
        &plain,
        "update_measured moved the weights differently"
    );
    let grad_f64: Vec<f64> = grad.iter().map(|&g| to_f64(g)).collect();
    let expected_grad_sq: f64 = grad_f64.iter().map(|g| g * g).sum();
    let expected_max = grad_f64.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let expected_value_sq: f64 = before.iter().map(|&w| to_f64(w).powi(2)).sum();
    let close = |a: f64, b: f64| (a - b).abs() <= relative * b.abs().max(f64::MIN_POSITIVE);
    prop_assert!(
        close(m.grad_sq, expected_grad_sq),
        "grad_sq {} vs {}",
        m.grad_sq,
        expected_grad_sq
    );
    prop_assert_eq!(m.grad_max_abs, expected_max);
    prop_assert!(close(m.value_sq, expected_value_sq));
    prop_assert!(
        close(m.squared_change, to_f64(change)),
        "squared change {} vs update's {}",
        m.squared_change,
        to_f64(change)
    );
    Ok(())
}

proptest! {
    #[test]
    fn update_measured_agrees_with_the_definitions(
        pairs in proptest::collection::vec((-3.0..3.0f64, gradient_strategy()), 0..100)
    ) {
        let (values, grads): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        check_update_measured::<f64>(&values, &grads, 1e-12)?;
        // f32 sums of up to 100 terms; squares of gradients down to 1e-30 stay accurate
        // because they are summed apart, scaled (their plain f32 squares would underflow).
        check_update_measured::<f32>(&values, &grads, 1e-4)?;
    }
}

#[test]
fn update_measured_keeps_tiny_gradient_norms_that_f32_squares_would_lose() {
    // 1e-25 squared is 1e-50: below f32's smallest subnormal, so a plain f32 sum of squares
    // is 0. The report must still see a nonzero gradient of the right size.
    let grads = vec![1e-25f32; 37];
    let mut values = vec![0.5f32; 37];
    let m = Sgd::new(0.01)
        .unwrap()
        .update_measured(0, &mut values, &grads);
    let l2 = m.grad_sq.sqrt();
    let expected = 1e-25 * 37f64.sqrt();
    assert!(
        (l2 - expected).abs() < 1e-3 * expected,
        "gradient L2 {l2:e}, expected {expected:e}"
    );
    assert_eq!(m.grad_max_abs, f64::from(1e-25f32));
}
