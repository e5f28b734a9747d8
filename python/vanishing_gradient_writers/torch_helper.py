"""A PyTorch helper that writes the vanishing-gradient history format.

    from vanishing_gradient_writers.torch_helper import HistoryRecorder

    recorder = HistoryRecorder(model)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            recorder.observe_gradients()      # optional: gradients of every step
            optimizer.step()
        recorder.record_epoch(epoch_loss, val_loss=validation_loss)
    recorder.save("history.json")

Per epoch and per ``nn.Linear`` layer (in ``model.named_modules()`` order, which is the
definition order, usually the depth order) it records the weight's ``weight_count``, full
``weight_l2`` norm and a ``weights_sample`` of ``sample_size`` values at indices chosen once per
layer (the whole weight when smaller); the Rust loader derives the relative update from
consecutive samples (exact for whole weights, otherwise an estimate with relative error about
``sqrt((1 - m/n) / (2m))``, 5% for m = 256). Biases are not recorded.

Gradients, two ways:

- call ``observe_gradients()`` after every ``backward()`` (before ``optimizer.zero_grad()``): the
  epoch's gradient statistics are then the root mean square over the observed steps of each
  step's statistics (``l2`` and ``rms``), and the largest ``max_abs``. This costs one norm per
  layer and step.
- or call ``record_epoch`` right after the epoch's last ``backward()`` and before
  ``zero_grad()``: the statistics of that one step's ``param.grad`` are recorded.

If neither finds a gradient (``param.grad`` is ``None``), the layer is written without one.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import torch
from torch import nn

from .history_format import HistoryFile, WeightSampler, encode_number, gradient_stats


class _GradientAccumulator:
    def __init__(self):
        self.sum_squares = 0.0
        self.max_abs = 0.0
        self.steps = 0
        self.count = 0

    def add(self, grad: torch.Tensor) -> None:
        g = grad.detach().to(torch.float64)
        self.sum_squares += float(torch.sum(g * g))
        step_max = float(torch.max(torch.abs(g)))  # NaN if any element is NaN
        if math.isnan(step_max) or math.isnan(self.max_abs):
            self.max_abs = float("nan")
        else:
            self.max_abs = max(self.max_abs, step_max)
        self.steps += 1
        self.count = g.numel()


class HistoryRecorder:
    """Records a vanishing-gradient history of a PyTorch model.

    Args:
        model: the ``nn.Module``; its ``nn.Linear`` submodules are recorded (or the types in
            ``layer_types``).
        sample_size: weight values sampled per layer for the relative update.
        seed: seeds the choice of sampled indices (fixed for the whole run).
        layer_types: the module types to record (default ``(nn.Linear,)``).
        metadata: optional JSON-serialisable dict stored under ``"metadata"``.
    """

    def __init__(
        self,
        model: nn.Module,
        sample_size: int = 256,
        seed: int = 0,
        layer_types=(nn.Linear,),
        metadata: Optional[Dict[str, Any]] = None,
    ):
        self.layers = [
            (name or type(module).__name__, module)
            for name, module in model.named_modules()
            if isinstance(module, tuple(layer_types)) and getattr(module, "weight", None) is not None
        ]
        if not self.layers:
            raise ValueError("HistoryRecorder found no layer of the given types in the model")
        self.sampler = WeightSampler(sample_size, seed)
        self.file = HistoryFile(metadata)
        self._accumulators: List[_GradientAccumulator] = [_GradientAccumulator() for _ in self.layers]

    def observe_gradients(self) -> None:
        """Adds the current ``param.grad`` of every recorded weight to the epoch's statistics.
        Call after ``backward()`` and before ``zero_grad()``."""
        for (_, module), accumulator in zip(self.layers, self._accumulators):
            if module.weight.grad is not None:
                accumulator.add(module.weight.grad)

    def _gradient_entry(self, module: nn.Module, accumulator: _GradientAccumulator) -> Optional[Dict[str, Any]]:
        if accumulator.steps > 0:
            l2 = math.sqrt(accumulator.sum_squares / accumulator.steps)
            return gradient_stats(l2, accumulator.max_abs, accumulator.count)
        grad = module.weight.grad
        if grad is None:
            return None
        g = grad.detach().to(torch.float64)
        # torch.max propagates NaN, as the format wants
        return gradient_stats(float(torch.linalg.vector_norm(g)), float(torch.max(torch.abs(g))), g.numel())

    def _sample(self, depth: int, flat: torch.Tensor) -> List[Any]:
        chosen = self.sampler.indices(depth, flat.numel())
        values = flat if chosen is None else flat[torch.tensor(chosen, dtype=torch.long)]
        return [encode_number(v) for v in values.tolist()]

    @torch.no_grad()
    def record_epoch(self, loss: float, val_loss: Optional[float] = None) -> None:
        """Records the epoch: the losses, and per layer the weights and the gradients (observed
        since the last epoch, or else the current ``param.grad``)."""
        layers = []
        for depth, ((name, module), accumulator) in enumerate(zip(self.layers, self._accumulators)):
            weight = module.weight.detach().to(torch.float64).reshape(-1).cpu()
            entry: Dict[str, Any] = {
                "name": name,
                "weight_count": int(weight.numel()),
                "weight_l2": encode_number(float(torch.linalg.vector_norm(weight))),
                "weights_sample": self._sample(depth, weight),
            }
            gradient = self._gradient_entry(module, accumulator)
            if gradient is not None:
                entry["gradient"] = gradient
            layers.append(entry)
        self.file.add_epoch(float(loss), layers, validation_loss=None if val_loss is None else float(val_loss))
        self._accumulators = [_GradientAccumulator() for _ in self.layers]

    def save(self, path) -> None:
        """Writes the history file (atomically)."""
        self.file.write(path)
