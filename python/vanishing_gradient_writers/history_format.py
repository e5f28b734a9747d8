"""The vanishing-gradient history format, version 1 (see docs/history-format.md).

Standard library only. Numbers that are not finite are written as the strings "NaN",
"Infinity" and "-Infinity": JSON has no such numbers, and Python's ``json.dumps`` would
otherwise write bare ``NaN`` tokens that no strict JSON parser (serde_json included) accepts.
Every file is written with ``allow_nan=False`` so that a missed value fails loudly here.
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
from typing import Any, Dict, Iterable, List, Optional, Sequence

FORMAT = "vanishing-gradient/history"
VERSION = 1


def encode_number(value: Any) -> Any:
    """A float as JSON allows it: the number, or "NaN" / "Infinity" / "-Infinity"."""
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


def gradient_stats(l2: float, max_abs: float, count: int) -> Dict[str, Any]:
    """The ``gradient`` object of a layer: L2 norm, RMS (``l2 / sqrt(count)``), max |g|, count."""
    count = int(count)
    if count <= 0:
        raise ValueError("a gradient has at least one element")
    return {
        "l2": encode_number(l2),
        "rms": encode_number(float(l2) / math.sqrt(count)),
        "max_abs": encode_number(max_abs),
        "count": count,
    }


class WeightSampler:
    """Chooses, once per layer, a fixed sample of flat weight indices (the same every epoch).

    Layers with at most ``sample_size`` weights are taken whole (the loader then derives the
    exact relative update). The choice is reproducible: it depends on ``seed`` and the layer's
    depth only.
    """

    def __init__(self, sample_size: int = 256, seed: int = 0):
        if sample_size <= 0:
            raise ValueError("sample_size must be positive")
        self.sample_size = int(sample_size)
        self.seed = int(seed)
        self._indices: Dict[int, Optional[List[int]]] = {}

    def indices(self, depth: int, count: int) -> Optional[List[int]]:
        """Sorted flat indices for the layer at ``depth`` with ``count`` weights; ``None``
        means the whole layer."""
        if depth not in self._indices:
            if count <= self.sample_size:
                self._indices[depth] = None
            else:
                rng = random.Random(self.seed * 1_000_003 + depth)
                self._indices[depth] = sorted(rng.sample(range(count), self.sample_size))
        return self._indices[depth]

    def sample(self, depth: int, flat_values: Sequence[float]) -> List[Any]:
        """The sampled values of a flat weight array, encoded for JSON."""
        chosen = self.indices(depth, len(flat_values))
        if chosen is None:
            return [encode_number(v) for v in flat_values]
        return [encode_number(flat_values[i]) for i in chosen]


class HistoryFile:
    """Collects epochs and writes the JSON file."""

    def __init__(self, metadata: Optional[Dict[str, Any]] = None):
        self.epochs: List[Dict[str, Any]] = []
        self.metadata = metadata

    def add_epoch(
        self,
        loss: float,
        layers: Iterable[Dict[str, Any]],
        validation_loss: Optional[float] = None,
    ) -> None:
        """Appends an epoch. ``layers`` are dicts in the file's layer layout, in depth order."""
        epoch: Dict[str, Any] = {"epoch": len(self.epochs), "loss": encode_number(loss)}
        if validation_loss is not None:
            epoch["validation_loss"] = encode_number(validation_loss)
        epoch["layers"] = list(layers)
        self.epochs.append(epoch)

    def to_dict(self) -> Dict[str, Any]:
        document: Dict[str, Any] = {"format": FORMAT, "version": VERSION}
        if self.metadata:
            document["metadata"] = self.metadata
        document["epochs"] = self.epochs
        return document

    def dumps(self) -> str:
        """The file's text (strict JSON: ``allow_nan=False``)."""
        return json.dumps(self.to_dict(), allow_nan=False)

    def write(self, path: "os.PathLike[str] | str") -> None:
        """Writes the file atomically (a temporary file renamed over ``path``)."""
        path = os.fspath(path)
        text = self.dumps()
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
