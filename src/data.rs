//! Datasets: inputs and targets with one row per sample, and built-in synthetic tasks that need
//! no download.
//!
//! ```
//! use vanishing_gradient::data::Dataset;
//!
//! let data = Dataset::<f64>::teacher_regression(256, 16, 4, 7).unwrap();
//! assert_eq!(data.len(), 256);
//! assert_eq!(data.input_width(), 16);
//! assert_eq!(data.target_width(), 4);
//! ```

use nalgebra::{DMatrix, RealField};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::activation::cast;
use crate::error::{check_finite, Error, Result};
use crate::init::seeded_rng;

/// Inputs (`samples x input_width`) and targets (`samples x target_width`).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<T: RealField + Copy> {
    inputs: DMatrix<T>,
    targets: DMatrix<T>,
}

impl<T: RealField + Copy> Dataset<T> {
    /// A dataset from matrices with one row per sample.
    ///
    /// # Errors
    /// [`Error::EmptyBatch`] for no rows, [`Error::ZeroWidth`] for no columns,
    /// [`Error::ShapeMismatch`] when the row counts differ, [`Error::NonFinite`] for NaN or
    /// infinite values.
    pub fn new(inputs: DMatrix<T>, targets: DMatrix<T>) -> Result<Self> {
        if inputs.nrows() == 0 {
            return Err(Error::EmptyBatch {
                context: "dataset".into(),
            });
        }
        if inputs.ncols() == 0 || targets.ncols() == 0 {
            return Err(Error::ZeroWidth {
                context: format!(
                    "dataset ({} input columns, {} target columns)",
                    inputs.ncols(),
                    targets.ncols()
                ),
            });
        }
        if targets.nrows() != inputs.nrows() {
            return Err(Error::ShapeMismatch {
                context: "dataset targets".into(),
                expected: (inputs.nrows(), targets.ncols()),
                found: targets.shape(),
            });
        }
        check_finite(inputs.as_slice(), || "dataset inputs".into())?;
        check_finite(targets.as_slice(), || "dataset targets".into())?;
        Ok(Self { inputs, targets })
    }

    /// A smooth regression task from a random "teacher": inputs are standard normal, and
    /// target `k` is `sin(x . u_k)` for a random unit direction `u_k`. Learnable by a small
    /// network, hard for a network whose gradient vanishes.
    ///
    /// # Errors
    /// As [`Dataset::new`] for zero sizes.
    pub fn teacher_regression(
        samples: usize,
        inputs: usize,
        outputs: usize,
        seed: u64,
    ) -> Result<Self> {
        let mut rng = seeded_rng(seed);
        let x = DMatrix::<f64>::from_fn(samples, inputs, |_, _| StandardNormal.sample(&mut rng));
        let mut directions =
            DMatrix::<f64>::from_fn(inputs, outputs, |_, _| StandardNormal.sample(&mut rng));
        for mut column in directions.column_iter_mut() {
            let norm = column.norm();
            if norm > 0.0 {
                column /= norm;
            }
        }
        let projected = &x * &directions;
        let y = projected.map(|v| (1.5 * v).sin());
        Self::new(x.map(cast), y.map(cast))
    }

    /// A classification task: `classes` Gaussian clusters in `inputs` dimensions, centres at
    /// distance about 4 from the origin, unit spread; targets are one-hot rows.
    ///
    /// # Errors
    /// As [`Dataset::new`] for zero sizes.
    pub fn gaussian_blobs(
        samples: usize,
        inputs: usize,
        classes: usize,
        seed: u64,
    ) -> Result<Self> {
        if classes == 0 {
            return Err(Error::ZeroWidth {
                context: "gaussian_blobs classes".into(),
            });
        }
        let mut rng = seeded_rng(seed);
        let centres = DMatrix::<f64>::from_fn(classes, inputs, |_, _| {
            let v: f64 = StandardNormal.sample(&mut rng);
            4.0 * v / (inputs as f64).sqrt().max(1.0)
        });
        let labels: Vec<usize> = (0..samples).map(|_| rng.random_range(0..classes)).collect();
        let mut x = DMatrix::<f64>::zeros(samples, inputs);
        let mut y = DMatrix::<f64>::zeros(samples, classes);
        for ((mut x_row, mut y_row), &label) in x.row_iter_mut().zip(y.row_iter_mut()).zip(&labels)
        {
            for (slot, centre) in x_row.iter_mut().zip(centres.row(label).iter()) {
                let noise: f64 = StandardNormal.sample(&mut rng);
                *slot = centre + noise;
            }
            if let Some(hot) = y_row.get_mut(label) {
                *hot = 1.0;
            }
        }
        Self::new(x.map(cast), y.map(cast))
    }

    /// The inputs, one row per sample.
    pub fn inputs(&self) -> &DMatrix<T> {
        &self.inputs
    }

    /// The targets, one row per sample.
    pub fn targets(&self) -> &DMatrix<T> {
        &self.targets
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// Whether there are no samples (never true for a constructed dataset).
    pub fn is_empty(&self) -> bool {
        self.inputs.nrows() == 0
    }

    /// Columns of the inputs.
    pub fn input_width(&self) -> usize {
        self.inputs.ncols()
    }

    /// Columns of the targets.
    pub fn target_width(&self) -> usize {
        self.targets.ncols()
    }

    /// Copies the rows `rows` of inputs and targets into `x` and `y` (which must already have
    /// `rows.len()` rows and the right widths).
    pub(crate) fn gather(&self, rows: &[usize], x: &mut DMatrix<T>, y: &mut DMatrix<T>) {
        for (source, destination) in [(&self.inputs, x), (&self.targets, y)] {
            for (c, mut column) in destination.column_iter_mut().enumerate() {
                for (slot, &r) in column.iter_mut().zip(rows) {
                    *slot = source[(r, c)];
                }
            }
        }
    }
}
