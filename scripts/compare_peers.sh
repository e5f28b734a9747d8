#!/usr/bin/env bash
# Compare one MLP training step of this crate with numpy (hand-written backprop) and JAX (jit)
# on the same machine, side by side: see docs/performance.md.
#
# Steps: (1) a Python venv OUTSIDE the repository with numpy, jax[cpu] and threadpoolctl from
# PyPI; (2) the peer script writing JSON into a temp dir: numpy and JAX on every core (their
# default), numpy on one thread (OPENBLAS_NUM_THREADS=1, as the crate's matmul-only column), and
# numpy --matmul-only on two and on one thread (the GEMM ceiling); (3) `cargo bench --bench
# training_step`; (4) one table: config x dtype -> crate / numpy / JAX steps/s, ratios, GFLOP/s
# (the peer script's matmul FLOP count); a GEMM table (crate matmul-only vs numpy
# matmul-only); and the crate's breakdown (backward, train_step, train_step without report).
#
# Not part of CI. Takes about 10 minutes on 2 cores.
#
# Environment (all optional):
#   VENV          virtual environment to use/create   (default: $HOME/.cache/vg-peers-venv)
#   PEER_SCRIPT   the peer benchmark                  (default: /work/shared/peers/mlp_step_bench.py)
#   OUT_DIR       where the JSON files go             (default: a new temp dir, kept and printed)
#   SAMPLES       samples per peer measurement        (default: 15)
#   PEER_WAIT_IDLE=1  let the peer script wait (up to 120 s per config) for an idle machine;
#                 default 0 (--no-wait-idle), like criterion, which never waits
#   SKIP_PEERS=1  reuse numpy.json / jax.json / numpy_matmul.json already in OUT_DIR
#   SKIP_BENCH=1  reuse the criterion results already under target/criterion
#   BENCH_ARGS    extra arguments after `--` for the criterion bench (e.g. a filter)
set -euo pipefail

die() {
    echo "compare_peers: error: $*" >&2
    exit 1
}
note() {
    echo "compare_peers: $*" >&2
}

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$HOME/.cache/vg-peers-venv}
PEER_SCRIPT=${PEER_SCRIPT:-/work/shared/peers/mlp_step_bench.py}
SAMPLES=${SAMPLES:-15}
PEER_WAIT_IDLE=${PEER_WAIT_IDLE:-0}
SKIP_PEERS=${SKIP_PEERS:-0}
SKIP_BENCH=${SKIP_BENCH:-0}
BENCH_ARGS=${BENCH_ARGS:-}
if [[ -z "${OUT_DIR:-}" ]]; then
    OUT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vg-peers.XXXXXX")
fi
mkdir -p "$OUT_DIR"
CRITERION_DIR=${CRITERION_HOME:-${CARGO_TARGET_DIR:-$REPO_DIR/target}/criterion}

case "$VENV" in
    "$REPO_DIR" | "$REPO_DIR"/*) die "VENV=$VENV is inside the repository; put it elsewhere (never commit a venv)" ;;
esac
[[ -f "$PEER_SCRIPT" ]] || die "peer script not found at $PEER_SCRIPT (set PEER_SCRIPT)"
command -v python3 >/dev/null || die "python3 not found"
command -v cargo >/dev/null || die "cargo not found"

# ---------------------------------------------------------------- 1. venv
if [[ ! -x "$VENV/bin/python" ]]; then
    note "creating the venv $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed (is the venv module installed?)"
fi
PY="$VENV/bin/python"
if ! "$PY" -c 'import numpy, jax, threadpoolctl' 2>/dev/null; then
    note "installing numpy, jax[cpu], threadpoolctl into $VENV"
    "$PY" -m pip install --quiet numpy "jax[cpu]" threadpoolctl || die "pip install failed"
fi
"$PY" -c 'import numpy, jax, threadpoolctl; print("compare_peers: numpy", numpy.__version__, "jax", jax.__version__)' >&2

# ---------------------------------------------------------------- 2. peers
wait_flag=(--no-wait-idle)
[[ "$PEER_WAIT_IDLE" == 1 ]] && wait_flag=()
if [[ "$SKIP_PEERS" != 1 ]]; then
    note "peer: numpy (full step) -> $OUT_DIR/numpy.json"
    "$PY" "$PEER_SCRIPT" --impl numpy --samples "$SAMPLES" "${wait_flag[@]}" --json "$OUT_DIR/numpy.json"
    note "peer: numpy --matmul-only (GEMM ceiling) -> $OUT_DIR/numpy_matmul.json"
    "$PY" "$PEER_SCRIPT" --impl numpy --matmul-only --samples "$SAMPLES" "${wait_flag[@]}" --json "$OUT_DIR/numpy_matmul.json"
    note "peer: jax -> $OUT_DIR/jax.json"
    "$PY" "$PEER_SCRIPT" --impl jax --samples "$SAMPLES" "${wait_flag[@]}" --json "$OUT_DIR/jax.json"
    note "peer: numpy, one thread (OPENBLAS_NUM_THREADS=1) -> $OUT_DIR/numpy_1t.json"
    OPENBLAS_NUM_THREADS=1 "$PY" "$PEER_SCRIPT" --impl numpy --samples "$SAMPLES" "${wait_flag[@]}" \
        --label 1thread --json "$OUT_DIR/numpy_1t.json"
    note "peer: numpy --matmul-only, one thread -> $OUT_DIR/numpy_matmul_1t.json"
    OPENBLAS_NUM_THREADS=1 "$PY" "$PEER_SCRIPT" --impl numpy --matmul-only --samples "$SAMPLES" "${wait_flag[@]}" \
        --label 1thread --json "$OUT_DIR/numpy_matmul_1t.json"
    note "peer: numpy 4096^3 matmul, the GEMM ceiling of the wide target -> $OUT_DIR/ceiling.json"
    "$PY" - "$OUT_DIR/ceiling.json" <<'CEILING'
import json, sys, time
import numpy as np
result = {}
for dtype in ("float32", "float64"):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, 4096)).astype(dtype)
    b = rng.standard_normal((4096, 4096)).astype(dtype)
    a @ b  # warm-up
    times = []
    for _ in range(7):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    result["f32" if dtype == "float32" else "f64"] = 2 * 4096**3 / median / 1e9
with open(sys.argv[1], "w") as f:
    json.dump(result, f)
print("numpy 4096^3 matmul GFLOP/s:", result, file=sys.stderr)
CEILING
fi
for f in numpy.json jax.json; do
    [[ -f "$OUT_DIR/$f" ]] || die "$OUT_DIR/$f is missing (peer run failed or SKIP_PEERS=1 without results)"
done

# ---------------------------------------------------------------- 3. crate
BENCH_START=$(date +%s)
if [[ "$SKIP_BENCH" != 1 ]]; then
    note "crate: cargo bench --bench training_step ${BENCH_ARGS:+-- $BENCH_ARGS}"
    # shellcheck disable=SC2086 # BENCH_ARGS is meant to split into words
    (cd "$REPO_DIR" && cargo bench --bench training_step -- $BENCH_ARGS) 2>&1 | tee "$OUT_DIR/criterion.txt" \
        || die "cargo bench failed (see $OUT_DIR/criterion.txt)"
else
    BENCH_START=0
fi
[[ -d "$CRITERION_DIR/train_step" ]] || die "no criterion results under $CRITERION_DIR/train_step"

# ---------------------------------------------------------------- 4. table
"$PY" - "$OUT_DIR" "$CRITERION_DIR" "$PEER_SCRIPT" "$BENCH_START" <<'PYTHON' | tee "$OUT_DIR/table.md"
import importlib.util
import json
import os
import sys

out_dir, criterion_dir, peer_script, bench_start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

spec = importlib.util.spec_from_file_location("peer", peer_script)
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)  # only for CONFIGS and step_flops: one FLOP formula for all


def load_peer(name):
    path = os.path.join(out_dir, name)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {(r["config"], r["dtype"]): r for r in json.load(f)["results"]}


def criterion_median_s(*parts):
    """Median time per iteration (s) of one criterion benchmark, or None (missing or stale)."""
    path = os.path.join(criterion_dir, *parts, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    if os.path.getmtime(path) < bench_start:
        print(f"warning: {path} predates this run; ignored", file=sys.stderr)
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] * 1e-9


numpy_r, jax_r, matmul_r = load_peer("numpy.json"), load_peer("jax.json"), load_peer("numpy_matmul.json")
numpy1_r, matmul1_r = load_peer("numpy_1t.json"), load_peer("numpy_matmul_1t.json")

# "# cpu-share <id> <share>" lines that the bench prints to stderr (share of wall time on a CPU)
cpu_share = {}
criterion_txt = os.path.join(out_dir, "criterion.txt")
if os.path.exists(criterion_txt):
    with open(criterion_txt) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4 and parts[:2] == ["#", "cpu-share"]:
                cpu_share[parts[2]] = float(parts[3])


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def ratio(a, b):
    return None if a is None or b is None else a / b


print("\n## One training step, median steps/s (crate: criterion median; peers: median of samples)\n")
print("| config | dtype | crate | numpy | JAX | numpy 1 thread | crate/JAX | crate/numpy | crate/numpy 1 thread | crate GFLOP/s | numpy GFLOP/s | JAX GFLOP/s | CPU/wall crate / numpy / JAX / numpy 1t |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for config in peer.CONFIGS:
    flops = peer.step_flops(peer.CONFIGS[config])
    for dtype in ("f32", "f64"):
        t = criterion_median_s("train_step", config, dtype)
        crate = None if t is None else 1.0 / t
        n = numpy_r.get((config, dtype), {}).get("median_steps_s")
        j = jax_r.get((config, dtype), {}).get("median_steps_s")
        n1 = numpy1_r.get((config, dtype), {}).get("median_steps_s")
        gf = lambda s: None if s is None else s * flops / 1e9
        shares = [cpu_share.get(f"train_step/{config}/{dtype}")] + [
            r.get((config, dtype), {}).get("cpu_over_wall") for r in (numpy_r, jax_r, numpy1_r)]
        others = " / ".join(fmt(v, ".2f") for v in shares)
        print(f"| {config} | {dtype} | {fmt(crate, '.1f')} | {fmt(n, '.1f')} | {fmt(j, '.1f')} | {fmt(n1, '.1f')} | "
              f"{fmt(ratio(crate, j), '.2f')} | {fmt(ratio(crate, n), '.2f')} | {fmt(ratio(crate, n1), '.2f')} | "
              f"{fmt(gf(crate), '.1f')} | {fmt(gf(n), '.1f')} | {fmt(gf(j), '.1f')} | {others} |")

print("\n## Only the step's matmuls, GFLOP/s (the GEMM ceiling of each step)\n")
print("| config | dtype | crate full step | crate matmul-only (faer, 1 thread) | numpy matmul-only, 1 thread | numpy matmul-only, 2 threads | crate matmul time share of its step |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for config in peer.CONFIGS:
    flops = peer.step_flops(peer.CONFIGS[config])
    for dtype in ("f32", "f64"):
        t = criterion_median_s("train_step", config, dtype)
        tm = criterion_median_s("matmul_only", config, dtype)
        gf_t = lambda s: None if s is None else flops / s / 1e9
        m1 = matmul1_r.get((config, dtype), {}).get("median_gflops")
        m2 = matmul_r.get((config, dtype), {}).get("median_gflops")
        share = None if t is None or tm is None else tm / t * 100
        print(f"| {config} | {dtype} | {fmt(gf_t(t), '.1f')} | {fmt(gf_t(tm), '.1f')} | {fmt(m1, '.1f')} | {fmt(m2, '.1f')} | {fmt(share, '.0f')} % |")

print("\n## Crate breakdown (measured back to back), median ms per call\n")
print("| config | dtype | backward | train_step | train_step without report | report share of the step |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for config in peer.CONFIGS:
    for dtype in ("f32", "f64"):
        ident = f"{config}-{dtype}"
        b, s, lean = (criterion_median_s("breakdown", ident, k) for k in ("backward", "train_step", "train_step_without_report"))
        share = None if s is None or lean is None else (s - lean) / s * 100
        ms = lambda v: None if v is None else v * 1e3
        print(f"| {config} | {dtype} | {fmt(ms(b), '.3f')} | {fmt(ms(s), '.3f')} | {fmt(ms(lean), '.3f')} | {fmt(share, '.1f')} % |")

backends = ("faer-split", "faer-rayon", "matrixmultiply-threading")
rows = []
for config in ("mnist-mlp", "wide"):
    for dtype in ("f32", "f64"):
        times = [criterion_median_s("matmul_backends", f"{b}_{config}_{dtype}") for b in backends]
        if all(t is not None for t in times):
            rows.append((config, dtype, times))
if rows:
    print("\n## Two-thread GEMM candidates on the step's products, median ms (matmul_backends)\n")
    print("| config | dtype | " + " | ".join(backends) + " |")
    print("| --- | --- |" + " ---: |" * len(backends))
    for config, dtype, times in rows:
        print(f"| {config} | {dtype} | " + " | ".join(f"{t * 1e3:.2f}" for t in times) + " |")

ceiling_path = os.path.join(out_dir, "ceiling.json")
if os.path.exists(ceiling_path):
    with open(ceiling_path) as f:
        ceiling = json.load(f)
    print("\n## The wide step against numpy's 4096^3 matmul (the GEMM ceiling)\n")
    print("| dtype | numpy 4096^3 GFLOP/s | crate wide step GFLOP/s | share |")
    print("| --- | ---: | ---: | ---: |")
    for dtype in ("f32", "f64"):
        t = criterion_median_s("train_step", "wide", dtype)
        if t is None or dtype not in ceiling:
            continue
        gflops = peer.step_flops(peer.CONFIGS["wide"]) / t / 1e9
        print(f"| {dtype} | {ceiling[dtype]:.1f} | {gflops:.1f} | {100 * gflops / ceiling[dtype]:.0f} % |")

print("\nCPU/wall: CPU time the whole benchmark process got per wall second (up to 2.00 with two")
print("threads busy). Under 1.00 for a single-threaded run means other processes took the core part")
print("of the time and the steps/s above are scaled down accordingly.")
print("(threads: numpy/OpenBLAS and JAX/XLA use every core they see; the crate, with its default `parallel` feature, splits large products and element-wise passes over two rayon threads; its matmul-only column is faer on one thread.)")
print(f"(JSON and criterion output in {out_dir})")
PYTHON
note "done; results kept in $OUT_DIR"
