"""Runs the crate's `load_history` example on a history file and returns its verdict."""

import os
import subprocess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def verdict(path):
    """`vanishing`, `exploding`, `healthy` or `no-gradients`, from the Rust loader. Fails if
    the file does not load."""
    command = os.environ.get("VG_LOAD_HISTORY")
    if command:
        argv = [command, path]
    else:
        argv = ["cargo", "run", "--quiet", "--release", "--features", "serde",
                "--example", "load_history", "--", path]
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"load_history failed:\n{result.stdout}\n{result.stderr}"
    first = result.stdout.splitlines()[0]
    assert first.startswith("verdict: "), result.stdout
    print(result.stdout)
    return first.split(": ", 1)[1], result.stdout
