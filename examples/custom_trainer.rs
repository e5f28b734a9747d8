//! The "add it as a dependency" path: a hand-written trainer on plain `Vec<f32>` — no nalgebra
//! type in sight — that records each epoch through a `Recorder` and asks `diagnose` what is
//! wrong. The network is a stack of sigmoid layers trained by plain SGD on a toy task; swap in
//! your own loop (burn, candle, tch: anything that can hand over `&[f32]`).
//!
//! Run with `cargo run --release --example custom_trainer`.

use vanishing_gradient::history::Recorder;
use vanishing_gradient::{diagnose, Result};

/// A dense layer: `weights[o * inputs + i]`, sigmoid activation (linear for the output layer).
struct Layer {
    linear: bool,
    inputs: usize,
    outputs: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
    grad_weights: Vec<f32>,
    grad_bias: Vec<f32>,
}

/// A tiny deterministic generator (the example keeps its dependencies to the crate itself).
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

impl Layer {
    fn new(inputs: usize, outputs: usize, linear: bool, rng: &mut Lcg) -> Self {
        let limit = (6.0 / (inputs + outputs) as f32).sqrt(); // Glorot uniform
        Self {
            linear,
            inputs,
            outputs,
            weights: (0..inputs * outputs)
                .map(|_| rng.uniform() * limit)
                .collect(),
            bias: vec![0.0; outputs],
            grad_weights: vec![0.0; inputs * outputs],
            grad_bias: vec![0.0; outputs],
        }
    }

    fn forward(&self, x: &[f32]) -> Vec<f32> {
        (0..self.outputs)
            .map(|o| {
                let row = &self.weights[o * self.inputs..(o + 1) * self.inputs];
                let z: f32 = row.iter().zip(x).map(|(w, xi)| w * xi).sum::<f32>() + self.bias[o];
                if self.linear {
                    z
                } else {
                    1.0 / (1.0 + (-z).exp())
                }
            })
            .collect()
    }

    /// Accumulates the gradients for one sample; returns dL/dx.
    fn backward(&mut self, x: &[f32], y: &[f32], dy: &[f32]) -> Vec<f32> {
        let mut dx = vec![0.0; self.inputs];
        for o in 0..self.outputs {
            // sigmoid'(z) = y (1 - y) <= 0.25: the factor that shrinks the gradient per layer.
            let dz = if self.linear {
                dy[o]
            } else {
                dy[o] * y[o] * (1.0 - y[o])
            };
            self.grad_bias[o] += dz;
            for i in 0..self.inputs {
                self.grad_weights[o * self.inputs + i] += dz * x[i];
                dx[i] += dz * self.weights[o * self.inputs + i];
            }
        }
        dx
    }
}

fn main() -> Result<()> {
    let mut rng = Lcg(42);
    let sizes = [16, 32, 32, 32, 32, 32, 32, 32, 1];
    let mut layers: Vec<Layer> = sizes
        .windows(2)
        .enumerate()
        .map(|(index, w)| Layer::new(w[0], w[1], index + 2 == sizes.len(), &mut rng))
        .collect();
    let samples: Vec<(Vec<f32>, f32)> = (0..256)
        .map(|_| {
            let x: Vec<f32> = (0..16).map(|_| rng.uniform()).collect();
            let target = (2.0 * x[0] - x[1] + 0.5 * x[2]).sin();
            (x, target)
        })
        .collect();

    let mut recorder = Recorder::new();
    let batch = 32;
    for _epoch in 0..25 {
        let mut loss = 0.0;
        for chunk in samples.chunks(batch) {
            for layer in &mut layers {
                layer.grad_weights.fill(0.0);
                layer.grad_bias.fill(0.0);
            }
            for (x, target) in chunk {
                let mut activations = vec![x.clone()];
                for layer in &layers {
                    let next = layer.forward(activations.last().map_or(x, |a| a));
                    activations.push(next);
                }
                let y = activations.last().map_or(0.0, |a| a[0]);
                loss += 0.5 * (y - target).powi(2);
                let mut dy = vec![y - target];
                for (index, layer) in layers.iter_mut().enumerate().rev() {
                    dy = layer.backward(&activations[index], &activations[index + 1], &dy);
                }
            }
            // Minibatch SGD on the batch's mean gradient.
            let n = chunk.len() as f32;
            for layer in &mut layers {
                for (w, g) in layer.weights.iter_mut().zip(&layer.grad_weights) {
                    *w -= 0.1 * g / n;
                }
                for (b, g) in layer.bias.iter_mut().zip(&layer.grad_bias) {
                    *b -= 0.1 * g / n;
                }
            }
        }
        // Once per epoch, record what the trainer has at hand: the mean loss, each layer's
        // weights and its gradient (here the last batch's mean gradient).
        let mut epoch = recorder.epoch(f64::from(loss / samples.len() as f32));
        let last_batch = (samples.len() - 1) % batch + 1;
        for (index, layer) in layers.iter().enumerate() {
            let gradient: Vec<f32> = layer
                .grad_weights
                .iter()
                .map(|g| g / last_batch as f32)
                .collect();
            epoch
                .layer(&format!("layer{}", index + 1))?
                .weights(&layer.weights)?
                .gradient(&gradient)?;
        }
        epoch.finish()?;
    }

    let diagnosis = diagnose(recorder.history())?;
    println!("{diagnosis}");
    Ok(())
}
