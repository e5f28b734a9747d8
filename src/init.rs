//! Weight initialisers: Glorot/Xavier, He/Kaiming, LeCun, constants and your own closure.
//!
//! Initialisation decides whether a deep network can learn at all: Glorot & Bengio (2010) chose
//! the variance that keeps activations and gradients at the same scale through a layer with a
//! symmetric activation, He et al. (2015) corrected it for the ReLU, which zeroes half its
//! inputs. The formulas and the gains follow PyTorch's `torch.nn.init`, with `fan_in` and
//! `fan_out` the input and output widths of a dense layer:
//!
//! | initialiser | distribution |
//! | --- | --- |
//! | [`Init::GlorotUniform`] | `U(-a, a)`, `a = gain * sqrt(6 / (fan_in + fan_out))` |
//! | [`Init::GlorotNormal`] | `N(0, s^2)`, `s = gain * sqrt(2 / (fan_in + fan_out))` |
//! | [`Init::HeUniform`] | `U(-a, a)`, `a = gain * sqrt(3 / fan_in)` |
//! | [`Init::HeNormal`] | `N(0, s^2)`, `s = gain / sqrt(fan_in)` |
//! | [`Init::LecunNormal`] | `N(0, 1 / fan_in)` |
//!
//! He's gain for the ReLU is `sqrt(2)` ([`Init::he_normal`] uses it); [`recommended_gain`] gives
//! PyTorch's `calculate_gain` for each built-in activation. Normal draws are not truncated (as in
//! PyTorch; Keras truncates at two standard deviations).
//!
//! Draws come from a [`ChaCha8Rng`](rand_chacha::ChaCha8Rng): the same seed gives the same
//! weights on every platform.
//!
//! ```
//! use vanishing_gradient::init::Init;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let mut w = vec![0.0f64; 64 * 32];
//! Init::he_normal().fill(&mut w, 64, 32, &mut rng).unwrap();
//! let var = w.iter().map(|x| x * x).sum::<f64>() / w.len() as f64;
//! assert!((var - 2.0 / 64.0).abs() < 0.005);
//! ```

use std::fmt;
use std::sync::Arc;

use nalgebra::RealField;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

use crate::activation::cast;
use crate::error::{Error, Result};

/// A user-supplied initialiser: `(fan_in, fan_out, rng) -> value`, called once per element.
pub type InitFn = dyn Fn(usize, usize, &mut ChaCha8Rng) -> f64 + Send + Sync;

/// How to fill a weight matrix or bias vector.
#[derive(Clone)]
#[non_exhaustive]
pub enum Init {
    /// Glorot & Bengio (2010) uniform, with a gain.
    GlorotUniform {
        /// Multiplies the bound (1 for sigmoid, 5/3 for tanh in PyTorch's convention).
        gain: f64,
    },
    /// Glorot & Bengio (2010) normal, with a gain.
    GlorotNormal {
        /// Multiplies the standard deviation.
        gain: f64,
    },
    /// He et al. (2015) uniform (fan-in mode), with a gain (`sqrt(2)` for ReLU).
    HeUniform {
        /// Multiplies the bound's `sqrt(3 / fan_in)`.
        gain: f64,
    },
    /// He et al. (2015) normal (fan-in mode), with a gain (`sqrt(2)` for ReLU).
    HeNormal {
        /// Multiplies the standard deviation `1 / sqrt(fan_in)`.
        gain: f64,
    },
    /// LeCun normal, `N(0, 1 / fan_in)` (the init SELU networks assume).
    LecunNormal,
    /// `U(low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound (greater than `low`).
        high: f64,
    },
    /// `N(0, std^2)`: "plain small init", such as `std = 0.01`.
    Normal {
        /// Standard deviation (non-negative).
        std: f64,
    },
    /// Every element the same value (0 for [`Init::Zeros`]-like biases).
    Constant(f64),
    /// Every element zero: the usual bias initialiser.
    Zeros,
    /// Your own initialiser.
    Custom(Arc<InitFn>),
}

impl fmt::Debug for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::GlorotUniform { gain } => write!(f, "GlorotUniform {{ gain: {gain} }}"),
            Init::GlorotNormal { gain } => write!(f, "GlorotNormal {{ gain: {gain} }}"),
            Init::HeUniform { gain } => write!(f, "HeUniform {{ gain: {gain} }}"),
            Init::HeNormal { gain } => write!(f, "HeNormal {{ gain: {gain} }}"),
            Init::LecunNormal => write!(f, "LecunNormal"),
            Init::Uniform { low, high } => write!(f, "Uniform {{ low: {low}, high: {high} }}"),
            Init::Normal { std } => write!(f, "Normal {{ std: {std} }}"),
            Init::Constant(v) => write!(f, "Constant({v})"),
            Init::Zeros => write!(f, "Zeros"),
            Init::Custom(_) => write!(f, "Custom(..)"),
        }
    }
}

impl Init {
    /// Glorot uniform with gain 1 (Keras's default for dense layers).
    pub fn glorot_uniform() -> Self {
        Init::GlorotUniform { gain: 1.0 }
    }
    /// Glorot normal with gain 1.
    pub fn glorot_normal() -> Self {
        Init::GlorotNormal { gain: 1.0 }
    }
    /// He uniform with the ReLU gain `sqrt(2)`.
    pub fn he_uniform() -> Self {
        Init::HeUniform {
            gain: std::f64::consts::SQRT_2,
        }
    }
    /// He normal with the ReLU gain `sqrt(2)`: `N(0, 2 / fan_in)`.
    pub fn he_normal() -> Self {
        Init::HeNormal {
            gain: std::f64::consts::SQRT_2,
        }
    }
    /// A user closure `(fan_in, fan_out, rng) -> value`.
    pub fn custom(
        f: impl Fn(usize, usize, &mut ChaCha8Rng) -> f64 + Send + Sync + 'static,
    ) -> Self {
        Init::Custom(Arc::new(f))
    }

    /// Fills `values` for a layer with `fan_in` inputs and `fan_out` outputs, drawing from `rng`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a non-finite or negative gain or standard deviation, an
    /// empty or reversed uniform range, a zero fan where the formula divides by it, or a custom
    /// closure that returns a non-finite value.
    pub fn fill<T: RealField + Copy>(
        &self,
        values: &mut [T],
        fan_in: usize,
        fan_out: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<()> {
        let fan_in_f = fan_in as f64;
        let fan_sum = (fan_in + fan_out) as f64;
        match self {
            Init::GlorotUniform { gain } => {
                let gain = check_scale("gain", *gain)?;
                let a = gain * (6.0 / positive_fan(fan_sum)?).sqrt();
                fill_uniform(values, -a, a, rng)
            }
            Init::GlorotNormal { gain } => {
                let gain = check_scale("gain", *gain)?;
                fill_normal(values, gain * (2.0 / positive_fan(fan_sum)?).sqrt(), rng)
            }
            Init::HeUniform { gain } => {
                let gain = check_scale("gain", *gain)?;
                let a = gain * (3.0 / positive_fan(fan_in_f)?).sqrt();
                fill_uniform(values, -a, a, rng)
            }
            Init::HeNormal { gain } => {
                let gain = check_scale("gain", *gain)?;
                fill_normal(values, gain / positive_fan(fan_in_f)?.sqrt(), rng)
            }
            Init::LecunNormal => fill_normal(values, 1.0 / positive_fan(fan_in_f)?.sqrt(), rng),
            Init::Uniform { low, high } => {
                if !(low.is_finite() && high.is_finite() && low < high) {
                    return Err(Error::InvalidArgument {
                        name: "uniform range",
                        reason: format!("need finite low < high, got [{low}, {high})"),
                    });
                }
                fill_uniform(values, *low, *high, rng)
            }
            Init::Normal { std } => fill_normal(values, check_scale("std", *std)?, rng),
            Init::Constant(v) => {
                if !v.is_finite() {
                    return Err(Error::InvalidArgument {
                        name: "constant",
                        reason: format!("must be finite, got {v}"),
                    });
                }
                values.fill(cast(*v));
                Ok(())
            }
            Init::Zeros => {
                values.fill(T::zero());
                Ok(())
            }
            Init::Custom(f) => {
                for v in values.iter_mut() {
                    let x = f(fan_in, fan_out, rng);
                    if !x.is_finite() {
                        return Err(Error::InvalidArgument {
                            name: "custom initialiser",
                            reason: format!("returned a non-finite value {x}"),
                        });
                    }
                    *v = cast(x);
                }
                Ok(())
            }
        }
    }
}

/// PyTorch's `calculate_gain` for an activation, by its [`name`](crate::activation::Activation::name):
/// 1 for sigmoid and identity, 5/3 for tanh, `sqrt(2)` for ReLU, `sqrt(2 / (1 + slope^2))` for
/// leaky ReLU with slope 0.01, 3/4 for SELU; 1 for the rest.
pub fn recommended_gain(activation_name: &str) -> f64 {
    match activation_name {
        "tanh" => 5.0 / 3.0,
        "relu" => std::f64::consts::SQRT_2,
        "leaky_relu" => (2.0f64 / (1.0 + 0.01 * 0.01)).sqrt(),
        "selu" => 0.75,
        _ => 1.0,
    }
}

fn check_scale(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::InvalidArgument {
            name,
            reason: format!("must be finite and non-negative, got {v}"),
        })
    }
}

fn positive_fan(fan: f64) -> Result<f64> {
    if fan > 0.0 {
        Ok(fan)
    } else {
        Err(Error::InvalidArgument {
            name: "fan",
            reason: "the initialiser divides by a fan of zero".into(),
        })
    }
}

fn fill_uniform<T: RealField + Copy>(
    values: &mut [T],
    low: f64,
    high: f64,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    if low == high {
        values.fill(cast(low));
        return Ok(());
    }
    let dist = Uniform::new(low, high).map_err(|e| Error::InvalidArgument {
        name: "uniform range",
        reason: e.to_string(),
    })?;
    for v in values.iter_mut() {
        *v = cast(dist.sample(rng));
    }
    Ok(())
}

fn fill_normal<T: RealField + Copy>(
    values: &mut [T],
    std: f64,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let dist = Normal::new(0.0, std).map_err(|e| Error::InvalidArgument {
        name: "std",
        reason: e.to_string(),
    })?;
    for v in values.iter_mut() {
        *v = cast(dist.sample(rng));
    }
    Ok(())
}

/// A seeded generator: the crate's one source of randomness.
pub fn seeded_rng(seed: u64) -> ChaCha8Rng {
    use rand::SeedableRng;
    ChaCha8Rng::seed_from_u64(seed)
}
