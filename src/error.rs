//! The crate's error type.
//!
//! Every fallible function returns [`Result<T>`]. Errors name what was wrong and where: the
//! layer, the epoch, the expected and the found shape.

/// A shape given as `(rows, columns)`.
pub type Shape = (usize, usize);

/// Everything that can go wrong in this crate.
///
/// The enum is `#[non_exhaustive]`: match on it with a wildcard arm, new variants may be added
/// in minor releases.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that must agree do not.
    #[error("shape mismatch in {context}: expected {expected:?} (rows, columns), found {found:?}")]
    ShapeMismatch {
        /// Where the mismatch was found (a layer name, "loss target", ...).
        context: String,
        /// The shape that was required.
        expected: Shape,
        /// The shape that was given.
        found: Shape,
    },
    /// A batch with no rows was given.
    #[error("empty batch in {context}: a batch needs at least one row")]
    EmptyBatch {
        /// Where the empty batch was given.
        context: String,
    },
    /// A layer or input of width zero was requested.
    #[error("zero width in {context}: every layer needs at least one unit")]
    ZeroWidth {
        /// The layer or input that has no units.
        context: String,
    },
    /// A value that must be finite is NaN or infinite.
    #[error("non-finite value in {context} at index {index}: {value}")]
    NonFinite {
        /// Where the value was found.
        context: String,
        /// The index of the first non-finite element (column-major for matrices).
        index: usize,
        /// The value, printed (NaN, inf or -inf).
        value: String,
    },
    /// A configuration value or argument is out of its valid range.
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// The argument or configuration field.
        name: &'static str,
        /// Why it is invalid, with the value.
        reason: String,
    },
    /// A network was used before it had any layer, or a step was asked before a backward pass.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// A training history cannot be used as given.
    #[error("{}", history_message(*epoch, layer.as_deref(), reason))]
    History {
        /// The epoch index concerned, if one.
        epoch: Option<usize>,
        /// The layer concerned, if one.
        layer: Option<String>,
        /// What is wrong.
        reason: String,
    },
}

/// The message of [`Error::History`]: "history error at epoch 3, layer `dense1`: reason",
/// leaving out the parts that are unknown.
fn history_message(epoch: Option<usize>, layer: Option<&str>, reason: &str) -> String {
    let place = match (epoch, layer) {
        (Some(epoch), Some(layer)) => format!(" at epoch {epoch}, layer `{layer}`"),
        (Some(epoch), None) => format!(" at epoch {epoch}"),
        (None, Some(layer)) => format!(" in layer `{layer}`"),
        (None, None) => String::new(),
    };
    format!("history error{place}: {reason}")
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns an error naming the first non-finite element of `values`, if any.
pub(crate) fn check_finite<T: nalgebra::RealField + Copy>(
    values: &[T],
    context: impl FnOnce() -> String,
) -> Result<()> {
    if crate::vectorised::run(AllFinite { values }) {
        return Ok(());
    }
    match values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((index, value)) => Err(Error::NonFinite {
            context: context(),
            index,
            value: format!("{value:?}"),
        }),
    }
}

/// Whether every value is finite, in one vectorised pass without an early exit: `0 * v` is
/// `0` for a finite `v` and NaN for an infinite or NaN one, and NaN survives the sum. (The
/// search for the first offender runs only when this says no.)
struct AllFinite<'a, T> {
    values: &'a [T],
}

impl<T: nalgebra::RealField + Copy> crate::vectorised::Kernel for AllFinite<'_, T> {
    type Output = bool;

    #[inline(always)]
    fn run(self) -> bool {
        let mut sums = crate::lanes::zeros::<T>();
        crate::lanes::for_each_block(
            self.values,
            self.values,
            #[inline(always)]
            |block, _| {
                for (sum, &v) in sums.iter_mut().zip(block) {
                    *sum += v * T::zero();
                }
            },
        );
        crate::lanes::sum(sums) == T::zero()
    }
}
