#!/usr/bin/env bash
# The prepared GPU check, in one call on a machine with a CUDA device:
#   1. the CUDA tests (pytest -m cuda: the optimizers on CUDA against the CPU single-tensor path, the fused and
#      capturable steps, CUDA graphs);
#   2. the side-by-side step benchmark on CUDA at 1e7, 1e8 and 1e9 parameters (a size whose states do not fit is
#      skipped by the benchmark with the reason);
# everything written into one folder: OUT (default $OUT, else ./gpu-check), as text and JSON, with the device's
# name and a summary. Usage: bash benchmarks/gpu_check.sh [OUT]. Budget: under 8 minutes (each part has its own
# timeout, so a slow part cannot take the rest with it).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu-check}}"
mkdir -p "$out"
python3 - "$out" <<'PY'
import json, sys, torch
out = sys.argv[1]
info = {"torch": torch.__version__, "cuda": torch.version.cuda, "available": torch.cuda.is_available()}
if info["available"]:
    p = torch.cuda.get_device_properties(0)
    info.update(device=p.name, memory_gib=round(p.total_memory / 2 ** 30, 1), capability=f"{p.major}.{p.minor}")
json.dump(info, open(f"{out}/device.json", "w"), indent=2)
print(json.dumps(info))
if not info["available"]:
    sys.exit("no CUDA device: nothing to check")
PY
status=$?
if [ $status -ne 0 ]; then exit $status; fi
timeout 180 python3 -m pytest -q -m cuda -p no:cacheprovider --junitxml="$out/cuda-tests.xml" tests \
    > "$out/cuda-tests.txt" 2>&1
tests_rc=$?
timeout 270 python3 benchmarks/bench_step.py --device cuda --sizes 1e7,1e8,1e9 --json "$out/bench_step.json" \
    > "$out/bench_step.txt" 2>&1
bench_rc=$?
python3 - "$out" "$tests_rc" "$bench_rc" <<'PY'
import json, sys
out, tests_rc, bench_rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tail = open(f"{out}/cuda-tests.txt").read().strip().splitlines()[-1:] or ["(no output)"]
summary = {"device": json.load(open(f"{out}/device.json")), "cuda_tests": {"exit": tests_rc, "last_line": tail[0]},
           "bench_step": {"exit": bench_rc, "json": "bench_step.json", "text": "bench_step.txt"}}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
[ $tests_rc -eq 0 ] && [ $bench_rc -eq 0 ]
