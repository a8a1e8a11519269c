#!/usr/bin/env bash
# Issue 31's checks on a lent GPU, in one command that fits about 8 minutes on one H100:
#   env      the GPU, its driver, torch and torchvision
#   tests    the tests that need CUDA (a captured step trains as the eager one; evaluate's syncs)
#   capture  001-A for 2 epochs captured and not, --deterministic: metrics.csv within rtol 1e-3
#   project  every step of the five reports: the report's loop, ours, ours captured (s/epoch), and
#            the projected wall time of each report and all five with --jobs 1, 4 and 8
#   compile  001-A with torch.compile(mode="reduce-overhead") against the report's loop
# Each part has its own time limit, so that a slow one leaves time for the next; each writes
# $OUT/<part>.txt as it goes (OUT defaults to runs/gpu-check), and $OUT/summary.txt says how each
# ended.
#
# On a lent GPU (the device tool's run, in the repository root):
#   bash benchmarks/gpu_check.sh
# On the CPU, a smoke run with tiny sizes that proves every part runs end to end:
#   OUT=/tmp/gpu-check bash benchmarks/gpu_check.sh --cpu
set -u
OUT=${OUT:-runs/gpu-check}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ "${1:-}" = --cpu ]; then
    DEVICE=cpu
    CAPTURE_SIZE=(--subset 512)
    PROJECT=(--project 001 --batches 2 --seconds 0.2 --jobs 2)
    COMPILE=(--images 256 --reps 1 --compile default)
    LIMITS=(120 300 600 900)
else
    DEVICE=cuda
    CAPTURE_SIZE=()
    PROJECT=(--project all --batches 100 --seconds 0.5 --jobs 4,8)
    COMPILE=(--images 20000 --reps 2 --compile reduce-overhead)
    LIMITS=(60 90 285 75)
fi

part() {  # part NAME LIMIT COMMAND...: run it under its limit into $OUT/NAME.txt, say how it ended
    local name=$1 limit=$2 start=$SECONDS
    shift 2
    echo "== $name (limit ${limit} s): $*" >>"$OUT/summary.txt"
    timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
    local rc=$?
    echo "   exit $rc after $((SECONDS - start)) s$([ $rc = 124 ] && echo ': stopped at its limit')" \
        >>"$OUT/summary.txt"
    tail -n 4 "$OUT/$name.txt" | sed 's/^/   | /' >>"$OUT/summary.txt"
}

{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
    $PY -c "import torch, torchvision, platform; print('python', platform.python_version(), 'torch', \
torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.version.cuda, \
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
    cat /proc/loadavg
} >"$OUT/env.txt" 2>&1

part tests "${LIMITS[0]}" $PY -m pytest -q -n 0 -p no:cacheprovider tests/test_capture.py \
    "tests/test_metrics.py::test_evaluate_syncs_with_the_gpu_only_to_read_its_two_sums"
part capture "${LIMITS[1]}" $PY -m benchmarks.capture_check --step 001-A --epochs 2 \
    --device "$DEVICE" --out "${TMPDIR:-/tmp}/capture-check" "${CAPTURE_SIZE[@]}"
part project "${LIMITS[2]}" $PY -m benchmarks --device "$DEVICE" "${PROJECT[@]}"
part compile "${LIMITS[3]}" $PY -m benchmarks --step 001-A --device "$DEVICE" --what train \
    "${COMPILE[@]}"
cat "$OUT/summary.txt"
