//! The initialisers against their formulas: sample moments, bounds, reproducibility, argument
//! checks, and PyTorch's gains.

use std::f64::consts::SQRT_2;
use std::sync::{Arc, Mutex};

use rand::Rng;
use vanishing_gradient::activation::{all_builtin, Activation};
use vanishing_gradient::init::{recommended_gain, seeded_rng, Init};
use vanishing_gradient::Error;

const SAMPLES: usize = 200_000;
/// How many standard errors a sample statistic may stray. With fixed seeds the tests are
/// deterministic; five standard errors is what an honest implementation passes for almost every
/// seed (a two-sided 5-sigma event has probability 6e-7).
const STANDARD_ERRORS: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Normal,
    /// Symmetric uniform on `[-bound, bound]`, or any uniform on `[low, high]`.
    Uniform {
        low: f64,
        high: f64,
    },
}

/// What the formula says a draw should look like.
#[derive(Debug, Clone, Copy)]
struct Expected {
    mean: f64,
    variance: f64,
    shape: Shape,
}

impl Expected {
    fn normal(std: f64) -> Self {
        Self {
            mean: 0.0,
            variance: std * std,
            shape: Shape::Normal,
        }
    }
    fn symmetric_uniform(bound: f64) -> Self {
        Self::uniform(-bound, bound)
    }
    fn uniform(low: f64, high: f64) -> Self {
        Self {
            mean: (low + high) / 2.0,
            variance: (high - low).powi(2) / 12.0,
            shape: Shape::Uniform { low, high },
        }
    }
    /// The fourth central moment over the squared variance: 3 for a normal, 9/5 for a uniform.
    fn kurtosis(&self) -> f64 {
        match self.shape {
            Shape::Normal => 3.0,
            Shape::Uniform { .. } => 1.8,
        }
    }
}

struct Moments {
    mean: f64,
    variance: f64,
    kurtosis: f64,
    min: f64,
    max: f64,
}

fn moments(values: &[f64]) -> Moments {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let fourth = values.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n;
    Moments {
        mean,
        variance,
        kurtosis: fourth / variance.powi(2),
        min: values.iter().cloned().fold(f64::INFINITY, f64::min),
        max: values.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
    }
}

fn assert_matches_formula(init: &Init, fan_in: usize, fan_out: usize, expected: Expected) {
    let mut rng = seeded_rng(20_240_601);
    let mut w = vec![0.0f64; SAMPLES];
    init.fill(&mut w, fan_in, fan_out, &mut rng).unwrap();
    let m = moments(&w);
    let n = SAMPLES as f64;
    let sigma2 = expected.variance;

    let mean_se = (sigma2 / n).sqrt();
    assert!(
        (m.mean - expected.mean).abs() < STANDARD_ERRORS * mean_se,
        "{init:?}: mean {} vs {} (se {mean_se:e})",
        m.mean,
        expected.mean
    );
    // The sample variance's standard error is sqrt((mu4 - sigma^4) / n).
    let variance_se = ((expected.kurtosis() - 1.0) * sigma2 * sigma2 / n).sqrt();
    assert!(
        (m.variance - sigma2).abs() < STANDARD_ERRORS * variance_se,
        "{init:?}: variance {} vs {sigma2} (se {variance_se:e})",
        m.variance
    );
    // The shape: kurtosis 3 (normal) or 1.8 (uniform); its standard error is under 0.011 here.
    assert!(
        (m.kurtosis - expected.kurtosis()).abs() < 0.1,
        "{init:?}: kurtosis {} vs {}",
        m.kurtosis,
        expected.kurtosis()
    );
    if let Shape::Uniform { low, high } = expected.shape {
        assert!(
            m.min >= low && m.max < high,
            "{init:?}: [{}, {}]",
            m.min,
            m.max
        );
        // 200k draws come within a ten-thousandth of the width of both ends.
        let width = high - low;
        assert!(m.min - low < 1e-4 * width && high - m.max < 1e-4 * width);
    }
}

#[test]
fn glorot_matches_its_formula() {
    let (fan_in, fan_out) = (300, 100);
    let fan_sum = (fan_in + fan_out) as f64;
    for gain in [1.0, 5.0 / 3.0] {
        let bound = gain * (6.0 / fan_sum).sqrt();
        assert_matches_formula(
            &Init::GlorotUniform { gain },
            fan_in,
            fan_out,
            Expected::symmetric_uniform(bound),
        );
        let std = gain * (2.0 / fan_sum).sqrt();
        assert_matches_formula(
            &Init::GlorotNormal { gain },
            fan_in,
            fan_out,
            Expected::normal(std),
        );
    }
    // The constructors use gain 1; Glorot's variance is 2 / (fan_in + fan_out) either way.
    assert_matches_formula(
        &Init::glorot_uniform(),
        fan_in,
        fan_out,
        Expected::symmetric_uniform((6.0 / fan_sum).sqrt()),
    );
    assert_matches_formula(
        &Init::glorot_normal(),
        fan_in,
        fan_out,
        Expected::normal((2.0 / fan_sum).sqrt()),
    );
}

#[test]
fn he_matches_its_formula() {
    let (fan_in, fan_out) = (300, 100);
    let fan = fan_in as f64;
    // He normal with the ReLU gain: N(0, 2 / fan_in), whatever fan_out is.
    assert_matches_formula(
        &Init::he_normal(),
        fan_in,
        fan_out,
        Expected::normal((2.0 / fan).sqrt()),
    );
    assert_matches_formula(
        &Init::he_normal(),
        fan_in,
        7,
        Expected::normal((2.0 / fan).sqrt()),
    );
    // He uniform: U(-a, a) with a = sqrt(6 / fan_in), the same variance 2 / fan_in.
    assert_matches_formula(
        &Init::he_uniform(),
        fan_in,
        fan_out,
        Expected::symmetric_uniform((6.0 / fan).sqrt()),
    );
    assert_matches_formula(
        &Init::HeNormal { gain: 1.0 },
        fan_in,
        fan_out,
        Expected::normal(1.0 / fan.sqrt()),
    );
    assert_matches_formula(
        &Init::HeUniform { gain: 0.5 },
        fan_in,
        fan_out,
        Expected::symmetric_uniform(0.5 * (3.0 / fan).sqrt()),
    );
}

#[test]
fn lecun_and_plain_initialisers_match_their_formulas() {
    assert_matches_formula(
        &Init::LecunNormal,
        50,
        400,
        Expected::normal((1.0f64 / 50.0).sqrt()),
    );
    assert_matches_formula(&Init::Normal { std: 0.01 }, 3, 3, Expected::normal(0.01));
    assert_matches_formula(
        &Init::Uniform {
            low: -0.5,
            high: 2.0,
        },
        3,
        3,
        Expected::uniform(-0.5, 2.0),
    );
}

#[test]
fn f32_weights_have_the_same_distribution() {
    let mut rng = seeded_rng(11);
    let mut w = vec![0.0f32; SAMPLES];
    Init::he_uniform().fill(&mut w, 128, 64, &mut rng).unwrap();
    let bound = (6.0f64 / 128.0).sqrt();
    let widened: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
    let m = moments(&widened);
    // f32 rounding of the bound may land one ulp above it.
    assert!(m.min >= -bound * (1.0 + 1e-6) && m.max <= bound * (1.0 + 1e-6));
    let se = ((1.8 - 1.0) * (bound * bound / 3.0).powi(2) / SAMPLES as f64).sqrt();
    assert!((m.variance - bound * bound / 3.0).abs() < STANDARD_ERRORS * se);
}

#[test]
fn constants_and_zeros_fill_exactly() {
    let mut rng = seeded_rng(0);
    let mut w = vec![1.5f64; 100];
    Init::Zeros.fill(&mut w, 10, 10, &mut rng).unwrap();
    assert!(w.iter().all(|&v| v == 0.0));
    Init::Constant(-0.25)
        .fill(&mut w, 10, 10, &mut rng)
        .unwrap();
    assert!(w.iter().all(|&v| v == -0.25));
    // A zero gain gives zeros, not an error: U(0, 0) and N(0, 0) are points.
    for init in [
        Init::GlorotUniform { gain: 0.0 },
        Init::HeNormal { gain: 0.0 },
    ] {
        Init::Constant(3.0).fill(&mut w, 10, 10, &mut rng).unwrap();
        init.fill(&mut w, 10, 10, &mut rng).unwrap();
        assert!(w.iter().all(|&v| v == 0.0), "{init:?}");
    }
}

fn random_initialisers() -> Vec<Init> {
    vec![
        Init::glorot_uniform(),
        Init::glorot_normal(),
        Init::he_uniform(),
        Init::he_normal(),
        Init::LecunNormal,
        Init::Uniform {
            low: -1.0,
            high: 1.0,
        },
        Init::Normal { std: 0.1 },
        Init::custom(|_, _, rng| rng.random::<f64>()),
    ]
}

#[test]
fn same_seed_gives_bit_identical_weights_and_different_seeds_differ() {
    for init in random_initialisers() {
        let draw = |seed: u64| {
            let mut w = vec![0.0f64; 1000];
            init.fill(&mut w, 40, 25, &mut seeded_rng(seed)).unwrap();
            w.iter().map(|v| v.to_bits()).collect::<Vec<u64>>()
        };
        assert_eq!(draw(42), draw(42), "{init:?}");
        let (a, b) = (draw(42), draw(43));
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!(
            same < 10,
            "{init:?}: seeds 42 and 43 agree on {same} of 1000"
        );

        // f32 weights are reproducible too.
        let draw32 = |seed: u64| {
            let mut w = vec![0.0f32; 100];
            init.fill(&mut w, 40, 25, &mut seeded_rng(seed)).unwrap();
            w.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
        };
        assert_eq!(draw32(7), draw32(7), "{init:?}");

        // The generator advances: two fills from one generator differ.
        let mut rng = seeded_rng(42);
        let (mut first, mut second) = (vec![0.0f64; 100], vec![0.0f64; 100]);
        init.fill(&mut first, 40, 25, &mut rng).unwrap();
        init.fill(&mut second, 40, 25, &mut rng).unwrap();
        assert_ne!(first, second, "{init:?}");
    }
}

#[test]
fn custom_closure_receives_the_fans_once_per_element() {
    let calls: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let recorder = Arc::clone(&calls);
    let init = Init::custom(move |fan_in, fan_out, _rng| {
        let mut calls = recorder.lock().unwrap();
        calls.push((fan_in, fan_out));
        (fan_in * 1000 + fan_out) as f64 + calls.len() as f64 / 1000.0
    });
    let mut w = vec![0.0f64; 37];
    init.fill(&mut w, 12, 5, &mut seeded_rng(1)).unwrap();
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 37);
    assert!(calls.iter().all(|&fans| fans == (12, 5)));
    for (i, &v) in w.iter().enumerate() {
        assert_eq!(v, 12_005.0 + (i + 1) as f64 / 1000.0);
    }
}

#[test]
fn custom_closure_draws_from_the_given_generator() {
    let init = Init::custom(|_, _, rng| rng.random_range(-1.0..1.0));
    let mut a = vec![0.0f64; 50];
    let mut b = vec![0.0f64; 50];
    init.fill(&mut a, 3, 3, &mut seeded_rng(5)).unwrap();
    init.fill(&mut b, 3, 3, &mut seeded_rng(5)).unwrap();
    assert_eq!(a, b);
    assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
}

fn assert_invalid<T: nalgebra::RealField + Copy>(init: &Init, fan_in: usize, fan_out: usize) {
    let mut w = vec![T::zero(); 16];
    match init.fill(&mut w, fan_in, fan_out, &mut seeded_rng(3)) {
        Err(Error::InvalidArgument { name, reason }) => {
            assert!(!name.is_empty() && !reason.is_empty());
        }
        other => panic!("{init:?} with fans ({fan_in}, {fan_out}) gave {other:?}"),
    }
}

#[test]
fn invalid_arguments_are_typed_errors() {
    let cases = [
        (Init::Normal { std: -0.1 }, 4, 4),
        (Init::Normal { std: f64::NAN }, 4, 4),
        (Init::Normal { std: f64::INFINITY }, 4, 4),
        (Init::GlorotUniform { gain: f64::NAN }, 4, 4),
        (Init::GlorotNormal { gain: -1.0 }, 4, 4),
        (
            Init::HeUniform {
                gain: f64::INFINITY,
            },
            4,
            4,
        ),
        (Init::HeNormal { gain: f64::NAN }, 4, 4),
        (
            Init::Uniform {
                low: 1.0,
                high: 1.0,
            },
            4,
            4,
        ),
        (
            Init::Uniform {
                low: 2.0,
                high: 1.0,
            },
            4,
            4,
        ),
        (
            Init::Uniform {
                low: f64::NAN,
                high: 1.0,
            },
            4,
            4,
        ),
        (
            Init::Uniform {
                low: 0.0,
                high: f64::INFINITY,
            },
            4,
            4,
        ),
        (
            Init::Uniform {
                low: -f64::MAX,
                high: f64::MAX,
            },
            4,
            4,
        ),
        (Init::Constant(f64::NAN), 4, 4),
        (Init::Constant(f64::NEG_INFINITY), 4, 4),
        // He and LeCun divide by fan_in; Glorot by fan_in + fan_out.
        (Init::he_normal(), 0, 4),
        (Init::he_uniform(), 0, 4),
        (Init::LecunNormal, 0, 4),
        (Init::glorot_uniform(), 0, 0),
        (Init::glorot_normal(), 0, 0),
        (Init::custom(|_, _, _| f64::NAN), 4, 4),
    ];
    for (init, fan_in, fan_out) in &cases {
        assert_invalid::<f64>(init, *fan_in, *fan_out);
        assert_invalid::<f32>(init, *fan_in, *fan_out);
    }
    // A zero fan is fine where the formula does not divide by it.
    let mut w = vec![0.0f64; 16];
    Init::glorot_uniform()
        .fill(&mut w, 0, 4, &mut seeded_rng(3))
        .unwrap();
    Init::he_normal()
        .fill(&mut w, 4, 0, &mut seeded_rng(3))
        .unwrap();
}

#[test]
fn values_that_do_not_fit_the_scalar_type_are_errors_not_infinities() {
    // Finite in f64, infinite in f32.
    let cases = [
        Init::Constant(1e300),
        Init::custom(|_, _, _| -1e100),
        Init::Uniform {
            low: -1e300,
            high: 1e300,
        },
        Init::Normal { std: 1e300 },
    ];
    for init in &cases {
        assert_invalid::<f32>(init, 4, 4);
        let mut w = vec![0.0f64; 16];
        init.fill(&mut w, 4, 4, &mut seeded_rng(3)).unwrap();
        assert!(w.iter().all(|v| v.is_finite()), "{init:?}");
    }
}

#[test]
fn huge_fans_do_not_overflow() {
    let mut w = vec![1.0f64; 16];
    for init in [
        Init::glorot_uniform(),
        Init::glorot_normal(),
        Init::he_normal(),
    ] {
        init.fill(&mut w, usize::MAX, usize::MAX, &mut seeded_rng(9))
            .unwrap();
        // The scale is sqrt(2 / 3.7e19) or less: about 3e-10.
        assert!(w.iter().all(|v| v.abs() < 1e-8), "{init:?}: {w:?}");
    }
}

/// PyTorch's `torch.nn.init.calculate_gain`: linear and sigmoid 1, tanh 5/3, relu sqrt(2),
/// leaky_relu sqrt(2 / (1 + negative_slope^2)) with the default slope 0.01, selu 3/4.
#[test]
fn recommended_gain_matches_pytorch_calculate_gain() {
    let expected = [
        ("identity", 1.0),
        ("sigmoid", 1.0),
        ("tanh", 5.0 / 3.0),
        ("relu", SQRT_2),
        ("leaky_relu", (2.0f64 / (1.0 + 0.01f64.powi(2))).sqrt()),
        ("selu", 0.75),
    ];
    for (name, gain) in expected {
        let got = recommended_gain(name);
        assert!((got - gain).abs() < 1e-15, "{name}: {got} vs {gain}");
    }
    assert!((recommended_gain("leaky_relu") - 1.414_142_856_997_835).abs() < 1e-12);
    // The names are the activations' own: each of the above is a built-in's name.
    let names: Vec<&str> = all_builtin::<f64>().iter().map(|a| a.name()).collect();
    for (name, _) in expected {
        assert!(
            names.contains(&name),
            "no built-in activation is called {name}"
        );
    }
    // The he_* constructors use the ReLU gain.
    match Init::he_normal() {
        Init::HeNormal { gain } => assert_eq!(gain, recommended_gain("relu")),
        other => panic!("{other:?}"),
    }
}

/// Glorot's premise, end to end: with the recommended init, the variance of `x W` for unit
/// variance inputs stays near 1 for a linear layer (gain 1, fan_in = fan_out) and near 2 / 2 for
/// ReLU (He), so depth neither shrinks nor grows the signal.
#[test]
fn recommended_init_preserves_the_signal_variance() {
    let width = 256;
    let rows = 400;
    let mut rng = seeded_rng(77);
    let mut x = vec![0.0f64; rows * width];
    Init::Normal { std: 1.0 }
        .fill(&mut x, 1, 1, &mut rng)
        .unwrap();
    let x = nalgebra::DMatrix::from_vec(rows, width, x);
    let activation = vanishing_gradient::activation::Relu;
    for (init, relu) in [(Init::glorot_normal(), false), (Init::he_normal(), true)] {
        let mut w = vec![0.0f64; width * width];
        init.fill(&mut w, width, width, &mut rng).unwrap();
        let w = nalgebra::DMatrix::from_vec(width, width, w);
        let z = &x * &w;
        let out: Vec<f64> = if relu {
            z.iter()
                .map(|&v| Activation::<f64>::value(&activation, v))
                .collect()
        } else {
            z.iter().copied().collect()
        };
        // Second moment of the output: 1 for linear, 2 * (1/2) = 1 for ReLU after He.
        let second = out.iter().map(|v| v * v).sum::<f64>() / out.len() as f64;
        assert!((second - 1.0).abs() < 0.1, "{init:?}: {second}");
    }
}
