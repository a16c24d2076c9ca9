#!/bin/bash
# The GPU checks and the benchmarks on a GPU machine, from the repository root:
#   bash tests/gpu/run.sh OUTDIR
# Expects build/accelerate (it links only libc, so a build from any x86-64 Linux with
# glibc <= the machine's runs there), python3 with torch (CUDA) and upstream's `accelerate`
# package on PATH. Every step has its own time limit, so one that hangs costs only itself.
set -u
OUT=${1:?usage: run.sh OUTDIR}
mkdir -p "$OUT"
ACC=$(realpath "${ACC:-build/accelerate}")
UP=$(command -v accelerate) || { echo "upstream's accelerate is not on PATH"; exit 1; }
PY=$(command -v python3)
TORCHRUN=$(command -v torchrun)
export PYTHONUNBUFFERED=1
{
    date -u; nproc; nvidia-smi -L; nvidia-smi --query-gpu=driver_version,memory.total --format=csv
    "$PY" -c "import sys, torch, accelerate; print(sys.version.split()[0], torch.__version__, accelerate.__version__, 'nccl', torch.cuda.nccl.version())"
    echo "--- ours: accelerate env"; HF_HOME=$(mktemp -d) "$ACC" env
    echo "--- upstream: accelerate env"; HF_HOME=$(mktemp -d) timeout 60 "$UP" env
    echo "--- ours: launch --dry_run with no config"; (cd "$(mktemp -d)" && touch t.py && HF_HOME=$PWD "$ACC" launch --dry_run t.py)
} >"$OUT/facts.txt" 2>&1
cat "$OUT/facts.txt"
# A freshly started machine reads torch from a cold disk: the first import takes many
# seconds, and would otherwise count against the first section.
timeout 120 "$PY" -c "import torch, accelerate, accelerate.commands.launch; torch.cuda.init()"
timeout "${CHECKS_S:-420}" "$PY" tests/gpu/gpu_checks.py --launcher "$ACC" --upstream "$UP" --out "$OUT" \
    ${ONLY:+--only "$ONLY"} 2>&1 | tee "$OUT/gpu_checks.txt"
[ -n "${NO_BENCH:-}" ] && exit 0
timeout 120 "$PY" bench/launch_bench.py --launcher "$ACC" --python "$PY" --torchrun "$TORCHRUN" --upstream "$UP" \
    --reps 30 --torchrun-reps 5 --json "$OUT/launch_bench.json" >"$OUT/launch_bench.txt" 2>&1
tail -22 "$OUT/launch_bench.txt"
timeout 150 "$PY" bench/supervision_bench.py --launcher "$ACC" --python "$PY" --torchrun "$TORCHRUN" --reps 6 \
    --torchrun-reps 2 --throughput-reps 3 --paced-reps 3 --json "$OUT/supervision_bench.json" \
    >"$OUT/supervision_bench.txt" 2>&1
tail -30 "$OUT/supervision_bench.txt"
