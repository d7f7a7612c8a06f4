r"""Side-by-side ``optimizer.step()`` benchmark: our presets on every path against torch and peers.

    python benchmarks/bench_step.py [--device cpu|cuda] [--sizes 1e7,1e8] [--rounds 15] [--steps 1]
                                    [--warmup 3] [--only NAME ...] [--paths default foreach fused]
                                    [--json out.json]

**Model.** For each target size (``--sizes``; default ``1e7`` on the CPU, ``1e7,1e8,1e9`` on
CUDA) a transformer-like stack of float32 parameters: a token embedding (vocabulary 32768, or
8192 or 2048 for targets below about 5M; tied with the output head), and per layer a pre-attention norm (weight, bias), the attention
``qkv`` matrix and bias, the output projection and bias, a pre-MLP norm, the MLP up matrix
(``4 width``) and bias, the down matrix and bias; a final norm. Width (multiples of 128) and
depth are chosen to land within 10% of the target with a depth near ``width / 64``.
Gradients are fixed random tensors; every optimizer steps the same parameters and
gradients, so only the step is timed.

**Contenders.** The presets CAdamW, Grams, AdamW, AMS (``lam=-0.5``), Lion and CLion, each on
its default path (on the CPU the chunked single-tensor path; on CUDA the default is the
foreach path, so that row is not repeated), with ``foreach=True`` and with ``fused=True``
(the ``torch.compile`` step: its first step compiles, and that time is reported in its own
column, ``first step s``, not in the step time; shorter when torch's on-disk compile cache
holds the kernels from an earlier run); ``torch.optim.AdamW`` with ``fused=True`` and
with ``foreach=True``; and, when installed, ``pytorch_optimizer.Grams``,
``pytorch_optimizer.AdEMAMix(alpha=0.0, cautious=True, weight_decouple=True)``
(pytorch-optimizer's stand-in for a cautious AdamW) and ``lion_pytorch.Lion``. Every one
gets ``lr=1e-3`` and ``weight_decay=1e-2``, otherwise its own defaults. A contender that
cannot be built or stepped here (a missing package, a path torch does not support on this
device, a failed compile) is listed as skipped with the reason. ``--only`` restricts the
run to the named presets or peers (any of ``ams_theory.PRESETS`` may be named; AMS runs
with ``lam=-0.5``); torch's AdamW always runs.
For cold compile times run with ``TORCHINDUCTOR_FORCE_DISABLE_CACHES=1`` in the environment.

**Timing.** Every contender is warmed up (``--warmup`` steps, the first of which creates the
state and compiles the fused step). Then, round after round, each contender takes
``--steps`` steps (device synchronised around them), the starting contender rotating from
round to round. The baseline is ``torch.optim.AdamW(fused=True)``, or ``foreach=True`` where
fused is not supported; a row's ratio is the median over rounds of its time divided by the
baseline's time in the same round, which cancels most drift of a shared machine. When the
states of all contenders do not fit in half the available memory (CPU) or 90% of the free
device memory (CUDA), the contenders run in batches that fit, the baseline in every batch;
a size that does not fit even with one contender besides the baseline is skipped with the
reason.

**Memory.** ``state B/param``: bytes of the state tensors (not 1-element step counts) per
parameter. ``peak extra B/param``: the peak of memory allocated during one ``step()`` above
what was allocated before it (state already created), per parameter. On CUDA this is
``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()`` minus
``memory_allocated()`` before the step. On the CPU it is the running sum of the tensor
allocations and frees that ``torch.profiler`` (``profile_memory=True``) records during the
step, in time order, and its maximum: bytes of tensors held through torch's allocator, the
CPU analogue of the CUDA figure (not resident-set size).

**Bandwidth.** ``min B/param`` is the least memory traffic the update rule needs per
parameter in one pass over float32 tensors: read ``p``, ``g`` and each state buffer, write
``p`` and each buffer, so ``3 + 2 k`` elements for ``k`` buffers (AdamW, Adam, Grams with
``m, v``: 7 elements, 28 B; Lion with ``m``: 5, 20 B). A mask whose rescaling needs a count
over the group or tensor (C-AdamW, AMS, C-Lion; not Grams, whose ``sign(g)`` needs no
count) must finish the count before any parameter is updated, so the count's inputs are
read once more (``m`` and ``g``): 2 more elements (C-AdamW and AMS 9, 36 B, 1.29x AdamW's;
C-Lion 7). A peer is charged for the rule it computes (AdEMAMix with ``alpha=0`` and
``cautious=True`` as C-AdamW, 9, although it also keeps and updates a third buffer).
``GB/s`` is that traffic divided by the median step time. It is shown against the
practical peak measured in the same run: ``dst.copy_(src)`` on a tensor far larger than
any cache (2^26 floats on the CPU, 2^28 on CUDA), counted as read plus write
(``2 x bytes / time``), timed once at the start of every round, so that ``% copy`` is a
per-round ratio (median over rounds) like ``x``; and on CUDA against the nominal peak
``2 x memory_clock_rate x memory_bus_width`` when ``torch.cuda.get_device_properties``
reports both. A step can exceed the copy figure (``% copy`` above 100): the copy's
destination is read before it is written (traffic not counted), and on a machine with few
cores a copy's two streams do not reach the memory's bandwidth while a step's several
streams get closer.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

try:
    import ams_theory
except ImportError:     # not installed (as on the lent GPU machine): the checkout this script is in
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import ams_theory

ELEMENT_BYTES = 4                   # float32 parameters, gradients and state
VOCAB = 32768
LR, WEIGHT_DECAY = 1e-3, 1e-2
DEFAULT_PRESETS = ("CAdamW", "Grams", "AdamW", "AMS", "Lion", "CLion")
PRESET_KWARGS = {"AMS": {"lam": -0.5}}
# state buffers per parameter of each preset (AMS with its default beta3 = 0 keeps no third buffer)
STATE_BUFFERS = {"AMS": 2, "Adam": 2, "AdamW": 2, "CAdamW": 2, "Grams": 2, "Lion": 1, "CLion": 1, "GDM": 1,
                 "CGDM": 1, "SignedMomentum": 1, "CSignedMomentum": 1, "GD": 0}
TEMP_RESERVE_ELEMENTS = 4           # per parameter, planned for one step's temporaries (at most 3.1 measured)
MEMORY_FRACTION = {"cpu": 0.5, "cuda": 0.9}
TORCH_ADAMW = "torch.AdamW"


@dataclass
class Contender:
    name: str                       # the row's label
    family: str                     # what --only names
    make: Callable | None           # params -> optimizer
    elements: int                   # minimum float32 elements moved per parameter and step
    state_buffers: int              # for planning memory; the measured figure is reported
    skip: str | None = None         # why it cannot run here
    fused: bool = False             # its first step compiles


@dataclass
class Timed:
    contender: Contender
    opt: torch.optim.Optimizer
    first_step_s: float
    times: list = field(default_factory=list)
    ratios: list = field(default_factory=list)
    copy_bw: list = field(default_factory=list)     # the copy probe's bandwidth in the same rounds
    peak_extra: int = 0
    state: int = 0
    batch: int = 0                                  # the memory batch it was timed in (the baseline: all)


# ------------------------------------------------------------------ model

def model_shapes(target: float):
    """Parameter shapes of a transformer-like stack within 10% of ``target`` parameters."""
    best = None
    for vocab in (VOCAB, VOCAB // 4, VOCAB // 16):
        for width in range(128, 16385, 128):
            per_layer = 12 * width * width + 13 * width
            layers = round((target - vocab * width - 2 * width) / per_layer)
            if layers < 1:
                continue
            n = vocab * width + layers * per_layer + 2 * width
            if abs(n - target) > 0.1 * target:
                continue
            score = abs(math.log(layers * 64 / width)) + 0.25 * math.log2(VOCAB / vocab)
            if best is None or score < best[0]:
                best = (score, vocab, width, layers)
    if best is None:
        raise ValueError(f"no transformer-like stack of about {target:.3g} parameters "
                         f"(the smallest is about {(VOCAB // 16) * 128 + 12 * 128 * 128:.3g})")
    _, vocab, w, layers = best
    layer = [(w,), (w,), (3 * w, w), (3 * w,), (w, w), (w,), (w,), (w,), (4 * w, w), (4 * w,), (w, 4 * w), (w,)]
    shapes = [(vocab, w)] + layer * layers + [(w,), (w,)]
    return shapes, {"vocab": vocab, "width": w, "layers": layers, "tensors": len(shapes)}


def make_params(shapes, device):
    gen = torch.Generator(device=device).manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=gen, device=device).requires_grad_()
        p.grad = torch.randn(shape, generator=gen, device=device)
        params.append(p)
    return params


# ------------------------------------------------------------ contenders

def min_elements(name: str) -> int:
    """3 + 2 k for k state buffers, + 2 when the preset's mask rescaling needs a count first."""
    preset = ams_theory.PRESETS[name].PRESET
    counted = preset.get("mask") is not None and preset.get("normalize", "none") != "none"
    return 3 + 2 * STATE_BUFFERS[name] + (2 if counted else 0)


def peer_contenders(device="cpu"):
    out = [Contender(f"{TORCH_ADAMW}(fused)", TORCH_ADAMW,
                     lambda ps: torch.optim.AdamW(ps, lr=LR, weight_decay=WEIGHT_DECAY, fused=True), 7, 2),
           Contender(f"{TORCH_ADAMW}(foreach)", TORCH_ADAMW,
                     lambda ps: torch.optim.AdamW(ps, lr=LR, weight_decay=WEIGHT_DECAY, foreach=True), 7, 2)]
    if device == "cpu":   # torch's default on the CPU is its single-tensor loop (on CUDA: foreach, above)
        out.append(Contender(TORCH_ADAMW, TORCH_ADAMW,
                             lambda ps: torch.optim.AdamW(ps, lr=LR, weight_decay=WEIGHT_DECAY), 7, 2))
    try:
        import pytorch_optimizer
    except ImportError:
        pytorch_optimizer, missing = None, "pytorch_optimizer is not installed"
    for name, elements, buffers, kw in (("Grams", 7, 2, {}),
                                        ("AdEMAMix", 9, 3, dict(alpha=0.0, cautious=True, weight_decouple=True))):
        label = f"pytorch_optimizer.{name}" + ("(alpha=0, cautious)" if kw else "")
        make = None if pytorch_optimizer is None else (
            lambda ps, cls=getattr(pytorch_optimizer, name), kw=kw: cls(ps, lr=LR, weight_decay=WEIGHT_DECAY, **kw))
        out.append(Contender(label, f"pytorch_optimizer.{name}", make, elements, buffers,
                             skip=None if make else missing))
    try:
        import lion_pytorch
        make, skip = lambda ps: lion_pytorch.Lion(ps, lr=LR, weight_decay=WEIGHT_DECAY), None
    except ImportError:
        make, skip = None, "lion_pytorch is not installed"
    out.append(Contender("lion_pytorch.Lion", "lion_pytorch.Lion", make, 5, 1, skip=skip))
    return out


def preset_contenders(names, device):
    """Each preset on its default path (CPU only: on CUDA the default is foreach), foreach, fused."""
    paths = ([("", {})] if device == "cpu" else []) + [("foreach", {"foreach": True}), ("fused", {"fused": True})]
    out = []
    for name in names:
        cls, extra = ams_theory.PRESETS[name], PRESET_KWARGS.get(name, {})
        for path, kw in paths:
            inside = ", ".join([*(f"{k}={v}" for k, v in extra.items()), *([path] if path else [])])
            label = f"{name}({inside})" if inside else name
            make = lambda ps, cls=cls, kw={**extra, **kw}: cls(ps, lr=LR, weight_decay=WEIGHT_DECAY, **kw)
            out.append(Contender(label, name, make, min_elements(name), STATE_BUFFERS[name], fused=path == "fused"))
    return out


PATHS = ("default", "foreach", "fused")


def path_of(c) -> str:
    """The path a contender's row times: ``fused``, ``foreach`` or ``default`` (a peer's own step)."""
    return "fused" if c.name.endswith("fused)") else "foreach" if c.name.endswith("foreach)") else "default"


def contenders(device, only=None, paths=PATHS):
    """The contenders of a run: torch's AdamW, our presets on each path of ``paths`` and the peers (``--only``
    restricts the presets and peers); torch's fused AdamW, the baseline, always runs."""
    return [c for c in _contenders(device, only) if path_of(c) in paths or c.name == f"{TORCH_ADAMW}(fused)"]


def _contenders(device, only=None):
    peers = peer_contenders(device)
    names = list(DEFAULT_PRESETS)
    if only:
        wanted = {o.lower() for o in only}
        known = {c.family.lower() for c in peers} | {n.lower() for n in ams_theory.PRESETS}
        unknown = wanted - known - {c.name.lower() for c in peers}
        if unknown:
            raise SystemExit(f"--only: unknown {', '.join(sorted(unknown))} (choose from "
                             f"{', '.join([*ams_theory.PRESETS, *dict.fromkeys(c.family for c in peers)])})")
        names = [n for n in ams_theory.PRESETS if n.lower() in wanted]
        peers = [c for c in peers if c.family == TORCH_ADAMW or {c.family.lower(), c.name.lower()} & wanted]
    n_torch = sum(c.family == TORCH_ADAMW for c in peers)
    return peers[:n_torch] + preset_contenders(names, device) + peers[n_torch:]


# --------------------------------------------------------------- measuring

def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed_steps(opt, steps, device):
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def peak_extra_bytes(opt, device):
    """Peak memory allocated during one step above what was allocated before it."""
    if device == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        opt.step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        opt.step()
    stack, allocations = list(prof.profiler.kineto_results.experimental_event_tree()), []
    while stack:
        event = stack.pop()
        stack.extend(event.children)
        if event.tag == _EventType.Allocation:
            allocations.append((event.start_time_ns, event.extra_fields.alloc_size))
    running = peak = 0
    for _, size in sorted(allocations, key=lambda a: a[0]):
        running += size
        peak = max(peak, running)
    return peak


MEMORY_METHOD = {
    "cuda": "torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), minus memory_allocated() before",
    "cpu": "torch.profiler(profile_memory=True): peak running sum of tensor allocations and frees in one step",
}


def state_bytes(opt):
    return sum(v.numel() * v.element_size() for st in opt.state.values() for v in st.values()
               if torch.is_tensor(v) and v.numel() > 1)


def copy_elements(device):
    return 2 ** 28 if device == "cuda" else 2 ** 26


def copy_buffers(device):
    """Source and destination of the copy probe, far larger than any cache, pages already touched."""
    src = torch.ones(copy_elements(device), device=device)
    dst = torch.empty_like(src).copy_(src)
    return src, dst


def copy_bandwidth(src, dst, device):
    """The practical peak: one ``dst.copy_(src)``, counted as read + write."""
    sync(device)
    t0 = time.perf_counter()
    dst.copy_(src)
    sync(device)
    return 2 * src.numel() * ELEMENT_BYTES / (time.perf_counter() - t0)


def nominal_bandwidth(device):
    """2 x memory clock x bus width from the device properties, when torch reports both (CUDA only)."""
    if device != "cuda":
        return None
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    clock_khz, bus_bits = getattr(props, "memory_clock_rate", 0), getattr(props, "memory_bus_width", 0)
    return 2 * clock_khz * 1e3 * bus_bits / 8 if clock_khz and bus_bits else None


def available_memory(device):
    if device == "cuda":
        gc.collect()
        torch.cuda.empty_cache()   # blocks cached for an earlier size count as free
        return torch.cuda.mem_get_info()[0]
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def device_name(device):
    if device == "cuda":
        return torch.cuda.get_device_name()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        return f"{names[0]} ({len(names)} logical CPUs)"
    except (OSError, IndexError):
        return platform.processor() or platform.machine()


# ----------------------------------------------------------------- running

def start(contender, params, device, warmup):
    """Build and warm up; the first step (state creation, compilation) is timed on its own."""
    opt = contender.make(params)
    sync(device)
    t0 = time.perf_counter()
    opt.step()
    sync(device)
    first = time.perf_counter() - t0
    for _ in range(warmup - 1):
        opt.step()
    return Timed(contender, opt, first)


def batches(runnable, n, budget):
    """Greedy batches whose states fit in ``budget`` beside the baseline, the parameters and gradients."""
    def state(c):
        return c.state_buffers * n * ELEMENT_BYTES

    room = budget - (2 + TEMP_RESERVE_ELEMENTS) * n * ELEMENT_BYTES - state(runnable[0])
    out, current, used = [], [], 0
    for c in runnable[1:]:
        if current and used + state(c) > room:
            out.append(current)
            current, used = [], 0
        current.append(c)
        used += state(c)
    return out + [current] if current or not out else out   # the baseline is timed even alone


# the speed goals: (row, reference row, the most the per-round ratio may be)
GOALS = {"cpu": [("AdamW(fused)", f"{TORCH_ADAMW}(fused)", 1.10), ("Grams(fused)", f"{TORCH_ADAMW}(fused)", 1.10),
                 ("CAdamW(fused)", f"{TORCH_ADAMW}(fused)", 1.35), ("CLion(fused)", f"{TORCH_ADAMW}(fused)", 1.10),
                 ("CAdamW", TORCH_ADAMW, 1.15)],
         "cuda": [("Grams(fused)", f"{TORCH_ADAMW}(fused)", 1.10), ("CAdamW(fused)", f"{TORCH_ADAMW}(fused)", 1.35)]}
BANDWIDTH_GOAL = 0.80    # CUDA, 1e8 parameters and more: a fused step's share of the nominal peak


def judge_goals(device, base, timed):
    """Each goal of :data:`GOALS` whose rows both ran: the median over rounds of the per-round ratio (rounds in
    which both were timed; the baseline runs in every round), its quartiles, and whether it is met."""
    by_name = {t.contender.name: t for t in timed}
    out = []
    for row, ref, limit in GOALS.get(device, []):
        if row not in by_name or ref not in by_name:
            continue
        a, b = by_name[row], by_name[ref]
        if b is base:
            ratios = a.ratios
        elif a.batch == b.batch:
            ratios = [x / y for x, y in zip(a.times, b.times)]
        else:   # timed in different memory batches: the quotient of the two ratios to the baseline
            ratios = [statistics.median(a.ratios) / statistics.median(b.ratios)]
        q1, med, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        out.append({"goal": f"{row} <= {limit:.2f}x {ref}", "row": row, "reference": ref, "limit": limit,
                    "ratio": statistics.median(ratios),
                    "quartiles": [q1, q3], "met": statistics.median(ratios) <= limit})
    return out


def run_size(target, device, rounds, steps, warmup, only, paths=PATHS):
    shapes, model = model_shapes(target)
    n = sum(math.prod(s) for s in shapes)
    candidates = contenders(device, only, paths)
    skipped = {c.name: c.skip for c in candidates if c.skip}
    runnable = [c for c in candidates if not c.skip]
    budget = MEMORY_FRACTION[device] * available_memory(device)
    probe = 2 * copy_elements(device) * ELEMENT_BYTES
    need = (2 + TEMP_RESERVE_ELEMENTS + 2 * max(c.state_buffers for c in runnable)) * n * ELEMENT_BYTES + probe
    result = {"target": target, "n_params": n, "model": model, "rounds": rounds, "steps_per_round": steps,
              "memory_budget_bytes": budget}
    if need > budget:
        result.update(rows=[], skipped=skipped, batches=[],
                      skip=f"needs about {need / 2 ** 30:.1f} GiB, {budget / 2 ** 30:.1f} GiB may be used "
                           f"({MEMORY_FRACTION[device]:.0%} of what is free)")
        return result
    torch._dynamo.reset()          # a fresh compile per size, as a run with one model gets
    params = make_params(shapes, device)
    base = None
    for c in runnable[:2]:         # torch fused AdamW, or foreach where fused is not supported here
        try:
            base = start(c, params, device, warmup)
            break
        except Exception as err:   # noqa: BLE001 - any failure is reported as the reason
            skipped[c.name] = f"{type(err).__name__}: {str(err).splitlines()[0]}"
    if base is None:
        raise SystemExit(f"no baseline: {skipped}")
    others = [c for c in runnable if c is not base.contender and c.name not in skipped]
    plan = batches([base.contender] + others, n, budget - probe)
    src, dst = copy_buffers(device)
    done = [base]
    for b, batch in enumerate(plan):
        live = []
        for c in batch:
            print(f"{target:.0e}: warming up {c.name}", file=sys.stderr)
            try:
                live.append(start(c, params, device, warmup))
                live[-1].batch = b
            except Exception as err:   # noqa: BLE001 - a failed compile, an unsupported path
                skipped[c.name] = f"{type(err).__name__}: {str(err).splitlines()[0]}"
        group = [base] + live
        for r in range(rounds):
            shift = r % len(group)
            bandwidth = copy_bandwidth(src, dst, device)
            round_times = {}
            for t in group[shift:] + group[:shift]:
                round_times[t.contender.name] = timed_steps(t.opt, steps, device)
            for t in group:
                t.times.append(round_times[t.contender.name])
                t.ratios.append(round_times[t.contender.name] / round_times[base.contender.name])
                t.copy_bw.append(bandwidth)
            print(f"{target:.0e}: batch {b + 1}/{len(plan)}, round {r + 1}/{rounds}", file=sys.stderr)
        for t in live:
            t.peak_extra = peak_extra_bytes(t.opt, device)
            t.state = state_bytes(t.opt)
            t.opt = None           # free the state before the next batch
        done += live
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    base.peak_extra, base.state = peak_extra_bytes(base.opt, device), state_bytes(base.opt)
    del src, dst
    rows = []
    for t in done:
        c, step_s = t.contender, statistics.median(t.times)
        moved = c.elements * ELEMENT_BYTES
        of_copy = [moved * n / ts / bw for ts, bw in zip(t.times, t.copy_bw)]
        q1, _, q3 = statistics.quantiles(t.ratios, n=4) if len(t.ratios) > 1 else [t.ratios[0]] * 3
        rows.append({"optimizer": c.name, "median_step_ms": 1e3 * step_s, "ratio": statistics.median(t.ratios),
                     "ratio_quartiles": [q1, q3],
                     "state_bytes_per_param": t.state / n, "peak_extra_bytes_per_param": t.peak_extra / n,
                     "min_bytes_per_param": moved, "achieved_GBps": moved * n / step_s / 1e9,
                     "pct_of_copy": 100 * statistics.median(of_copy), "first_step_s": t.first_step_s,
                     "compiles": c.fused, "rounds_timed": len(t.times)})
    result["goals"] = judge_goals(device, base, done)
    result.update(baseline=base.contender.name, rows=rows, skipped=skipped, copy_GBps=statistics.median(
                  base.copy_bw) / 1e9, copy_GBps_range=[min(base.copy_bw) / 1e9, max(base.copy_bw) / 1e9],
                  batches=[[c.name for c in batch] for batch in plan])
    return result


def run(device="cpu", sizes=(1e7,), rounds=15, steps=1, warmup=3, only=None, paths=PATHS):
    load_before = os.getloadavg()
    nominal = nominal_bandwidth(device)
    out = {"device": device, "device_name": device_name(device), "torch": torch.__version__,
           "threads": torch.get_num_threads(), "dtype": "float32", "copy_elements": copy_elements(device),
           "nominal_GBps": nominal / 1e9 if nominal else None, "memory_method": MEMORY_METHOD[device],
           "sizes": []}
    for target in sizes:
        res = run_size(target, device, rounds, steps, warmup, only, paths)
        for row in res["rows"]:
            row["pct_of_nominal"] = 100 * row["achieved_GBps"] / out["nominal_GBps"] if nominal else None
            if nominal and target >= 1e8 and row["optimizer"].endswith("fused)") and not row["optimizer"].startswith(
                    TORCH_ADAMW):
                share = row["pct_of_nominal"] / 100
                res["goals"].append({"goal": f"{row['optimizer']} >= {BANDWIDTH_GOAL:.0%} of the nominal bandwidth",
                                     "row": row["optimizer"], "reference": "nominal", "limit": BANDWIDTH_GOAL,
                                     "ratio": share, "quartiles": [share, share], "met": share >= BANDWIDTH_GOAL})
        out["sizes"].append(res)
    out["load_average"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    return out


# ---------------------------------------------------------------- printing

def format_result(result):
    nominal = result["nominal_GBps"]
    lines = [f"device {result['device']}: {result['device_name']}; torch {result['torch']}; "
             f"{result['threads']} threads; {result['dtype']}",
             f"practical peak: dst.copy_(src) of {result['copy_elements']} floats counted as read + write, once "
             f"per round; % copy = per-round ratio, median over rounds"
             + (f"; nominal peak (2 x memory clock x bus width): {nominal:.0f} GB/s" if nominal else ""),
             f"peak extra memory: {result['memory_method']}",
             f"1-minute load average (a shared machine): {result['load_average']['before']:.2f} before, "
             f"{result['load_average']['after']:.2f} after"]
    for res in result["sizes"]:
        m = res["model"]
        lines += ["", f"## {res['n_params'] / 1e6:.1f}M parameters (target {res['target']:.0e}): vocabulary "
                      f"{m['vocab']}, width {m['width']}, {m['layers']} layers, {m['tensors']} tensors"]
        if "skip" in res:
            lines.append(f"skipped: {res['skip']}")
            continue
        batched = len(res["batches"]) > 1
        low, high = res["copy_GBps_range"]
        lines.append(f"copy_: {res['copy_GBps']:.1f} GB/s median over the rounds ({low:.1f}-{high:.1f})")
        lines.append(f"median of {res['rounds']} rounds x {res['steps_per_round']} steps; x = per-round ratio to "
                     f"{res['baseline']}, median over rounds (quartiles beside it)"
                     + (f"; {len(res['batches'])} memory batches, the baseline in each" if batched else ""))
        head = ["optimizer", "step ms", "x", "x quartiles", "state B/param", "peak extra B/param", "min B/param", "GB/s",
                "% copy", *(["% nominal"] if nominal else []), "first step s"]
        lines += ["", "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for row in res["rows"]:
            q1, q3 = row["ratio_quartiles"]
            cells = [row["optimizer"], f"{row['median_step_ms']:.1f}", f"{row['ratio']:.2f}", f"{q1:.2f}-{q3:.2f}",
                     f"{row['state_bytes_per_param']:.0f}", f"{row['peak_extra_bytes_per_param']:.1f}",
                     f"{row['min_bytes_per_param']}", f"{row['achieved_GBps']:.1f}", f"{row['pct_of_copy']:.0f}",
                     *([f"{row['pct_of_nominal']:.0f}"] if nominal else []),
                     f"{row['first_step_s']:.2f}" + (" (compile)" if row["compiles"] else "")]
            lines.append("| " + " | ".join(cells) + " |")
        for name, why in res["skipped"].items():
            lines.append(f"skipped {name}: {why}")
        if res.get("goals"):
            lines += ["", "| goal | ratio | quartiles | met |", "|---|---:|---:|---|"]
            for g in res["goals"]:
                q1, q3 = g["quartiles"]
                lines.append(f"| {g['goal']} | {g['ratio']:.2f} | "
                             f"{q1:.2f}-{q3:.2f} | {'met' if g['met'] else 'not met'} |")
    return "\n".join(lines)


def parse_sizes(text):
    try:
        sizes = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    for size in sizes:
        try:
            model_shapes(size)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return sizes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", type=parse_sizes,
                    help="parameter counts, comma-separated (default: 1e7 on the CPU, 1e7,1e8,1e9 on CUDA; "
                         "a size that does not fit in memory is skipped with the reason)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=1, help="steps per contender and round")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (the first creates state, compiles)")
    ap.add_argument("--only", nargs="+", help="presets or peers to time (default: CAdamW Grams AdamW AMS Lion CLion "
                                              "and the peers); torch's AdamW always runs")
    ap.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS),
                    help="the paths to time (default: all); torch's fused AdamW, the baseline, always runs")
    ap.add_argument("--json", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device is available")
    if min(args.rounds, args.steps, args.warmup) < 1:
        ap.error("--rounds, --steps and --warmup must be at least 1")
    sizes = args.sizes or ([1e7, 1e8, 1e9] if args.device == "cuda" else [1e7])
    only = [name for item in args.only for name in item.split(",") if name] if args.only else None
    result = run(args.device, sizes, args.rounds, args.steps, args.warmup, only, tuple(args.paths))
    print(format_result(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
