"""The Keras writer on real training runs, checked by the Rust loader and gradient detector.

A deep sigmoid network's gradient vanishes; the same network with ReLU and He initialisation
does not. Run with `python -m pytest python/tests` (KERAS_BACKEND=jax, set by conftest.py).
"""

import json
import math
import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from rust_loader import EXIT_PROBLEM, diagnose, findings_about  # noqa: E402
from vanishing_gradient_writers.keras_callback import HistoryWriter  # noqa: E402

DEPTH = 8
WIDTH = 32
EPOCHS = 6


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(512, 16)).astype("float32")
    teacher = rng.normal(size=(16,))
    y = (x @ teacher > 0).astype("float32").reshape(-1, 1)
    return x, y


def model(activation, initializer):
    keras.utils.set_random_seed(1)
    layers = [keras.Input(shape=(16,))]
    for _ in range(DEPTH):
        layers.append(keras.layers.Dense(WIDTH, activation=activation, kernel_initializer=initializer))
    layers.append(keras.layers.Dense(1, activation="sigmoid"))
    net = keras.Sequential(layers)
    net.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    return net


def train(tmp_path, activation, initializer, name):
    x, y = data()
    path = os.path.join(tmp_path, f"{name}.json")
    writer = HistoryWriter(path, sample_size=64, seed=3, gradient_batch=(x[:128], y[:128]))
    net = model(activation, initializer)
    net.fit(x, y, epochs=EPOCHS, batch_size=32, validation_split=0.25, verbose=0, callbacks=[writer])
    return path


def check_file(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert "NaN" not in text.replace('"NaN"', ""), "bare NaN tokens are not JSON"
    document = json.loads(text)
    assert document["format"] == "vanishing-gradient/history"
    assert document["version"] == 1
    assert len(document["epochs"]) == EPOCHS
    layers = document["epochs"][0]["layers"]
    assert len(layers) == DEPTH + 1
    first = layers[0]
    assert first["weight_count"] == 16 * WIDTH
    assert len(first["weights_sample"]) == 64  # 512 weights, sampled
    assert len(layers[-1]["weights_sample"]) == WIDTH  # 32 weights: whole
    assert math.isclose(first["gradient"]["rms"], first["gradient"]["l2"] / math.sqrt(16 * WIDTH))
    assert "validation_loss" in document["epochs"][0]


def test_sigmoid_history_is_vanishing(tmp_path):
    path = train(str(tmp_path), "sigmoid", "glorot_uniform", "sigmoid")
    check_file(path)
    diagnosis, code, output = diagnose(path)
    assert diagnosis["problem"] == "VanishingGradient", output
    assert code == EXIT_PROBLEM, output


def test_relu_he_history_is_not_vanishing(tmp_path):
    path = train(str(tmp_path), "relu", "he_normal", "relu")
    check_file(path)
    diagnosis, code, output = diagnose(path)
    assert diagnosis["problem"] != "VanishingGradient", output
    assert not [f for f in findings_about(diagnosis, "VanishingGradient") if f["severity"] != "Info"], output


def test_non_finite_values_are_written_as_strings(tmp_path):
    from vanishing_gradient_writers.history_format import HistoryFile

    history = HistoryFile()
    history.add_epoch(float("nan"), [{"name": "d", "weight_l2": float("inf")}], validation_loss=float("-inf"))
    # raw floats in layers are the caller's responsibility: strict JSON refuses them
    with pytest.raises(ValueError):
        history.dumps()
    from vanishing_gradient_writers.history_format import encode_number

    history = HistoryFile()
    history.add_epoch(float("nan"), [{"name": "d", "weight_l2": encode_number(float("inf"))}],
                      validation_loss=float("-inf"))
    path = os.path.join(str(tmp_path), "nonfinite.json")
    history.write(path)
    text = open(path, encoding="utf-8").read()
    assert '"loss": "NaN"' in text and '"Infinity"' in text and '"-Infinity"' in text
    diagnosis, code, output = diagnose(path)
    assert diagnosis["problem"] == "NonFinite", output
    assert code == EXIT_PROBLEM, output
