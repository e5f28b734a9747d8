//! The recorder's per-epoch cost for a 10M-parameter model, against one forward pass of that
//! model over a batch of 128.
//!
//! The model is 1024-2048-2048-2048-10 (10.5 M weights, f32). One recorded epoch is what a
//! trainer calls once per epoch: the loss, then every layer's weights (their norm and relative
//! update) and weight gradient (its norm, RMS and maximum). Recorders: exact (keeps a copy of
//! the weights) and with a sample budget of 4096 coordinates per layer.
//!
//! Run: `cargo bench --bench recorder`.

use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::DMatrix;
use std::hint::black_box;
use std::time::Duration;
use vanishing_gradient::history::Recorder;
use vanishing_gradient::prelude::*;

/// Layer widths from the input to the output: 10.5 M weights.
const WIDTHS: [usize; 5] = [1024, 2048, 2048, 2048, 10];
/// The batch of the forward pass the recorder is compared with.
const BATCH: usize = 128;
/// Coordinates per layer kept by the sampled recorder.
const SAMPLE_BUDGET: usize = 4096;

fn model() -> Network<f32> {
    let mut builder = NetworkBuilder::<f32>::new(WIDTHS[0]);
    for &width in &WIDTHS[1..WIDTHS.len() - 1] {
        builder = builder.dense(width, Tanh);
    }
    builder
        .dense(WIDTHS[WIDTHS.len() - 1], Identity)
        .seed(3)
        .build()
        .unwrap_or_else(|e| panic!("building the model: {e}"))
}

/// One epoch's record: the loss, then every layer's weights and (with `gradients`) its weight
/// gradient.
fn record(recorder: &mut Recorder, network: &Network<f32>, loss: f64, gradients: bool) {
    let mut epoch = recorder.epoch(loss);
    for layer in network.layers() {
        let parameters = layer.parameters();
        let Some(weights) = parameters.iter().find(|p| p.name == "weights") else {
            panic!("a dense layer has weights");
        };
        let recorded = epoch
            .layer(layer.name())
            .and_then(|l| l.weights(weights.value));
        let recorded = if gradients {
            recorded.and_then(|l| l.gradient(weights.grad))
        } else {
            recorded
        };
        recorded.unwrap_or_else(|e| panic!("recording: {e}"));
    }
    epoch
        .finish()
        .unwrap_or_else(|e| panic!("finishing the epoch: {e}"));
}

fn bench_recorder(c: &mut Criterion) {
    let mut network = model();
    let weights: usize = network.layers().iter().map(|l| l.weight_count()).sum();
    eprintln!("# model {WIDTHS:?}: {:.2} M weights", weights as f64 / 1e6);
    let x = DMatrix::<f32>::from_fn(BATCH, WIDTHS[0], |i, j| {
        ((i * 31 + j * 7) % 13) as f32 / 13.0
    });
    let y = DMatrix::<f32>::zeros(BATCH, WIDTHS[WIDTHS.len() - 1]);
    // Gradients to record: one backward pass.
    network
        .backward(&x, &y)
        .unwrap_or_else(|e| panic!("backward: {e}"));

    let mut group = c.benchmark_group("recorder_10M");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("forward_batch_128", |b| {
        b.iter(|| {
            black_box(
                network
                    .forward(&x)
                    .unwrap_or_else(|e| panic!("forward: {e}")),
            );
        })
    });
    for (name, gradients) in [
        ("record_epoch_sampled_4096_weights", false),
        ("record_epoch_sampled_4096_weights_and_gradients", true),
    ] {
        let mut sampled = Recorder::with_sample_budget(SAMPLE_BUDGET, 7)
            .unwrap_or_else(|e| panic!("recorder: {e}"));
        let mut loss = 1.0;
        group.bench_function(name, |b| {
            b.iter(|| {
                loss *= 0.999;
                record(&mut sampled, &network, loss, gradients);
            })
        });
    }
    let mut exact = Recorder::new();
    let mut loss = 1.0;
    group.bench_function("record_epoch_exact_weights_and_gradients", |b| {
        b.iter(|| {
            loss *= 0.999;
            record(&mut exact, &network, loss, true);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_recorder);
criterion_main!(benches);
