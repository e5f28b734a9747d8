#!/usr/bin/env bash
# Checks the Python history writers end to end: trains small Keras (JAX backend) models - and
# PyTorch ones if torch is importable - writes their histories with the writers in
# python/vanishing_gradient_writers, and diagnoses each file with the crate's command line
# (`vanishing-gradient diagnose --json`): a vanishing gradient for the deep sigmoid nets, none
# for the ReLU + He ones.
#
# Usage: bash python/run_writer_checks.sh
#   VG_VENV=DIR          the virtual environment to use or create
#                        (default: ~/.cache/vanishing-gradient/writer-venv, outside the repo)
#   VG_INSTALL_TORCH=1   also `pip install torch` (large: ~1 GB with its CUDA wheels)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VG_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vanishing-gradient/writer-venv}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv"
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check keras "jax[cpu]" pytest
if [ "${VG_INSTALL_TORCH:-0}" = "1" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check torch
fi

cd "$repo"
cargo build --quiet --release --features cli --bin vanishing-gradient
export VG_CLI="${CARGO_TARGET_DIR:-$repo/target}/release/vanishing-gradient"
export KERAS_BACKEND=jax
export JAX_PLATFORMS=cpu
export PYTHONDONTWRITEBYTECODE=1

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "torch is not importable in $venv: the torch writer checks will be skipped" \
         "(VG_INSTALL_TORCH=1 installs it)"
fi
# -rs prints the reason of every skipped test
"$venv/bin/python" -m pytest -q -rs -p no:cacheprovider python/tests
