//! A sequential network: forward, backward (returning a [`GradientReport`]), optimizer step and
//! an epoch loop.
//!
//! ```
//! use vanishing_gradient::prelude::*;
//!
//! let data = Dataset::<f64>::teacher_regression(128, 8, 2, 1)?;
//! let mut net = NetworkBuilder::<f64>::new(8)
//!     .dense(16, Tanh)
//!     .dense(2, Identity)
//!     .loss(Mse)
//!     .seed(42)
//!     .build()?;
//! let mut optimizer = Adam::new(0.01)?;
//! let mut rng = vanishing_gradient::init::seeded_rng(0);
//! let first = net.train_epoch(&data, 32, &mut optimizer, &mut rng)?;
//! let mut last = first.clone();
//! for _ in 0..20 {
//!     last = net.train_epoch(&data, 32, &mut optimizer, &mut rng)?;
//! }
//! assert!(last.mean_loss < first.mean_loss);
//! // Per layer: gradient RMS, weight norm, saturation, dead units, update ratio.
//! println!("{}", last.report);
//! # Ok::<(), vanishing_gradient::Error>(())
//! ```

use nalgebra::{DMatrix, RealField};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::activation::Activation;
use crate::data::Dataset;
use crate::error::{check_finite, Error, Result};
use crate::history::{ActivityStats, GradientStats, Recorder, WeightElement};
use crate::init::{recommended_gain, seeded_rng, Init};
use crate::layer::{Dense, Layer, ParameterMut, StatisticsLevel};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::report::{GradientReport, LayerReport};

enum LayerSpec<T: RealField + Copy> {
    Dense {
        name: Option<String>,
        units: usize,
        activation: Box<dyn Activation<T>>,
        weight_init: Option<Init>,
        bias_init: Init,
    },
    Custom(Box<dyn Layer<T>>),
}

/// Builds a [`Network`]: the input width, then layers from the input side, then the loss.
///
/// Defaults: layers are named `dense1`, `dense2`, ...; weights use Glorot uniform for bounded
/// activations (sigmoid, tanh, identity, softplus) and He normal (with the activation's gain) for
/// the ReLU family, as PyTorch's `calculate_gain` suggests; biases start at zero; the seed is 0;
/// the loss is mean squared error.
pub struct NetworkBuilder<T: RealField + Copy> {
    input_width: usize,
    specs: Vec<LayerSpec<T>>,
    loss: Option<Box<dyn Loss<T>>>,
    seed: u64,
    clip_norm: Option<f64>,
}

impl<T: RealField + Copy> NetworkBuilder<T> {
    /// A builder for a network whose input batches have `input_width` columns.
    pub fn new(input_width: usize) -> Self {
        Self {
            input_width,
            specs: Vec::new(),
            loss: None,
            seed: 0,
            clip_norm: None,
        }
    }

    /// Appends a dense layer with the default initialisation for its activation.
    pub fn dense(self, units: usize, activation: impl Activation<T> + 'static) -> Self {
        self.push_dense(units, Box::new(activation), None)
    }

    /// Appends a dense layer with the given weight initialiser.
    pub fn dense_with_init(
        self,
        units: usize,
        activation: impl Activation<T> + 'static,
        weight_init: Init,
    ) -> Self {
        self.push_dense(units, Box::new(activation), Some(weight_init))
    }

    /// Appends a dense layer with a boxed activation (chosen at run time).
    pub fn dense_boxed(
        self,
        units: usize,
        activation: Box<dyn Activation<T>>,
        weight_init: Option<Init>,
    ) -> Self {
        self.push_dense(units, activation, weight_init)
    }

    fn push_dense(
        mut self,
        units: usize,
        activation: Box<dyn Activation<T>>,
        weight_init: Option<Init>,
    ) -> Self {
        self.specs.push(LayerSpec::Dense {
            name: None,
            units,
            activation,
            weight_init,
            bias_init: Init::Zeros,
        });
        self
    }

    /// Sets the bias initialiser of the last dense layer added (default: zeros). A strongly
    /// negative constant bias on ReLU layers produces dead units.
    pub fn bias_init(mut self, init: Init) -> Self {
        if let Some(LayerSpec::Dense { bias_init, .. }) = self.specs.last_mut() {
            *bias_init = init;
        }
        self
    }

    /// Names the last dense layer added.
    pub fn name(mut self, layer_name: impl Into<String>) -> Self {
        if let Some(LayerSpec::Dense { name, .. }) = self.specs.last_mut() {
            *name = Some(layer_name.into());
        }
        self
    }

    /// Appends a layer of your own.
    pub fn layer(mut self, layer: Box<dyn Layer<T>>) -> Self {
        self.specs.push(LayerSpec::Custom(layer));
        self
    }

    /// The loss (default: [`Mse`](crate::loss::Mse)).
    pub fn loss(mut self, loss: impl Loss<T> + 'static) -> Self {
        self.loss = Some(Box::new(loss));
        self
    }

    /// The seed of the weight initialisation.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Clips the global gradient norm (every weight and bias) to `max_norm` before each
    /// optimizer step (Pascanu et al. 2013). Reports keep the unclipped norms.
    pub fn clip_gradient_norm(mut self, max_norm: f64) -> Self {
        self.clip_norm = Some(max_norm);
        self
    }

    /// Builds the network.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for a zero input width or a layer without units;
    /// [`Error::InvalidState`] for no layers; [`Error::ShapeMismatch`] when a custom layer's
    /// input width does not match the previous layer; [`Error::InvalidArgument`] for a
    /// duplicate layer name or an invalid clipping norm.
    pub fn build(self) -> Result<Network<T>> {
        if self.input_width == 0 {
            return Err(Error::ZeroWidth {
                context: "network input".into(),
            });
        }
        if self.specs.is_empty() {
            return Err(Error::InvalidState(
                "a network needs at least one layer".into(),
            ));
        }
        if let Some(c) = self.clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::InvalidArgument {
                    name: "clip_gradient_norm",
                    reason: format!("must be finite and positive, got {c}"),
                });
            }
        }
        let mut rng = seeded_rng(self.seed);
        let mut layers: Vec<Box<dyn Layer<T>>> = Vec::with_capacity(self.specs.len());
        let mut width = self.input_width;
        for (index, spec) in self.specs.into_iter().enumerate() {
            let layer: Box<dyn Layer<T>> = match spec {
                LayerSpec::Dense {
                    name,
                    units,
                    activation,
                    weight_init,
                    bias_init,
                } => {
                    let init = weight_init.unwrap_or_else(|| default_init(activation.name()));
                    let name = name.unwrap_or_else(|| format!("dense{}", index + 1));
                    Box::new(Dense::new(
                        name, width, units, activation, &init, &bias_init, &mut rng,
                    )?)
                }
                LayerSpec::Custom(layer) => {
                    if layer.input_width() != width {
                        return Err(Error::ShapeMismatch {
                            context: format!("input of layer {:?}", layer.name()),
                            expected: (1, width),
                            found: (1, layer.input_width()),
                        });
                    }
                    if layer.output_width() == 0 {
                        return Err(Error::ZeroWidth {
                            context: format!("layer {:?}", layer.name()),
                        });
                    }
                    layer
                }
            };
            if layers.iter().any(|l| l.name() == layer.name()) {
                return Err(Error::InvalidArgument {
                    name: "layer name",
                    reason: format!("{:?} is used twice", layer.name()),
                });
            }
            width = layer.output_width();
            layers.push(layer);
        }
        let report = GradientReport {
            loss: f64::NAN,
            batch_size: 0,
            layers: layers
                .iter()
                .enumerate()
                .map(|(depth, l)| {
                    LayerReport::new(
                        l.name().to_string(),
                        depth,
                        l.activation_name(),
                        l.weight_count(),
                        l.output_width(),
                    )
                })
                .collect(),
        };
        Ok(Network {
            input_width: self.input_width,
            grads: layers
                .iter()
                .map(|l| DMatrix::zeros(0, l.output_width()))
                .collect(),
            layers,
            loss: self.loss.unwrap_or_else(|| Box::new(crate::loss::Mse)),
            report,
            clip_norm: self.clip_norm,
            has_gradients: false,
            batch_x: DMatrix::zeros(0, 0),
            batch_y: DMatrix::zeros(0, 0),
            order: Vec::new(),
            report_enabled: true,
            statistics_level: None,
            layers_honour_level: Vec::new(),
            weight_statistics_deferred: false,
        })
    }
}

/// The weight initialiser used when none is given: He normal with PyTorch's gain for the ReLU
/// family and SELU's LeCun normal, Glorot uniform otherwise.
pub fn default_init(activation_name: &str) -> Init {
    match activation_name {
        "relu" | "leaky_relu" | "elu" | "gelu" | "silu" => Init::HeNormal {
            gain: recommended_gain(activation_name).max(std::f64::consts::SQRT_2),
        },
        "selu" => Init::LecunNormal,
        _ => Init::glorot_uniform(),
    }
}

/// A sequential stack of layers with a loss.
#[derive(Debug)]
pub struct Network<T: RealField + Copy> {
    input_width: usize,
    layers: Vec<Box<dyn Layer<T>>>,
    loss: Box<dyn Loss<T>>,
    /// `grads[l]`: dL/d(output of layer l), batch x width.
    grads: Vec<DMatrix<T>>,
    report: GradientReport,
    clip_norm: Option<f64>,
    has_gradients: bool,
    batch_x: DMatrix<T>,
    batch_y: DMatrix<T>,
    order: Vec<usize>,
    /// Whether backward passes fill the report's statistics ([`Network::set_report`]).
    report_enabled: bool,
    /// The statistics level last given to every layer (`None` before the first pass).
    statistics_level: Option<StatisticsLevel>,
    /// Per layer: whether it honoured `statistics_level`.
    layers_honour_level: Vec<bool>,
    /// Whether the last backward pass left the weight statistics to the step.
    weight_statistics_deferred: bool,
}

/// The outcome of one [`Network::train_epoch`].
#[derive(Debug, Clone, PartialEq)]
pub struct EpochSummary {
    /// Mean of the batch losses.
    pub mean_loss: f64,
    /// Minibatches taken.
    pub batches: usize,
    /// The epoch's reports averaged over its batches (maxima for `weight_grad_max_abs`); the
    /// loss is the mean loss.
    pub report: GradientReport,
}

impl<T: RealField + Copy> Network<T> {
    /// Columns of an input batch.
    pub fn input_width(&self) -> usize {
        self.input_width
    }

    /// Columns of the output.
    pub fn output_width(&self) -> usize {
        self.layers.last().map_or(0, |l| l.output_width())
    }

    /// The layers, the input side first.
    pub fn layers(&self) -> &[Box<dyn Layer<T>>] {
        &self.layers
    }

    /// Calls `visit` with each parameter of layer `layer` (0 is the input side), mutably: for
    /// finite-difference checks, weight surgery or loading weights. Does nothing for an index
    /// past the last layer.
    pub fn visit_layer_parameters_mut(
        &mut self,
        layer: usize,
        visit: &mut dyn FnMut(ParameterMut<'_, T>),
    ) {
        if let Some(l) = self.layers.get_mut(layer) {
            l.visit_parameters_mut(visit);
        }
    }

    /// The loss.
    pub fn loss_function(&self) -> &dyn Loss<T> {
        self.loss.as_ref()
    }

    /// The report of the last backward pass (and step, for the update ratios).
    ///
    /// After [`backward`](Network::backward) every field but the update ratios is filled;
    /// [`step`](Network::step) adds the update ratios. After
    /// [`train_step`](Network::train_step) (and so in [`train_epoch`](Network::train_epoch))
    /// every field is filled too, but the weight statistics (`weight_grad_l2`,
    /// `weight_grad_rms`, `weight_grad_max_abs`, `weight_l2`) are measured in the optimizer's
    /// pass over the weights ([`Optimizer::update_measured`]) instead of in the backward pass:
    /// the same values (of the gradient and the weights before the update), one pass fewer.
    /// With the report turned off ([`set_report`](Network::set_report)) only the loss and
    /// the batch size are filled.
    pub fn report(&self) -> &GradientReport {
        &self.report
    }

    /// Turns the [`GradientReport`]'s per-layer statistics on (the default) or off.
    ///
    /// Off, backward passes skip every statistic (derivative sums, gradient and weight norms,
    /// update ratios): the per-layer fields of the report are NaN (update ratios `None`), the
    /// loss and batch size are still filled. This is for measuring what the report costs (the
    /// `breakdown` group of `benches/training_step.rs`) or for training where nobody reads the
    /// report; with [`Network::train_step`] the report costs about 1 % of a step
    /// (docs/performance.md). Custom layers that do not implement
    /// [`Layer::set_statistics`] keep computing their statistics; the network ignores them.
    ///
    /// ```
    /// use vanishing_gradient::prelude::*;
    /// use nalgebra::DMatrix;
    ///
    /// let mut net = NetworkBuilder::<f64>::new(2).dense(3, Tanh).dense(1, Identity).build()?;
    /// net.set_report(false);
    /// let report = net.backward(&DMatrix::from_element(4, 2, 0.5), &DMatrix::zeros(4, 1))?;
    /// assert!(report.loss.is_finite());
    /// assert!(report.layers[0].weight_grad_l2.is_nan());
    /// assert!(!net.report_enabled());
    /// # Ok::<(), vanishing_gradient::Error>(())
    /// ```
    pub fn set_report(&mut self, enabled: bool) {
        self.report_enabled = enabled;
    }

    /// Whether the report's per-layer statistics are computed ([`Network::set_report`]).
    pub fn report_enabled(&self) -> bool {
        self.report_enabled
    }

    /// Gives every layer the statistics level of the next backward pass (only when it changes).
    fn set_statistics_level(&mut self, level: StatisticsLevel) {
        if self.statistics_level == Some(level)
            && self.layers_honour_level.len() == self.layers.len()
        {
            return;
        }
        self.layers_honour_level.clear();
        for layer in &mut self.layers {
            self.layers_honour_level.push(layer.set_statistics(level));
        }
        self.statistics_level = Some(level);
    }

    /// The network's output for `input` (`batch x input_width`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::EmptyBatch`], [`Error::NonFinite`] for bad input.
    pub fn forward(&mut self, input: &DMatrix<T>) -> Result<&DMatrix<T>> {
        self.check_input(input)?;
        self.forward_unchecked(input)
    }

    fn check_input(&self, input: &DMatrix<T>) -> Result<()> {
        if input.ncols() != self.input_width {
            return Err(Error::ShapeMismatch {
                context: "network input".into(),
                expected: (input.nrows(), self.input_width),
                found: input.shape(),
            });
        }
        if input.nrows() == 0 {
            return Err(Error::EmptyBatch {
                context: "network input".into(),
            });
        }
        check_finite(input.as_slice(), || "network input".into())
    }

    fn forward_unchecked(&mut self, input: &DMatrix<T>) -> Result<&DMatrix<T>> {
        for l in 0..self.layers.len() {
            let (before, rest) = self.layers.split_at_mut(l);
            let layer_input = before.last().map_or(input, |p| p.output());
            if let Some(layer) = rest.first_mut() {
                layer.forward(layer_input)?;
            }
        }
        self.layers
            .last()
            .map(|l| l.output())
            .ok_or_else(|| Error::InvalidState("network without layers".into()))
    }

    /// The loss on `input` against `target`, without gradients.
    ///
    /// # Errors
    /// As [`Network::forward`]; shape errors from the loss.
    pub fn loss_on(&mut self, input: &DMatrix<T>, target: &DMatrix<T>) -> Result<T> {
        self.forward(input)?;
        let output = self
            .layers
            .last()
            .map(|l| l.output())
            .ok_or_else(|| Error::InvalidState("network without layers".into()))?;
        self.loss.loss(output, target)
    }

    /// The forward and backward pass for one batch: computes every parameter gradient and
    /// returns the [`GradientReport`] (loss, per-layer gradient, weight and activity
    /// statistics). Call [`step`](Network::step) to apply an optimizer.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::EmptyBatch`], [`Error::NonFinite`] for bad input or
    /// target. A non-finite loss or gradient is not an error: it shows in the report.
    pub fn backward(&mut self, input: &DMatrix<T>, target: &DMatrix<T>) -> Result<&GradientReport> {
        let level = if self.report_enabled {
            StatisticsLevel::All
        } else {
            StatisticsLevel::None
        };
        self.backward_with(input, target, level)?;
        Ok(&self.report)
    }

    /// The backward pass with the layers' statistics at `level`.
    fn backward_with(
        &mut self,
        input: &DMatrix<T>,
        target: &DMatrix<T>,
        level: StatisticsLevel,
    ) -> Result<()> {
        self.check_input(input)?;
        let expected = (input.nrows(), self.output_width());
        if target.shape() != expected {
            return Err(Error::ShapeMismatch {
                context: "loss target".into(),
                expected,
                found: target.shape(),
            });
        }
        check_finite(target.as_slice(), || "loss target".into())?;
        self.set_statistics_level(level);
        self.weight_statistics_deferred = level == StatisticsLevel::WithoutWeightPass;
        self.forward_unchecked(input)?;
        let batch = input.nrows();
        for (g, layer) in self.grads.iter_mut().zip(&self.layers) {
            if g.nrows() != batch {
                *g = DMatrix::zeros(batch, layer.output_width());
            }
        }
        let (Some(last_layer), Some(last_grad)) = (self.layers.last(), self.grads.last_mut())
        else {
            return Err(Error::InvalidState("network without layers".into()));
        };
        let loss = self
            .loss
            .loss_and_gradient(last_layer.output(), target, last_grad)?;
        self.report.loss = nalgebra::try_convert(loss).unwrap_or(f64::NAN);
        self.report.batch_size = batch;
        for l in (0..self.layers.len()).rev() {
            let (grads_before, grads_rest) = self.grads.split_at_mut(l);
            let (layers_before, layers_rest) = self.layers.split_at_mut(l);
            let (Some(layer), Some(output_grad)) =
                (layers_rest.first_mut(), grads_rest.first_mut())
            else {
                continue;
            };
            let layer_input = layers_before.last().map_or(input, |p| p.output());
            let stats = layer.backward(layer_input, output_grad, grads_before.last_mut())?;
            let honoured = self.layers_honour_level.get(l).copied().unwrap_or(false);
            if let Some(entry) = self.report.layers.get_mut(l) {
                if !self.report_enabled {
                    clear_statistics(entry);
                    continue;
                }
                entry.weight_grad_l2 = stats.weight_grad_sq.sqrt();
                entry.weight_grad_rms =
                    (stats.weight_grad_sq / entry.weight_count.max(1) as f64).sqrt();
                entry.weight_grad_max_abs = stats.weight_grad_max_abs;
                entry.bias_grad_l2 = stats.bias_grad_sq.sqrt();
                entry.weight_l2 = stats.weight_sq.sqrt();
                entry.mean_derivative_ratio = stats.mean_derivative_ratio;
                let units = entry.units.max(1) as f64;
                entry.saturated_share = stats.saturated_units as f64 / units;
                entry.dead_share = stats.dead_units as f64 / units;
                entry.update_ratio = None;
                if honoured && level == StatisticsLevel::WithoutWeightPass {
                    // Filled by the step, from the optimizer's pass.
                    entry.weight_grad_l2 = f64::NAN;
                    entry.weight_grad_rms = f64::NAN;
                    entry.weight_grad_max_abs = f64::NAN;
                    entry.weight_l2 = f64::NAN;
                }
            }
        }
        self.has_gradients = true;
        Ok(())
    }

    /// Applies `optimizer` to every parameter with the gradients of the last
    /// [`backward`](Network::backward), clipping the global norm first if the network was
    /// built with [`clip_gradient_norm`](NetworkBuilder::clip_gradient_norm). Fills the
    /// update ratios of the report.
    ///
    /// Use one optimizer per network for its whole life: it keeps state per parameter slot.
    ///
    /// # Errors
    /// [`Error::InvalidState`] when no backward pass preceded this step.
    pub fn step(&mut self, optimizer: &mut dyn Optimizer<T>) -> Result<&GradientReport> {
        if !self.has_gradients {
            return Err(Error::InvalidState(
                "step() needs a backward() first".into(),
            ));
        }
        self.has_gradients = false;
        let scale = self.clip_norm.and_then(|max_norm| {
            let norm = self.report.global_grad_norm();
            (norm.is_finite() && norm > max_norm)
                .then(|| crate::activation::cast::<T>(max_norm / norm))
        });
        optimizer.begin_step();
        let deferred = std::mem::take(&mut self.weight_statistics_deferred);
        let report_enabled = self.report_enabled;
        let mut slot = 0;
        let layers = self
            .layers
            .iter_mut()
            .zip(self.report.layers.iter_mut())
            .zip(&self.layers_honour_level);
        for ((layer, entry), &honoured) in layers {
            let measure = deferred && honoured;
            let mut weight_delta_sq = 0.0;
            let mut measurement = None;
            layer.visit_parameters_mut(&mut |p| {
                if let Some(s) = scale {
                    for g in p.grad.iter_mut() {
                        *g *= s;
                    }
                }
                if p.name == "weights" && measure {
                    let m = optimizer.update_measured(slot, p.value, p.grad);
                    weight_delta_sq = m.squared_change;
                    measurement = Some(m);
                } else {
                    let delta_sq = optimizer.update(slot, p.value, p.grad);
                    if p.name == "weights" {
                        weight_delta_sq = to_f64(delta_sq);
                    }
                }
                slot += 1;
            });
            if !report_enabled {
                continue;
            }
            if let Some(m) = measurement {
                entry.weight_grad_l2 = m.grad_sq.sqrt();
                entry.weight_grad_rms = (m.grad_sq / entry.weight_count.max(1) as f64).sqrt();
                entry.weight_grad_max_abs = m.grad_max_abs;
                entry.weight_l2 = m.value_sq.sqrt();
            }
            entry.update_ratio =
                (entry.weight_l2 > 0.0).then(|| weight_delta_sq.sqrt() / entry.weight_l2);
        }
        Ok(&self.report)
    }

    /// [`backward`](Network::backward) then [`step`](Network::step) on one batch.
    ///
    /// # Errors
    /// As those two.
    pub fn train_step(
        &mut self,
        input: &DMatrix<T>,
        target: &DMatrix<T>,
        optimizer: &mut dyn Optimizer<T>,
    ) -> Result<&GradientReport> {
        // Clipping needs the gradient norms before the step, so it keeps them in the backward
        // pass; otherwise the step measures the weights in the optimizer's pass.
        let level = match (self.report_enabled, self.clip_norm) {
            (false, _) => StatisticsLevel::None,
            (true, Some(_)) => StatisticsLevel::All,
            (true, None) => StatisticsLevel::WithoutWeightPass,
        };
        // A step with two-thread products, called from outside rayon's pool, runs on a pool
        // thread: its halves are then handed over through that thread's own deque, not
        // through rayon's global queue once per product (one handover per step instead of
        // about six per layer).
        #[cfg(feature = "parallel")]
        if rayon::current_thread_index().is_none()
            && crate::matmul::splits_products(
                input.nrows(),
                self.layers
                    .iter()
                    .map(|l| (l.input_width(), l.output_width())),
            )
        {
            return rayon::scope(|_| {
                self.backward_with(input, target, level)?;
                self.step(optimizer).map(|_| ())
            })
            .map(|()| &self.report);
        }
        self.backward_with(input, target, level)?;
        self.step(optimizer)
    }

    /// One pass over `data` in shuffled minibatches of `batch_size` rows (shuffled by `rng`),
    /// one optimizer step per batch.
    ///
    /// When `batch_size` does not divide the dataset, the trailing partial batch is skipped
    /// (as PyTorch's `drop_last=True`): every batch has the same size, so the layers' buffers
    /// are reused and the steps allocate nothing; shuffling lets every sample take part over
    /// the epochs. A `batch_size` larger than the dataset is taken as the dataset's size.
    ///
    /// With the `parallel` feature (default) the epoch runs on a rayon worker thread, so that
    /// the two-thread matrix products allocate nothing; from a thread outside rayon's pool,
    /// handing the epoch over costs rayon one small allocation per 63 epochs.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `batch_size == 0`, [`Error::ShapeMismatch`] when the
    /// dataset's widths do not fit the network.
    pub fn train_epoch(
        &mut self,
        data: &Dataset<T>,
        batch_size: usize,
        optimizer: &mut dyn Optimizer<T>,
        rng: &mut ChaCha8Rng,
    ) -> Result<EpochSummary> {
        // With the `parallel` feature the epoch runs on a rayon worker thread: the large
        // products' `rayon::join` then goes through the worker's own deque, which allocates
        // nothing, instead of rayon's global injector, which allocates a block every 63 jobs.
        #[cfg(feature = "parallel")]
        return rayon::scope(|_| self.run_epoch(data, batch_size, optimizer, rng));
        #[cfg(not(feature = "parallel"))]
        return self.run_epoch(data, batch_size, optimizer, rng);
    }

    fn run_epoch(
        &mut self,
        data: &Dataset<T>,
        batch_size: usize,
        optimizer: &mut dyn Optimizer<T>,
        rng: &mut ChaCha8Rng,
    ) -> Result<EpochSummary> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                reason: "must be at least 1".into(),
            });
        }
        if data.input_width() != self.input_width || data.target_width() != self.output_width() {
            return Err(Error::ShapeMismatch {
                context: "dataset (input and target columns)".into(),
                expected: (self.input_width, self.output_width()),
                found: (data.input_width(), data.target_width()),
            });
        }
        let batch = batch_size.min(data.len());
        if self.batch_x.shape() != (batch, data.input_width()) {
            self.batch_x = DMatrix::zeros(batch, data.input_width());
            self.batch_y = DMatrix::zeros(batch, data.target_width());
        }
        if self.order.len() != data.len() {
            // Reuses the capacity: alternating datasets allocates only while it grows.
            self.order.clear();
            self.order.extend(0..data.len());
        }
        self.order.shuffle(rng);
        let mut accumulated = self.report.clone();
        reset_accumulator(&mut accumulated);
        let batches = data.len() / batch;
        let mut batch_x = std::mem::take(&mut self.batch_x);
        let mut batch_y = std::mem::take(&mut self.batch_y);
        let mut outcome = Ok(());
        let order = std::mem::take(&mut self.order);
        for rows in order.chunks_exact(batch) {
            data.gather(rows, &mut batch_x, &mut batch_y);
            match self.train_step(&batch_x, &batch_y, optimizer) {
                Ok(report) => accumulate(&mut accumulated, report),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        self.order = order;
        self.batch_x = batch_x;
        self.batch_y = batch_y;
        outcome?;
        finish_average(&mut accumulated, batches);
        Ok(EpochSummary {
            mean_loss: accumulated.loss,
            batches,
            report: accumulated,
        })
    }

    /// The mean loss over a whole dataset, in batches of `batch_size`, without gradients.
    ///
    /// # Errors
    /// As [`Network::train_epoch`].
    pub fn evaluate(&mut self, data: &Dataset<T>, batch_size: usize) -> Result<f64> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                reason: "must be at least 1".into(),
            });
        }
        let mut total = 0.0;
        let mut start = 0;
        while start < data.len() {
            let end = (start + batch_size).min(data.len());
            let x = data.inputs().rows(start, end - start).clone_owned();
            let y = data.targets().rows(start, end - start).clone_owned();
            let loss: f64 = nalgebra::try_convert(self.loss_on(&x, &y)?).unwrap_or(f64::NAN);
            total += loss * (end - start) as f64;
            start = end;
        }
        Ok(total / data.len() as f64)
    }
}

impl<T: RealField + Copy + WeightElement> Network<T> {
    /// Records an epoch into `recorder`: the epoch's mean loss (and `validation_loss` if
    /// given), and per layer its current weights, the epoch's gradient statistics and activity
    /// statistics from `summary`. The core writes histories through the same [`Recorder`] as
    /// any other trainer.
    ///
    /// # Errors
    /// The recorder's [`Error::History`] errors (a layer list that changed between epochs).
    pub fn record_epoch(
        &self,
        recorder: &mut Recorder,
        summary: &EpochSummary,
        validation_loss: Option<f64>,
    ) -> Result<()> {
        let mut epoch = recorder.epoch(summary.mean_loss);
        if let Some(v) = validation_loss {
            epoch = epoch.validation_loss(v);
        }
        for (layer, report) in self.layers.iter().zip(&summary.report.layers) {
            let mut entry = epoch.layer(layer.name())?;
            if let Some(weights) = layer.parameters().into_iter().find(|p| p.name == "weights") {
                entry = entry.weights(weights.value)?;
            }
            entry
                .gradient_stats(GradientStats {
                    l2: report.weight_grad_l2,
                    rms: report.weight_grad_rms,
                    max_abs: report.weight_grad_max_abs,
                    count: report.weight_count,
                })?
                .activity(ActivityStats {
                    mean_derivative_ratio: report.mean_derivative_ratio,
                    saturated_share: report.saturated_share,
                    dead_share: report.dead_share,
                })?;
        }
        epoch.finish()
    }
}

fn to_f64<T: RealField + Copy>(v: T) -> f64 {
    nalgebra::try_convert(v).unwrap_or(f64::NAN)
}

/// The per-layer statistics of a report with the report turned off.
fn clear_statistics(entry: &mut LayerReport) {
    entry.weight_grad_l2 = f64::NAN;
    entry.weight_grad_rms = f64::NAN;
    entry.weight_grad_max_abs = f64::NAN;
    entry.bias_grad_l2 = f64::NAN;
    entry.weight_l2 = f64::NAN;
    entry.mean_derivative_ratio = f64::NAN;
    entry.saturated_share = f64::NAN;
    entry.dead_share = f64::NAN;
    entry.update_ratio = None;
}

fn reset_accumulator(report: &mut GradientReport) {
    report.loss = 0.0;
    for l in &mut report.layers {
        l.weight_grad_l2 = 0.0;
        l.weight_grad_rms = 0.0;
        l.weight_grad_max_abs = 0.0;
        l.bias_grad_l2 = 0.0;
        l.weight_l2 = 0.0;
        l.mean_derivative_ratio = 0.0;
        l.saturated_share = 0.0;
        l.dead_share = 0.0;
        l.update_ratio = Some(0.0);
    }
}

fn accumulate(sum: &mut GradientReport, report: &GradientReport) {
    sum.loss += report.loss;
    sum.batch_size = report.batch_size;
    for (s, l) in sum.layers.iter_mut().zip(&report.layers) {
        s.weight_grad_l2 += l.weight_grad_l2;
        s.weight_grad_rms += l.weight_grad_rms;
        if l.weight_grad_max_abs > s.weight_grad_max_abs || l.weight_grad_max_abs.is_nan() {
            s.weight_grad_max_abs = l.weight_grad_max_abs;
        }
        s.bias_grad_l2 += l.bias_grad_l2;
        s.weight_l2 += l.weight_l2;
        s.mean_derivative_ratio += l.mean_derivative_ratio;
        s.saturated_share += l.saturated_share;
        s.dead_share += l.dead_share;
        s.update_ratio = match (s.update_ratio, l.update_ratio) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
}

fn finish_average(sum: &mut GradientReport, batches: usize) {
    let n = batches.max(1) as f64;
    sum.loss /= n;
    for s in &mut sum.layers {
        s.weight_grad_l2 /= n;
        s.weight_grad_rms /= n;
        s.bias_grad_l2 /= n;
        s.weight_l2 /= n;
        s.mean_derivative_ratio /= n;
        s.saturated_share /= n;
        s.dead_share /= n;
        s.update_ratio = s.update_ratio.map(|u| u / n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Identity, Relu, Sigmoid, Tanh};
    use crate::optim::{Adam, Sgd};

    fn pair() -> (Network<f64>, Network<f64>, DMatrix<f64>, DMatrix<f64>) {
        let build = || {
            NetworkBuilder::<f64>::new(5)
                .dense(7, Sigmoid)
                .dense(9, Relu)
                .dense(4, Tanh)
                .dense(3, Identity)
                .seed(3)
                .build()
        };
        let x = DMatrix::from_fn(11, 5, |i, j| ((i * 5 + j) as f64 * 0.37).sin());
        let y = DMatrix::from_fn(11, 3, |i, j| ((i + 2 * j) as f64 * 0.21).cos());
        match (build(), build()) {
            (Ok(a), Ok(b)) => (a, b, x, y),
            _ => panic!("build failed"),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    /// `train_step` measures the weights in the optimizer's pass; `backward` then `step` in the
    /// backward pass: the reports must agree, with SGD's fused pass and Adam's default one.
    #[test]
    fn train_step_report_matches_backward_then_step() -> Result<()> {
        for adam in [false, true] {
            let (mut fused, mut separate, x, y) = pair();
            let (mut o1, mut o2): (Box<dyn Optimizer<f64>>, Box<dyn Optimizer<f64>>) = if adam {
                (Box::new(Adam::new(0.01)?), Box::new(Adam::new(0.01)?))
            } else {
                (Box::new(Sgd::new(0.1)?), Box::new(Sgd::new(0.1)?))
            };
            for _ in 0..3 {
                let a = fused.train_step(&x, &y, o1.as_mut())?.clone();
                separate.backward(&x, &y)?;
                let b = separate.step(o2.as_mut())?.clone();
                assert_eq!(a.layers.len(), 4);
                for (la, lb) in a.layers.iter().zip(&b.layers) {
                    for (u, v) in [
                        (la.weight_grad_l2, lb.weight_grad_l2),
                        (la.weight_grad_rms, lb.weight_grad_rms),
                        (la.weight_grad_max_abs, lb.weight_grad_max_abs),
                        (la.weight_l2, lb.weight_l2),
                        (la.bias_grad_l2, lb.bias_grad_l2),
                        (la.mean_derivative_ratio, lb.mean_derivative_ratio),
                    ] {
                        assert!(u > 0.0 && close(u, v), "{}: {u} vs {v}", la.name);
                    }
                    match (la.update_ratio, lb.update_ratio) {
                        (Some(u), Some(v)) => assert!(u > 0.0 && close(u, v)),
                        other => panic!("update ratios {other:?}"),
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn report_off_gives_nan_statistics_and_the_same_step() -> Result<()> {
        let (mut with, mut without, x, y) = pair();
        without.set_report(false);
        let mut o1 = Sgd::new(0.1)?;
        let mut o2 = Sgd::new(0.1)?;
        for _ in 0..2 {
            let a = with.train_step(&x, &y, &mut o1)?.clone();
            let b = without.train_step(&x, &y, &mut o2)?.clone();
            assert_eq!(a.loss, b.loss);
            for l in &b.layers {
                assert!(l.weight_grad_l2.is_nan() && l.mean_derivative_ratio.is_nan());
                assert!(l.update_ratio.is_none());
            }
        }
        // Turned back on, the statistics return.
        without.set_report(true);
        let b = without.train_step(&x, &y, &mut o2)?;
        assert!(b.layers.iter().all(|l| l.weight_grad_l2 > 0.0));
        Ok(())
    }
}
