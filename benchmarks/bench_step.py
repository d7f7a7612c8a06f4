"""Time one ``optimizer.step()`` of every preset against ``torch.optim.AdamW`` in one run.

The model is a stack of realistically shaped tensors (an embedding, attention and MLP
matrices, norms and biases: about 10.5M parameters by default). Gradients are fixed
random tensors, so only the optimizer step is timed. Each timing round steps the
baselines and every optimizer back to back, and the reported figure is the median over
rounds of the per-round ratio to ``AdamW(foreach=True)`` (and to ``fused=True`` on CUDA),
which cancels most drift of a shared machine.

    python benchmarks/bench_step.py [--device cpu|cuda] [--rounds 15] [--steps 1] [--only NAME ...] [--json out.json]

Each preset is timed on its default path (on the CPU: the chunked single-tensor path)
and on the ``foreach=True`` path.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

import ams_theory


def make_params(device, dtype, vocab=8192, width=512, layers=2):
    shapes = [(vocab, width)]
    for _ in range(layers):
        shapes += [(3 * width, width), (3 * width,), (width, width), (width,), (width,), (width,),
                   (4 * width, width), (4 * width,), (width, 4 * width), (width,), (width,), (width,)]
    shapes += [(width,), (width,)]
    gen = torch.Generator().manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=gen, dtype=dtype).to(device).requires_grad_()
        p.grad = torch.randn(shape, generator=gen, dtype=dtype).to(device)
        params.append(p)
    return params


def contenders(device, only=None):
    """The baselines, then every preset on its default path and on the foreach path."""
    out = {"torch.AdamW(foreach)": lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=True),
           "torch.AdamW(for-loop)": lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=False)}
    if device == "cuda":
        out["torch.AdamW(fused)"] = lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True)
    for name, cls in ams_theory.PRESETS.items():
        if only and name not in only:
            continue
        out[name] = lambda ps, cls=cls: cls(ps, lr=1e-3)
        out[f"{name}(foreach)"] = lambda ps, cls=cls: cls(ps, lr=1e-3, foreach=True)
    return out


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_steps(opt, steps, device):
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def state_bytes_per_param(opt, params):
    n = sum(p.numel() for p in params)
    total = 0
    for st in opt.state.values():
        for v in st.values():
            if torch.is_tensor(v) and v.numel() > 1:
                total += v.numel() * v.element_size()
    return total / n


def run(device="cpu", rounds=15, steps=1, dtype=torch.float32, only=None):
    makers = contenders(device, only)
    opts, params_of = {}, {}
    for name, make in makers.items():
        params = make_params(device, dtype)
        opts[name] = make(params)
        params_of[name] = params
        for _ in range(2):                      # warm up, create state
            opts[name].step()
    n_params = sum(p.numel() for p in next(iter(params_of.values())))
    times = {name: [] for name in makers}
    for r in range(rounds):
        for name, opt in opts.items():
            times[name].append(time_steps(opt, steps, device))
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    baselines = [k for k in makers if k in ("torch.AdamW(foreach)", "torch.AdamW(fused)")]
    rows = []
    for name in makers:
        row = {"optimizer": name, "median_step_ms": 1e3 * statistics.median(times[name]),
               "state_bytes_per_param": state_bytes_per_param(opts[name], params_of[name])}
        for base in baselines:
            ratios = [a / b for a, b in zip(times[name], times[base])]
            row[f"ratio_vs_{base}"] = statistics.median(ratios)
        rows.append(row)
    return {"device": device, "dtype": str(dtype), "n_params": n_params, "rounds": rounds,
            "steps_per_round": steps, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "rows": rows}


def format_table(result):
    keys = [k for k in result["rows"][0] if k.startswith("ratio_vs_")]
    head = ["optimizer", "step ms", *[k.replace("ratio_vs_", "x ") for k in keys], "state B/param"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result["rows"]:
        cells = [row["optimizer"], f"{row['median_step_ms']:.1f}", *[f"{row[k]:.2f}" for k in keys],
                 f"{row['state_bytes_per_param']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return (f"{result['n_params'] / 1e6:.1f}M parameters, {result['dtype']}, device {result['device']}, "
            f"torch {result['torch']}, {result['threads']} threads, median of {result['rounds']} rounds "
            f"x {result['steps_per_round']} steps\n\n" + "\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--only", nargs="*", help="preset names to time (default: all)")
    ap.add_argument("--json", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device is available")
    result = run(args.device, args.rounds, args.steps, only=args.only)
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
