#!/usr/bin/env bash
# The prepared GPU check, in one call on a machine with a CUDA device:
#   0. the device (device.json: torch, its CUDA, Triton, the device's name and memory);
#   1. one fused step compiled and run on the device (fused_smoke.json/.txt: pass or fail, with the torch version
#      and, on failure, the error), so that a compile failure under the machine's torch is visible at once;
#   2. the CUDA tests (pytest -m cuda: the optimizers on CUDA against the CPU single-tensor path, the fused and
#      capturable steps, CUDA graphs), in one process, without pytest-xdist;
#   3. the side-by-side step benchmark on CUDA at 1e7, 1e8 and 1e9 parameters, one process per size (a size whose
#      states do not fit is skipped by the benchmark with the reason);
# everything written into one folder: OUT (default $OUT, else ./gpu-check), as text and JSON, with a summary
# (summary.json). Usage: bash benchmarks/gpu_check.sh [OUT].
#
# The machine it is written for: no network, a preinstalled torch with CUDA, Triton, numpy, scipy, sympy,
# hypothesis and pytest, and neither this package (the checkout is put on PYTHONPATH here) nor z3-solver, cvc5,
# pytest-xdist or the experiments' packages (the tests that need them skip with the reason; the CUDA tests need none).
#
# Budget: under 8 minutes in all. Each part has its own timeout, so a slow or failing part cannot take the rest
# with it: device 20 s, fused step 100 s, CUDA tests 140 s, benchmark 190 s for all sizes (450 s, and at most 30 s
# more where a part has to be killed after its timeout's TERM). A part that runs out of time is reported in
# summary.json as timed out (exit 124).
#
# Rehearsal without a GPU: GPU_CHECK_DEVICE=cpu runs the same parts on the CPU (the fused step compiled for the
# CPU, the CUDA tests collected and skipped for lack of a device, the benchmark at 1e6 parameters, CAdamW and
# Grams only, 3 rounds), to check on a CPU machine that everything imports and runs. Without a CUDA device and
# without GPU_CHECK_DEVICE=cpu it writes device.json and summary.json, says so, and exits 2.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"      # the package is not installed there: use this checkout
out="${1:-${OUT:-gpu-check}}"
device="${GPU_CHECK_DEVICE:-cuda}"
mkdir -p "$out"
case "$device" in cuda|cpu) ;; *) echo "GPU_CHECK_DEVICE must be cuda or cpu, not '$device'" >&2; exit 2 ;; esac

# 0. the device (20 s)
timeout -k 5 20 python3 - "$out" "$device" <<'PY'
import json, sys, torch
out, device = sys.argv[1], sys.argv[2]
info = {"torch": torch.__version__, "cuda": torch.version.cuda, "available": torch.cuda.is_available(),
        "check_device": device}
try:
    import triton
    info["triton"] = triton.__version__
except Exception as err:  # noqa: BLE001
    info["triton"] = f"absent ({type(err).__name__})"
if info["available"]:
    p = torch.cuda.get_device_properties(0)
    info.update(device=p.name, memory_gib=round(p.total_memory / 2 ** 30, 1), capability=f"{p.major}.{p.minor}")
json.dump(info, open(f"{out}/device.json", "w"), indent=2)
print(json.dumps(info))
if device == "cuda" and not info["available"]:
    msg = (f"no CUDA device here (torch {info['torch']}, built with CUDA {info['cuda']}): nothing to check. "
           "To rehearse the other parts on the CPU: GPU_CHECK_DEVICE=cpu bash benchmarks/gpu_check.sh OUT")
    json.dump({"device": info, "result": msg}, open(f"{out}/summary.json", "w"), indent=2)
    print(msg, file=sys.stderr)
    sys.exit(2)
PY
status=$?
if [ $status -ne 0 ]; then
    [ $status -ne 2 ] && echo "gpu_check: the device query failed (exit $status)" >&2
    exit 2
fi

# 1. one fused step, compiled and run on the device, against the single-tensor path there (100 s)
start=$SECONDS
timeout -k 5 100 python3 - "$out" "$device" > "$out/fused_smoke.txt" 2>&1 <<'PY'
import json, sys, time, traceback
import torch
out, device = sys.argv[1], sys.argv[2]
res = {"torch": torch.__version__, "device": device, "preset": "CAdamW", "dtype": "float32", "ok": False}
try:
    import ams_theory

    def run(fused, steps=3):
        gen = torch.Generator().manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(s, generator=gen).to(device)) for s in ((64, 32), (32,), (1000,))]
        opt = ams_theory.PRESETS["CAdamW"](params, lr=1e-2, weight_decay=0.1,
                                           **({"fused": True} if fused else {"foreach": False}))
        times = []
        for _ in range(steps):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen).to(device)
            t = time.perf_counter()
            opt.step()
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        return [p.detach().cpu() for p in params], times

    fused, times = run(True)
    res.update(first_step_s=round(times[0], 2), later_step_ms=round(1e3 * min(times[1:]), 3))
    ref, _ = run(False)
    res["max_abs_diff"] = max((a - b).abs().max().item() for a, b in zip(fused, ref))
    for a, b in zip(fused, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    res["ok"] = True
except Exception as err:  # noqa: BLE001 - the failure, whatever it is, is the result
    res["error"] = f"{type(err).__name__}: {err}"[:2000]
    traceback.print_exc()
json.dump(res, open(f"{out}/fused_smoke.json", "w"), indent=2)
print(json.dumps(res, indent=2))
sys.exit(0 if res["ok"] else 1)
PY
smoke_rc=$?
echo "fused step: exit $smoke_rc in $((SECONDS - start)) s"

# 2. the CUDA tests, one process, pyproject's addopts (-n auto: pytest-xdist) replaced (140 s)
start=$SECONDS
timeout -k 10 140 python3 -m pytest -q -m cuda -p no:cacheprovider -p no:xdist -o addopts="-ra --strict-markers" \
    --junitxml="$out/cuda-tests.xml" tests > "$out/cuda-tests.txt" 2>&1
tests_rc=$?
echo "CUDA tests: exit $tests_rc in $((SECONDS - start)) s"

# 3. the step benchmark, one process per size (bench_step-SIZE.txt/.json), so that a size that runs out of time
#    keeps the sizes before it: 190 s in all, each size gets what the sizes before it left
if [ "$device" = cuda ]; then
    sizes=(1e7 1e8 1e9); bench_args=(--device cuda)
else
    sizes=(1e6); bench_args=(--device cpu --rounds 3 --only CAdamW Grams)
fi
deadline=$((SECONDS + 190))
bench_rc=0
bench_exits=()
for size in "${sizes[@]}"; do
    start=$SECONDS
    left=$((deadline - SECONDS))
    if [ $left -lt 15 ]; then
        echo "not run: ${left} s left of the benchmark's 190 s" > "$out/bench_step-$size.txt"
        rc=124
    else
        timeout -k 10 $left python3 benchmarks/bench_step.py "${bench_args[@]}" --sizes "$size" \
            --json "$out/bench_step-$size.json" > "$out/bench_step-$size.txt" 2>&1
        rc=$?
    fi
    echo "step benchmark at $size: exit $rc in $((SECONDS - start)) s"
    bench_exits+=("$size=$rc")
    [ $bench_rc -eq 0 ] && bench_rc=$rc
done

python3 - "$out" "$smoke_rc" "$tests_rc" "${bench_exits[@]}" <<'PY'
import json, os, sys
out, smoke_rc, tests_rc, bench = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]


def last_line(name):
    try:
        lines = open(f"{out}/{name}").read().strip().splitlines()
    except OSError:
        return "(no output)"
    return lines[-1] if lines else "(no output)"


def part(rc, **kw):
    return {"exit": rc, **({"timed_out": True} if rc in (124, 137) else {}), **kw}


smoke = json.load(open(f"{out}/fused_smoke.json")) if os.path.exists(f"{out}/fused_smoke.json") else None
sizes = dict(item.split("=") for item in bench)
summary = {"device": json.load(open(f"{out}/device.json")),
           "fused_step": part(smoke_rc, result=smoke, text="fused_smoke.txt"),
           "cuda_tests": part(tests_rc, last_line=last_line("cuda-tests.txt")),
           "bench_step": {size: part(int(rc), json=f"bench_step-{size}.json", text=f"bench_step-{size}.txt")
                          for size, rc in sizes.items()}}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
[ $smoke_rc -eq 0 ] && [ $tests_rc -eq 0 ] && [ $bench_rc -eq 0 ]
