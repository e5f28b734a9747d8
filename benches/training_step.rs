//! One full training step (forward, loss, backward, plain SGD with learning rate 0.01 on every
//! weight and bias) for the three configurations of the peer benchmark
//! (`/work/shared/peers/mlp_step_bench.py`, numpy and JAX), in `f32` and `f64`.
//!
//! | config | layers | hidden activation | init | loss | batch |
//! | --- | --- | --- | --- | --- | --- |
//! | deep-narrow | 64 -> 20 hidden x 64 -> 10 | sigmoid | Glorot uniform | MSE | 32 |
//! | mnist-mlp | 784-512-512-512-10 | ReLU | He normal | softmax CE (one-hot) | 128 |
//! | wide | 1024-1024-1024-1024-10 | tanh | Glorot uniform | softmax CE (one-hot) | 256 |
//!
//! The output layer is linear (identity) with the hidden layers' initialiser; biases start at
//! zero. Data is drawn once from a fixed seed: `x` standard normal, MSE targets standard normal,
//! cross-entropy labels uniform in `0..10` turned into one-hot rows (the same distributions as
//! the peer script, not the same numbers: numpy's generator is not reproduced here).
//!
//! Groups (each benchmark counts one step as one "element", so criterion prints steps/s as
//! `thrpt`):
//!
//! - `train_step/<config>/<dtype>`: `Network::train_step` with `Sgd::new(0.01)`; the figure to
//!   compare with the peers (`scripts/compare_peers.sh`).
//! - `breakdown/<config>-<dtype>/{backward,train_step,train_step_without_report}`, measured
//!   back to back so their ratios hold on a noisy machine:
//!   - `backward`: `Network::backward` alone (forward, loss, backward and the report's
//!     statistics, no optimizer);
//!   - `train_step`: as above;
//!   - `train_step_without_report`: the same step with `Network::set_report(false)` (no
//!     derivative sums, dead-unit counts, gradient or weight norms, update ratios); the
//!     difference with `train_step` is what the `GradientReport` costs.
//! - `matmul_only/<config>/<dtype>`: only the step's matrix products (same shapes, faer
//!   sequential, as `src/matmul.rs` calls it), like the peer script's `--matmul-only`: the
//!   GEMM-bound ceiling of the crate's step.
//!
//! Run: `cargo bench --bench training_step` (a few minutes on 2 cores); filter with e.g.
//! `cargo bench --bench training_step -- train_step/`.

use std::any::Any;
use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use nalgebra::{DMatrix, RealField};
use rand::Rng;
use rand_distr::StandardNormal;
use vanishing_gradient::loss::{one_hot, SoftmaxCrossEntropy};
use vanishing_gradient::prelude::*;

/// Learning rate of the peer benchmark.
const LEARNING_RATE: f64 = 0.01;
/// Seed of the weight initialisation.
const WEIGHT_SEED: u64 = 0;
/// Seed of the data.
const DATA_SEED: u64 = 1;
/// Classes (output width) of every configuration.
const CLASSES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq)]
enum HiddenActivation {
    Sigmoid,
    Relu,
    Tanh,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LossKind {
    Mse,
    SoftmaxCrossEntropy,
}

/// One configuration of the peer benchmark.
#[derive(Debug, Clone, Copy)]
struct PeerConfig {
    name: &'static str,
    input_width: usize,
    hidden_width: usize,
    hidden_layers: usize,
    activation: HiddenActivation,
    loss: LossKind,
    batch: usize,
}

const CONFIGS: [PeerConfig; 3] = [
    PeerConfig {
        name: "deep-narrow",
        input_width: 64,
        hidden_width: 64,
        hidden_layers: 20,
        activation: HiddenActivation::Sigmoid,
        loss: LossKind::Mse,
        batch: 32,
    },
    PeerConfig {
        name: "mnist-mlp",
        input_width: 784,
        hidden_width: 512,
        hidden_layers: 3,
        activation: HiddenActivation::Relu,
        loss: LossKind::SoftmaxCrossEntropy,
        batch: 128,
    },
    PeerConfig {
        name: "wide",
        input_width: 1024,
        hidden_width: 1024,
        hidden_layers: 3,
        activation: HiddenActivation::Tanh,
        loss: LossKind::SoftmaxCrossEntropy,
        batch: 256,
    },
];

impl PeerConfig {
    /// Layer widths from the input to the output.
    fn widths(&self) -> Vec<usize> {
        let mut widths = vec![self.input_width];
        widths.extend(std::iter::repeat_n(self.hidden_width, self.hidden_layers));
        widths.push(CLASSES);
        widths
    }

    /// The matmul FLOPs of one step, counted as the peer script does: per layer `2 B in out`
    /// forward, the same for dW, the same for dX except at the first layer.
    fn step_flops(&self) -> u64 {
        let widths = self.widths();
        widths
            .windows(2)
            .enumerate()
            .map(|(l, w)| 2 * (self.batch * w[0] * w[1]) as u64 * if l > 0 { 3 } else { 2 })
            .sum()
    }

    fn weight_init(&self) -> Init {
        match self.activation {
            HiddenActivation::Relu => Init::he_normal(),
            HiddenActivation::Sigmoid | HiddenActivation::Tanh => Init::glorot_uniform(),
        }
    }

    fn hidden_activation<T: RealField + Copy>(&self) -> Box<dyn Activation<T>> {
        match self.activation {
            HiddenActivation::Sigmoid => Box::new(Sigmoid),
            HiddenActivation::Relu => Box::new(Relu),
            HiddenActivation::Tanh => Box::new(Tanh),
        }
    }

    /// The network as a user of the crate builds it.
    fn network<T: RealField + Copy>(&self) -> Network<T> {
        let mut builder = NetworkBuilder::<T>::new(self.input_width);
        for _ in 0..self.hidden_layers {
            builder = builder.dense_boxed(
                self.hidden_width,
                self.hidden_activation(),
                Some(self.weight_init()),
            );
        }
        builder = builder.dense_with_init(CLASSES, Identity, self.weight_init());
        builder = match self.loss {
            LossKind::Mse => builder.loss(Mse),
            LossKind::SoftmaxCrossEntropy => builder.loss(SoftmaxCrossEntropy),
        };
        builder
            .seed(WEIGHT_SEED)
            .build()
            .unwrap_or_else(|e| panic!("building {}: {e}", self.name))
    }

    /// A fixed-seed batch: `x` standard normal; targets standard normal (MSE) or one-hot rows
    /// of uniform labels (cross-entropy).
    fn batch<T: RealField + Copy>(&self) -> (DMatrix<T>, DMatrix<T>) {
        let mut rng = vanishing_gradient::init::seeded_rng(DATA_SEED);
        let normal = |rng: &mut rand_chacha::ChaCha8Rng| -> T {
            nalgebra::convert(rng.sample::<f64, _>(StandardNormal))
        };
        let x = DMatrix::from_fn(self.batch, self.input_width, |_, _| normal(&mut rng));
        let y = match self.loss {
            LossKind::Mse => DMatrix::from_fn(self.batch, CLASSES, |_, _| normal(&mut rng)),
            LossKind::SoftmaxCrossEntropy => {
                let labels: Vec<usize> = (0..self.batch)
                    .map(|_| rng.random_range(0..CLASSES))
                    .collect();
                one_hot(&labels, CLASSES).unwrap_or_else(|e| panic!("one-hot targets: {e}"))
            }
        };
        (x, y)
    }
}

// ------------------------------------------------------------------------ report-free replica

/// `out = op(a) op(b)` through faer's sequential kernel (the `matmul_only` group).
fn multiply_into<T: RealField + Copy>(
    out: &mut DMatrix<T>,
    a: &DMatrix<T>,
    a_t: bool,
    b: &DMatrix<T>,
    b_t: bool,
) {
    let done = faer_multiply_with::<f64, T>(Backend::FaerSequential, out, a, a_t, b, b_t)
        || faer_multiply_with::<f32, T>(Backend::FaerSequential, out, a, a_t, b, b_t);
    assert!(done, "the benchmark runs f32 and f64 only");
}

/// The two-thread GEMM candidates the `matmul_backends` group compares on the step's products.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    /// One thread: faer's sequential kernel (the `matmul_only` group).
    FaerSequential,
    /// What the crate does: two `rayon::join` halves of output columns, faer's sequential
    /// kernel in each (no allocation).
    FaerSplit,
    /// faer's own parallel mode, `Par::rayon(2)`.
    FaerRayon,
    /// nalgebra's `gemm`, i.e. `matrixmultiply` with its `threading` feature (enabled for the
    /// benches only); `D W^T` multiplies by a stored copy of `W^T`.
    MatrixMultiplyThreading,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::FaerSequential => "faer-sequential",
            Backend::FaerSplit => "faer-split",
            Backend::FaerRayon => "faer-rayon",
            Backend::MatrixMultiplyThreading => "matrixmultiply-threading",
        }
    }
}

/// `out = op(a) op(b)` through faer as `backend` says (for `f32` and `f64`, matched at run
/// time as `src/matmul.rs` does); `MatrixMultiplyThreading` is not faer and runs sequentially
/// here (its products go through nalgebra in `run_with`).
fn faer_multiply_with<F, T>(
    backend: Backend,
    out: &mut DMatrix<T>,
    a: &DMatrix<T>,
    a_t: bool,
    b: &DMatrix<T>,
    b_t: bool,
) -> bool
where
    F: faer::traits::RealField + Copy + 'static,
    T: RealField + Copy,
{
    let out_any: &mut dyn Any = out;
    let (Some(out), Some(a), Some(b)) = (
        out_any.downcast_mut::<DMatrix<F>>(),
        (a as &dyn Any).downcast_ref::<DMatrix<F>>(),
        (b as &dyn Any).downcast_ref::<DMatrix<F>>(),
    ) else {
        return false;
    };
    let (rows, cols) = out.shape();
    let (lhs, rhs) = (view(a, a_t), view(b, b_t));
    let dst = faer::MatMut::from_column_major_slice_mut(out.as_mut_slice(), rows, cols);
    let product = |dst, rhs, par| {
        faer::linalg::matmul::matmul(dst, faer::Accum::Replace, lhs, rhs, F::one_impl(), par)
    };
    match backend {
        Backend::FaerSplit if cols >= 32 => {
            let half = ((cols / 2).div_ceil(16) * 16).min(cols);
            let (left, right) = dst.split_at_col_mut(half);
            let (rhs_left, rhs_right) = rhs.split_at_col(half);
            rayon::join(
                || product(left, rhs_left, faer::Par::Seq),
                || product(right, rhs_right, faer::Par::Seq),
            );
        }
        Backend::FaerSplit | Backend::FaerSequential | Backend::MatrixMultiplyThreading => {
            product(dst, rhs, faer::Par::Seq)
        }
        Backend::FaerRayon => product(dst, rhs, faer::Par::rayon(2)),
    }
    true
}

/// A faer view of a column-major matrix, transposed (a stride swap) when asked.
fn view<F: faer::traits::RealField>(m: &DMatrix<F>, transposed: bool) -> faer::MatRef<'_, F> {
    let v = faer::MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols());
    if transposed {
        v.transpose()
    } else {
        v
    }
}

/// Largest relative difference between the parameters of two networks of the same shape.
fn max_parameter_difference<T: RealField + Copy>(a: &Network<T>, b: &Network<T>) -> f64 {
    let mut worst = 0.0_f64;
    for (la, lb) in a.layers().iter().zip(b.layers()) {
        for (pa, pb) in la.parameters().iter().zip(lb.parameters().iter()) {
            for (&x, &y) in pa.value.iter().zip(pb.value) {
                let (x, y): (f64, f64) = (
                    nalgebra::try_convert(x).unwrap_or(f64::NAN),
                    nalgebra::try_convert(y).unwrap_or(f64::NAN),
                );
                let difference = (x - y).abs() / x.abs().max(1e-30);
                // A NaN difference wins, so a diverging replica cannot hide behind it.
                if difference.is_nan() || difference > worst {
                    worst = difference;
                }
            }
        }
    }
    worst
}

// ------------------------------------------------------------------------ benchmarks

/// Time all threads of this process have spent on a CPU, in ns (Linux: the first field of
/// every `/proc/self/task/*/schedstat`, so rayon's workers count); `None` where that does not
/// exist. Threads that ended before the read are missed (rayon's workers live on).
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0_u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Runs one benchmark and prints `# cpu-share <id> <share>`: CPU seconds of the whole process
/// (the bench's thread and rayon's workers) per wall second, warm-up and analysis included:
/// 1.00 for one busy thread, up to 2.00 on two cores, as the peer script's `cpu/wall`. The
/// kernel updates these counters at scheduler ticks, so the figure is only meaningful over
/// seconds (a real benchmark run), not in `cargo test --benches`.
fn with_cpu_share(id: &str, run: impl FnOnce()) {
    let (wall, cpu) = (std::time::Instant::now(), process_cpu_ns());
    run();
    if let (Some(start), Some(end)) = (cpu, process_cpu_ns()) {
        let share = end.saturating_sub(start) as f64 / 1e9 / wall.elapsed().as_secs_f64();
        eprintln!("# cpu-share {id} {share:.2}");
    }
}

fn configure<M: criterion::measurement::Measurement>(group: &mut criterion::BenchmarkGroup<'_, M>) {
    // Flat sampling: every sample runs the same number of steps; right for steps of 1-100 ms.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(15);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
}

fn bench_train_step_typed<T: RealField + Copy>(c: &mut Criterion, dtype: &str) {
    let mut group = c.benchmark_group("train_step");
    configure(&mut group);
    for config in CONFIGS {
        let mut network = config.network::<T>();
        let (x, y) = config.batch::<T>();
        let mut sgd = Sgd::new(LEARNING_RATE).unwrap_or_else(|e| panic!("{e}"));
        with_cpu_share(&format!("train_step/{}/{dtype}", config.name), || {
            group.bench_function(BenchmarkId::new(config.name, dtype), |b| {
                b.iter(|| {
                    let report = network
                        .train_step(black_box(&x), black_box(&y), &mut sgd)
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(report.loss)
                })
            });
        });
    }
    group.finish();
}

fn bench_breakdown_typed<T: RealField + Copy>(c: &mut Criterion, dtype: &str) {
    let mut group = c.benchmark_group("breakdown");
    configure(&mut group);
    for config in CONFIGS {
        let id = format!("{}-{dtype}", config.name);
        let (x, y) = config.batch::<T>();

        // Without the report the step must be the same step, or its timing means nothing.
        let mut reference = config.network::<T>();
        let mut lean = config.network::<T>();
        lean.set_report(false);
        let mut sgd = Sgd::new(LEARNING_RATE).unwrap_or_else(|e| panic!("{e}"));
        let mut lean_sgd = Sgd::new(LEARNING_RATE).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..2 {
            reference
                .train_step(&x, &y, &mut sgd)
                .unwrap_or_else(|e| panic!("{e}"));
            lean.train_step(&x, &y, &mut lean_sgd)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let difference = max_parameter_difference(&reference, &lean);
        assert!(
            difference == 0.0,
            "{id}: the report-free step differs from the reported one (relative difference {difference:e})"
        );

        let mut network = config.network::<T>();
        with_cpu_share(&format!("breakdown/{id}/backward"), || {
            group.bench_function(BenchmarkId::new(&id, "backward"), |b| {
                b.iter(|| {
                    let report = network
                        .backward(black_box(&x), black_box(&y))
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(report.loss)
                })
            });
        });
        let mut network = config.network::<T>();
        with_cpu_share(&format!("breakdown/{id}/train_step"), || {
            group.bench_function(BenchmarkId::new(&id, "train_step"), |b| {
                b.iter(|| {
                    let report = network
                        .train_step(black_box(&x), black_box(&y), &mut sgd)
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(report.loss)
                })
            });
        });
        with_cpu_share(&format!("breakdown/{id}/train_step_without_report"), || {
            group.bench_function(BenchmarkId::new(&id, "train_step_without_report"), |b| {
                b.iter(|| {
                    let report = lean
                        .train_step(black_box(&x), black_box(&y), &mut lean_sgd)
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(report.loss)
                })
            });
        });
    }
    group.finish();
}

/// The buffers of the step's matrix products: activations `A[l]` (`B x w_l`), weights,
/// pre-activation gradients `D[l]` and weight gradients, filled with constants (the values do
/// not matter for GEMM speed as long as they stay normal floating-point numbers).
struct MatmulOnly<T: RealField + Copy> {
    activations: Vec<DMatrix<T>>,
    weights: Vec<DMatrix<T>>,
    /// `W^T`, for the backend that cannot read a transposed operand in place.
    weights_transposed: Vec<DMatrix<T>>,
    deltas: Vec<DMatrix<T>>,
    weight_grads: Vec<DMatrix<T>>,
}

impl<T: RealField + Copy> MatmulOnly<T> {
    fn new(config: &PeerConfig) -> Self {
        let widths = config.widths();
        let small: T = nalgebra::convert(0.001);
        let filled = |r, c| DMatrix::from_element(r, c, small);
        // 1 / fan-in keeps every activation at 0.001: no overflow, no subnormals.
        let weights: Vec<DMatrix<T>> = widths
            .windows(2)
            .map(|w| DMatrix::from_element(w[0], w[1], nalgebra::convert(1.0 / w[0] as f64)))
            .collect();
        Self {
            activations: widths.iter().map(|&w| filled(config.batch, w)).collect(),
            weights_transposed: weights.iter().map(|w| w.transpose()).collect(),
            weights,
            deltas: widths.iter().map(|&w| filled(config.batch, w)).collect(),
            weight_grads: widths.windows(2).map(|w| filled(w[0], w[1])).collect(),
        }
    }

    /// Forward `A[l+1] = A[l] W[l]`; backward `dW[l] = A[l]^T D[l+1]` and, except for the first
    /// layer, `D[l] = D[l+1] W[l]^T`.
    fn run(&mut self) {
        let layers = self.weights.len();
        for l in 0..layers {
            let (before, after) = self.activations.split_at_mut(l + 1);
            multiply_into(&mut after[0], &before[l], false, &self.weights[l], false);
        }
        for l in (0..layers).rev() {
            multiply_into(
                &mut self.weight_grads[l],
                &self.activations[l],
                true,
                &self.deltas[l + 1],
                false,
            );
            if l > 0 {
                let (before, after) = self.deltas.split_at_mut(l + 1);
                multiply_into(&mut before[l], &after[0], false, &self.weights[l], true);
            }
        }
    }

    /// [`run`](Self::run) with a two-thread `backend`.
    fn run_with(&mut self, backend: Backend) {
        let layers = self.weights.len();
        let product = |out: &mut DMatrix<T>, a: &DMatrix<T>, a_t, b: &DMatrix<T>, b_t| {
            let done = faer_multiply_with::<f64, T>(backend, out, a, a_t, b, b_t)
                || faer_multiply_with::<f32, T>(backend, out, a, a_t, b, b_t);
            assert!(done, "the benchmark runs f32 and f64 only");
        };
        let one = T::one();
        let zero = T::zero();
        for l in 0..layers {
            let (before, after) = self.activations.split_at_mut(l + 1);
            if backend == Backend::MatrixMultiplyThreading {
                after[0].gemm(one, &before[l], &self.weights[l], zero);
            } else {
                product(&mut after[0], &before[l], false, &self.weights[l], false);
            }
        }
        for l in (0..layers).rev() {
            if backend == Backend::MatrixMultiplyThreading {
                self.weight_grads[l].gemm_tr(one, &self.activations[l], &self.deltas[l + 1], zero);
            } else {
                let (grad, a, d) = (
                    &mut self.weight_grads[l],
                    &self.activations[l],
                    &self.deltas[l + 1],
                );
                product(grad, a, true, d, false);
            }
            if l > 0 {
                let (before, after) = self.deltas.split_at_mut(l + 1);
                if backend == Backend::MatrixMultiplyThreading {
                    before[l].gemm(one, &after[0], &self.weights_transposed[l], zero);
                } else {
                    product(&mut before[l], &after[0], false, &self.weights[l], true);
                }
            }
        }
    }
}

/// The step's products on each two-thread GEMM candidate (mnist-mlp and wide, the
/// configurations whose products take the crate's two-thread path).
fn bench_matmul_backends_typed<T: RealField + Copy>(c: &mut Criterion, dtype: &str) {
    let mut group = c.benchmark_group("matmul_backends");
    configure(&mut group);
    for config in CONFIGS.iter().filter(|c| c.name != "deep-narrow") {
        let mut buffers = MatmulOnly::<T>::new(config);
        for backend in [
            Backend::FaerSplit,
            Backend::FaerRayon,
            Backend::MatrixMultiplyThreading,
        ] {
            let id = format!("{}/{}/{dtype}", backend.name(), config.name);
            group.bench_function(&id, |b| {
                b.iter(|| {
                    buffers.run_with(backend);
                    black_box(&buffers.weight_grads);
                })
            });
        }
    }
    group.finish();
}

fn matmul_backends(c: &mut Criterion) {
    bench_matmul_backends_typed::<f32>(c, "f32");
    bench_matmul_backends_typed::<f64>(c, "f64");
}

fn bench_matmul_only_typed<T: RealField + Copy>(c: &mut Criterion, dtype: &str) {
    let mut group = c.benchmark_group("matmul_only");
    configure(&mut group);
    for config in CONFIGS {
        let mut buffers = MatmulOnly::<T>::new(&config);
        with_cpu_share(&format!("matmul_only/{}/{dtype}", config.name), || {
            group.bench_function(BenchmarkId::new(config.name, dtype), |b| {
                b.iter(|| {
                    buffers.run();
                    black_box(&buffers.weight_grads);
                })
            });
        });
    }
    group.finish();
}

fn matmul_only(c: &mut Criterion) {
    bench_matmul_only_typed::<f32>(c, "f32");
    bench_matmul_only_typed::<f64>(c, "f64");
}

fn train_step(c: &mut Criterion) {
    for config in CONFIGS {
        eprintln!(
            "# {}: widths {:?}, batch {}, {:.2} M matmul FLOP per step",
            config.name,
            config.widths(),
            config.batch,
            config.step_flops() as f64 / 1e6
        );
    }
    bench_train_step_typed::<f32>(c, "f32");
    bench_train_step_typed::<f64>(c, "f64");
}

fn breakdown(c: &mut Criterion) {
    bench_breakdown_typed::<f32>(c, "f32");
    bench_breakdown_typed::<f64>(c, "f64");
}

criterion_group!(benches, train_step, breakdown, matmul_only, matmul_backends);
criterion_main!(benches);
