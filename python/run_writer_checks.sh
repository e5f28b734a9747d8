#!/usr/bin/env bash
# Checks the Python history writers end to end: trains small Keras (JAX backend) models - and
# PyTorch ones if torch is importable - writes their histories with the writers in
# python/vanishing_gradient_writers, and loads each file with the crate's `load_history`
# example, whose gradient verdict must be "vanishing" for the deep sigmoid nets and "healthy"
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
cargo build --quiet --release --features serde --example load_history
export VG_LOAD_HISTORY="${CARGO_TARGET_DIR:-$repo/target}/release/examples/load_history"
export KERAS_BACKEND=jax
export JAX_PLATFORMS=cpu
export PYTHONDONTWRITEBYTECODE=1

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "torch is not importable in $venv: the torch writer checks will be skipped" \
         "(VG_INSTALL_TORCH=1 installs it)"
fi
# -rs prints the reason of every skipped test
"$venv/bin/python" -m pytest -q -rs -p no:cacheprovider python/tests
