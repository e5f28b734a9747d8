"""The PyTorch helper on real training runs, checked by the Rust loader. Skipped (with the
reason printed) when torch is not installed."""

import os

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: the torch writer check is skipped")

from torch import nn  # noqa: E402

from rust_loader import EXIT_PROBLEM, diagnose, findings_about  # noqa: E402
from vanishing_gradient_writers.torch_helper import HistoryRecorder  # noqa: E402

DEPTH = 8
WIDTH = 32
EPOCHS = 6


def train(tmp_path, activation, he, name, accumulate):
    torch.manual_seed(0)
    x = torch.randn(512, 16)
    y = (x @ torch.randn(16) > 0).float().unsqueeze(1)
    layers = []
    inputs = 16
    for _ in range(DEPTH):
        linear = nn.Linear(inputs, WIDTH)
        if he:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        else:
            nn.init.xavier_uniform_(linear.weight)
        layers += [linear, activation()]
        inputs = WIDTH
    layers.append(nn.Linear(inputs, 1))
    model = nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.BCEWithLogitsLoss()
    recorder = HistoryRecorder(model, sample_size=64, seed=3)
    for _ in range(EPOCHS):
        total = 0.0
        for start in range(0, 512, 32):
            optimizer.zero_grad()
            loss = loss_fn(model(x[start:start + 32]), y[start:start + 32])
            loss.backward()
            if accumulate:
                recorder.observe_gradients()
            total += loss.item()
            optimizer.step()
        # without accumulation: the last step's gradients are still in param.grad
        recorder.record_epoch(total / 16)
    path = os.path.join(tmp_path, f"{name}.json")
    recorder.save(path)
    return path


@pytest.mark.parametrize("accumulate", [True, False])
def test_sigmoid_history_is_vanishing(tmp_path, accumulate):
    diagnosis, code, output = diagnose(train(str(tmp_path), nn.Sigmoid, False, "sigmoid", accumulate))
    assert diagnosis["problem"] == "VanishingGradient", output
    assert code == EXIT_PROBLEM, output


@pytest.mark.parametrize("accumulate", [True, False])
def test_relu_he_history_is_not_vanishing(tmp_path, accumulate):
    diagnosis, code, output = diagnose(train(str(tmp_path), nn.ReLU, True, "relu", accumulate))
    assert diagnosis["problem"] != "VanishingGradient", output
    assert not [f for f in findings_about(diagnosis, "VanishingGradient") if f["severity"] != "Info"], output
