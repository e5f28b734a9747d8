"""A Keras 3 callback that writes the vanishing-gradient history format.

    from vanishing_gradient_writers.keras_callback import HistoryWriter

    model.fit(x, y, epochs=20, validation_split=0.1,
              callbacks=[HistoryWriter("history.json", gradient_batch=(x[:256], y[:256]))])

Per epoch and per ``Dense`` layer (in the order of ``model.layers``, nested models flattened)
it records the kernel's ``weight_count``, its full ``weight_l2`` norm (cheap) and a
``weights_sample``: ``sample_size`` kernel values at indices chosen once per layer (the whole
kernel when it is smaller). The Rust loader derives the relative update
``||W_t - W_t-1|| / ||W_t-1||`` from consecutive samples: exact for a whole kernel, otherwise an
estimate with relative error about ``sqrt((1 - m/n) / (2m))`` (5% for m = 256; see
``sampled_update_relative_error``). Biases are not recorded.

Gradients: Keras does not keep them after a step. With ``gradient_batch=(x, y)`` the callback
computes, at the end of every epoch, the gradient of the model's loss on that batch with respect
to every kernel (the JAX backend: one ``jax.grad`` over ``model.stateless_call``, jit-compiled
once; the TensorFlow backend: a ``GradientTape``; the torch backend: ``backward``) and records
each kernel gradient's L2 norm, RMS, largest magnitude and element count. The cost is one
forward and backward pass over the batch per epoch (plus the one-off compilation), about
``len(batch) / len(training set)`` of an epoch's work; use a few hundred examples. Without it no
gradient is written and the gradient detector has nothing to read (the weight-constancy
detector still works from the samples).

The file is written at ``on_train_end`` and, with ``write_every_epoch=True`` (the default), after
every epoch too (atomically), so a crashed or interrupted run still leaves its history.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import keras

from .history_format import HistoryFile, WeightSampler, encode_number, gradient_stats


def _dense_layers(model: "keras.Model") -> List["keras.layers.Layer"]:
    """The Dense layers in depth order, nested models flattened."""
    found = []

    def visit(layer):
        if isinstance(layer, keras.layers.Dense):
            found.append(layer)
        for inner in getattr(layer, "layers", []) or []:
            visit(inner)

    for layer in model.layers:
        visit(layer)
    return found


def _loss_function(model: "keras.Model"):
    loss = model.loss
    if loss is None:
        raise ValueError("the model must be compiled with a loss to compute gradients")
    if isinstance(loss, (list, tuple, dict)):
        raise ValueError("gradient_batch supports models with a single loss")
    loss = keras.losses.get(loss)

    def mean_loss(y_true, y_pred):
        return keras.ops.mean(loss(y_true, y_pred))

    return mean_loss


class _JaxGradients:
    """Kernel gradients with the JAX backend: ``jax.grad`` of a stateless forward pass."""

    def __init__(self, model, kernels):
        import jax

        self.model = model
        self.loss = _loss_function(model)
        trainable = model.trainable_variables
        positions = {id(v): i for i, v in enumerate(trainable)}
        self.kernel_positions = [positions.get(id(k)) for k in kernels]

        def loss_of(trainable_values, non_trainable_values, x, y):
            y_pred, _ = model.stateless_call(trainable_values, non_trainable_values, x, training=False)
            return self.loss(y, y_pred)

        self.gradient = jax.jit(jax.grad(loss_of))

    def __call__(self, x, y):
        trainable_values = [v.value for v in self.model.trainable_variables]
        non_trainable_values = [v.value for v in self.model.non_trainable_variables]
        grads = self.gradient(trainable_values, non_trainable_values, x, y)
        return [None if p is None else np.asarray(grads[p]) for p in self.kernel_positions]


class _TensorflowGradients:
    """Kernel gradients with the TensorFlow backend (a ``GradientTape``)."""

    def __init__(self, model, kernels):
        self.model = model
        self.kernels = kernels
        self.loss = _loss_function(model)

    def __call__(self, x, y):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = self.loss(y, self.model(x, training=False))
        grads = tape.gradient(loss, self.kernels)
        return [None if g is None else np.asarray(g) for g in grads]


class _TorchGradients:
    """Kernel gradients with the torch backend (``backward`` on a fresh graph)."""

    def __init__(self, model, kernels):
        self.model = model
        self.kernels = kernels
        self.loss = _loss_function(model)

    def __call__(self, x, y):
        import torch

        tensors = [k.value for k in self.kernels]
        saved = [None if t.grad is None else t.grad.clone() for t in tensors]
        for t in tensors:
            t.grad = None
        loss = self.loss(keras.ops.convert_to_tensor(y), self.model(x, training=False))
        grads = torch.autograd.grad(loss, tensors, allow_unused=True)
        for t, g in zip(tensors, saved):
            t.grad = g
        return [None if g is None else g.detach().cpu().numpy() for g in grads]


_GRADIENT_BACKENDS = {
    "jax": _JaxGradients,
    "tensorflow": _TensorflowGradients,
    "torch": _TorchGradients,
}


class HistoryWriter(keras.callbacks.Callback):
    """Records a vanishing-gradient history during ``model.fit`` and writes it to ``path``.

    Args:
        path: the JSON file to write.
        sample_size: kernel values sampled per layer for the relative update (whole kernel when
            it has at most this many values).
        seed: seeds the choice of sampled indices (fixed for the whole run).
        gradient_batch: optional ``(x, y)``; when given, per-kernel gradient statistics are
            computed on it at the end of every epoch (see the module documentation for the
            cost).
        write_every_epoch: also write the file after every epoch (default True).
        metadata: optional JSON-serialisable dict stored under ``"metadata"`` (ignored by the
            loader).
    """

    def __init__(
        self,
        path,
        sample_size: int = 256,
        seed: int = 0,
        gradient_batch: Optional[Tuple[Any, Any]] = None,
        write_every_epoch: bool = True,
        metadata: Optional[Dict[str, Any]] = None,
    ):
        super().__init__()
        self.path = path
        self.sampler = WeightSampler(sample_size, seed)
        self.gradient_batch = gradient_batch
        self.write_every_epoch = write_every_epoch
        self.file = HistoryFile(metadata)
        self._layers: List[Any] = []
        self._gradients = None

    def on_train_begin(self, logs=None):
        self._layers = _dense_layers(self.model)
        if not self._layers:
            raise ValueError("HistoryWriter found no Dense layer in the model")
        if self.gradient_batch is not None and self._gradients is None:
            backend = keras.backend.backend()
            factory = _GRADIENT_BACKENDS.get(backend)
            if factory is None:
                raise ValueError(f"gradient_batch is not supported with the {backend!r} backend")
            self._gradients = factory(self.model, [layer.kernel for layer in self._layers])

    def _kernel_gradients(self) -> Sequence[Optional[np.ndarray]]:
        if self._gradients is None or self.gradient_batch is None:
            return [None] * len(self._layers)
        x, y = self.gradient_batch
        return self._gradients(x, y)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "loss" not in logs:
            raise ValueError("HistoryWriter needs the training loss in the epoch logs")
        gradients = self._kernel_gradients()
        layers = []
        for depth, (layer, gradient) in enumerate(zip(self._layers, gradients)):
            kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel.value), dtype=np.float64).ravel()
            entry: Dict[str, Any] = {
                "name": layer.name,
                "weight_count": int(kernel.size),
                "weight_l2": encode_number(np.linalg.norm(kernel)),
                "weights_sample": self.sampler.sample(depth, kernel),
            }
            if gradient is not None:
                g = np.asarray(gradient, dtype=np.float64).ravel()
                entry["gradient"] = gradient_stats(np.linalg.norm(g), np.max(np.abs(g)), g.size)
            layers.append(entry)
        validation = logs.get("val_loss")
        self.file.add_epoch(
            float(logs["loss"]),
            layers,
            validation_loss=None if validation is None else float(validation),
        )
        if self.write_every_epoch:
            self.file.write(self.path)

    def on_train_end(self, logs=None):
        self.file.write(self.path)
