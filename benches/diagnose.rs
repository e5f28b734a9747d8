//! `diagnose` on synthetic histories of 1k, 10k and 100k epochs x 100 layers (every statistic
//! recorded). The histories are built once, outside the timed loop. Expect linear growth in
//! the number of epochs.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use vanishing_gradient::diagnose;
use vanishing_gradient::history::{
    ActivityStats, EpochRecord, GradientStats, LayerRecord, TrainingHistory,
};

const LAYERS: usize = 100;

/// A slowly improving run whose gradient shrinks towards the input, with some noise so that
/// medians and trend tests do real work.
fn history(epochs: usize) -> TrainingHistory {
    let names: Vec<String> = (0..LAYERS).map(|d| format!("dense{d}")).collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let records = (0..epochs).map(|epoch| {
        let mut record = EpochRecord::new(1.0 / (1.0 + 0.01 * epoch as f64) + 0.01 * noise());
        record.validation_loss = Some(record.loss + 0.05);
        record.layers = names
            .iter()
            .enumerate()
            .map(|(depth, name)| {
                let rms = 0.9_f64.powi((LAYERS - 1 - depth) as i32) * (1.0 + 0.1 * noise());
                let mut layer = LayerRecord::new(name.clone());
                layer.weight_count = Some(1024);
                layer.weight_l2 = Some(10.0);
                layer.relative_update = (epoch > 0).then(|| 1e-3 * (1.0 + 0.1 * noise()));
                layer.gradient = Some(GradientStats {
                    l2: rms * 32.0,
                    rms,
                    max_abs: rms * 3.0,
                    count: 1024,
                });
                layer.activity = Some(ActivityStats {
                    mean_derivative_ratio: 0.5,
                    saturated_share: 0.05,
                    dead_share: 0.05,
                });
                layer
            })
            .collect();
        record
    });
    TrainingHistory::from_epochs(records).expect("valid history")
}

fn bench_diagnose(c: &mut Criterion) {
    let mut group = c.benchmark_group("diagnose");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for epochs in [1_000, 10_000, 100_000] {
        let history = history(epochs);
        group.throughput(Throughput::Elements((epochs * LAYERS) as u64));
        group.bench_with_input(
            BenchmarkId::new("epochs_x100_layers", epochs),
            &history,
            |b, h| b.iter(|| diagnose(black_box(h)).expect("valid configuration")),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_diagnose);
criterion_main!(benches);
