//! The scenario corpus: small networks trained with the crate's own core on built-in synthetic
//! data, with fixed seeds, recorded through `Network::record_epoch`. Shared by the scenario and
//! monitor tests.
#![allow(dead_code)]

use nalgebra::DMatrix;
use vanishing_gradient::data::Dataset;
use vanishing_gradient::history::{EpochRecord, Recorder, TrainingHistory};
use vanishing_gradient::init::{seeded_rng, Init};
use vanishing_gradient::loss::Mse;
use vanishing_gradient::optim::{Adam, Optimizer, Sgd};
use vanishing_gradient::prelude::{Identity, Network, NetworkBuilder, Relu, Sigmoid, Tanh};

/// The seeds every scenario is run with.
pub const SEEDS: [u64; 3] = [1, 2, 3];

/// Samples per dataset.
pub const SAMPLES: usize = 256;
/// Input columns.
pub const INPUTS: usize = 16;
/// Minibatch size.
pub const BATCH: usize = 32;
/// Hidden layers of the deep scenarios.
pub const DEPTH: usize = 10;
/// Units per hidden layer of the deep scenarios.
pub const WIDTH: usize = 32;

/// The scenarios of the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// 10 hidden x 32 sigmoid, Glorot uniform, SGD 0.1: a vanishing gradient.
    DeepSigmoid,
    /// 10 hidden x 32 ReLU, He normal, SGD 0.01: healthy.
    DeepReluHe,
    /// The same ReLU net with SGD at 1e-7: the learning rate is too small.
    TinyLearningRate,
    /// 16 tanh units on a linear teacher, Adam 0.01: converges to a near-zero loss.
    SmallConverging,
    /// The deep ReLU net with SGD at 10: diverges.
    HugeLearningRate,
    /// 4 ReLU layers whose biases start at -5: dead units.
    DeadRelu,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 6] = [
        Scenario::DeepSigmoid,
        Scenario::DeepReluHe,
        Scenario::TinyLearningRate,
        Scenario::SmallConverging,
        Scenario::HugeLearningRate,
        Scenario::DeadRelu,
    ];

    /// The default number of epochs of the scenario.
    pub fn epochs(self) -> usize {
        30
    }
}

fn deep(activation: &str, init: Init, seed: u64) -> NetworkBuilder<f64> {
    let mut builder = NetworkBuilder::<f64>::new(INPUTS);
    for _ in 0..DEPTH {
        builder = match activation {
            "sigmoid" => builder.dense_with_init(WIDTH, Sigmoid, init.clone()),
            _ => builder.dense_with_init(WIDTH, Relu, init.clone()),
        };
    }
    builder
        .dense_with_init(1, Identity, Init::glorot_uniform())
        .loss(Mse)
        .seed(seed)
}

/// A linear teacher `y = x w / sqrt(inputs)`: a task a small net solves to a near-zero loss.
fn linear_teacher(seed: u64) -> Dataset<f64> {
    let base = Dataset::<f64>::teacher_regression(SAMPLES, INPUTS, 1, seed).expect("dataset");
    let weights: Vec<f64> = (0..INPUTS)
        .map(|i| ((i as f64 + 1.0) * 0.7 + seed as f64).sin())
        .collect();
    let norm = weights.iter().map(|w| w * w).sum::<f64>().sqrt();
    let inputs = base.inputs().clone();
    let targets = DMatrix::from_fn(SAMPLES, 1, |r, _| {
        (0..INPUTS)
            .map(|c| inputs[(r, c)] * weights[c])
            .sum::<f64>()
            / norm
            * 0.5
    });
    Dataset::new(inputs, targets).expect("dataset")
}

/// Builds the network, data and optimizer of a scenario.
pub fn setup(
    scenario: Scenario,
    seed: u64,
) -> (Network<f64>, Dataset<f64>, Box<dyn Optimizer<f64>>) {
    let data =
        || Dataset::<f64>::teacher_regression(SAMPLES, INPUTS, 1, seed + 100).expect("dataset");
    let sgd = |lr: f64| -> Box<dyn Optimizer<f64>> { Box::new(Sgd::new(lr).expect("sgd")) };
    match scenario {
        Scenario::DeepSigmoid => (
            deep("sigmoid", Init::glorot_uniform(), seed)
                .build()
                .expect("net"),
            data(),
            sgd(0.1),
        ),
        Scenario::DeepReluHe => (
            deep("relu", Init::he_normal(), seed).build().expect("net"),
            data(),
            sgd(0.01),
        ),
        Scenario::TinyLearningRate => (
            deep("relu", Init::he_normal(), seed).build().expect("net"),
            data(),
            sgd(1e-7),
        ),
        Scenario::SmallConverging => (
            NetworkBuilder::<f64>::new(INPUTS)
                .dense(16, Tanh)
                .dense(1, Identity)
                .loss(Mse)
                .seed(seed)
                .build()
                .expect("net"),
            linear_teacher(seed),
            Box::new(Adam::new(0.01).expect("adam")),
        ),
        Scenario::HugeLearningRate => (
            deep("relu", Init::he_normal(), seed).build().expect("net"),
            data(),
            sgd(10.0),
        ),
        Scenario::DeadRelu => {
            let mut builder = NetworkBuilder::<f64>::new(INPUTS);
            for _ in 0..4 {
                builder = builder
                    .dense_with_init(WIDTH, Relu, Init::he_normal())
                    .bias_init(Init::Constant(-5.0));
            }
            (
                builder
                    .dense(1, Identity)
                    .loss(Mse)
                    .seed(seed)
                    .build()
                    .expect("net"),
                data(),
                sgd(0.01),
            )
        }
    }
}

/// Trains a scenario for `epochs` epochs and returns the recorded history.
pub fn run(scenario: Scenario, seed: u64, epochs: usize) -> TrainingHistory {
    let (mut net, data, mut optimizer) = setup(scenario, seed);
    let mut rng = seeded_rng(seed + 1000);
    let mut recorder = Recorder::new();
    for _ in 0..epochs {
        let summary = net
            .train_epoch(&data, BATCH, optimizer.as_mut(), &mut rng)
            .expect("epoch");
        net.record_epoch(&mut recorder, &summary, None)
            .expect("record");
    }
    recorder.into_history()
}

/// Trains a scenario and hands each epoch's record to `observe` as it finishes.
pub fn run_online(
    scenario: Scenario,
    seed: u64,
    epochs: usize,
    mut observe: impl FnMut(usize, &EpochRecord),
) {
    let (mut net, data, mut optimizer) = setup(scenario, seed);
    let mut rng = seeded_rng(seed + 1000);
    let mut recorder = Recorder::new();
    for epoch in 0..epochs {
        let summary = net
            .train_epoch(&data, BATCH, optimizer.as_mut(), &mut rng)
            .expect("epoch");
        net.record_epoch(&mut recorder, &summary, None)
            .expect("record");
        if let Some(record) = recorder.history().epochs().last() {
            observe(epoch, record);
        }
    }
}

/// The history with only the losses kept (no layers at all).
pub fn loss_only(history: &TrainingHistory) -> TrainingHistory {
    TrainingHistory::from_epochs(history.epochs().iter().map(|e| {
        let mut record = EpochRecord::new(e.loss);
        record.validation_loss = e.validation_loss;
        record
    }))
    .expect("loss-only history")
}

/// The history with the weights kept and the gradients and activity removed.
pub fn weights_only(history: &TrainingHistory) -> TrainingHistory {
    TrainingHistory::from_epochs(history.epochs().iter().map(|e| {
        let mut record = e.clone();
        for layer in &mut record.layers {
            layer.gradient = None;
            layer.activity = None;
        }
        record
    }))
    .expect("weights-only history")
}
