r"""A small real-data comparison of the optimizers: an MLP on scikit-learn's digits.

The papers' large-scale tables (Table 1 and Table 2 of the AMS/Grams paper: Llama and
WideResNet pre-training, Llama fine-tuning; Table 1 of the Cautious paper: Llama
pre-training at four sizes) cannot be re-run on a 2-core CPU. This module runs the same
optimizers on a problem that can: a 64 -> 64 -> 10 ReLU network on the 8x8 digits that
ship inside scikit-learn (nothing is downloaded), with the learning rate tuned per method
on a validation split and the test numbers reported over several seeds. What it gives is
small-scale *evidence* about the directions the tables report, with its seed-to-seed
spread; it is not a verdict on them (other data, model, scale, schedule and budget).

Protocol (everything is recorded in the result so that a run can be repeated):

- data: ``load_digits`` (1797 images, 64 features, 10 classes), a stratified test split
  (20 %) and a stratified validation split carved from the rest (20 % of it), both from
  ``split_seed``; features standardised with the mean and std of the fit split only;
- model: float32, default ``nn.Linear`` initialisation drawn from a per-run generator,
  so that for a given run seed every method and learning rate starts from the same
  weights and sees the same minibatch order (paired comparisons);
- training: minibatches of 64 rows in a fresh random order every epoch, a fixed number
  of epochs, constant learning rate, each optimizer's default code path;
- tuning: for each method, every learning rate of its grid is trained on the *tuning*
  seeds and the one with the lowest mean final validation loss is chosen (a diverged run
  counts as +inf; ``select="val_acc"`` picks by accuracy instead); the test set is never
  looked at for this. Without weight decay or a schedule, sign-based methods (Lion,
  C-Lion) become over-confident at their faster learning rates: their final validation
  loss rises while accuracy still improves, so the loss criterion can pick an
  under-trained lr for them; the tuning table in the result shows both numbers;
- report: the chosen learning rate is re-run on separate *evaluation* seeds; per method,
  mean, sample std (n - 1), min and max of the final train loss (whole fit split), test
  loss and test accuracy, and paired differences against the reference method.

Budgets (lr grids are half-decades, the Lion family's 10x smaller): ``quick`` 6 epochs,
2 lrs, 1 tuning + 2 evaluation seeds (28 runs, 6 s); ``standard`` 25 epochs,
4 lrs, 2 + 5 seeds (91 runs, 34 s); ``thorough`` 50 epochs, 6 lrs,
3 + 10 seeds (196 runs, about 2 minutes); times for one idle core of the 2-core dev machine.

Methods are the project's own optimizer classes (:data:`ams_theory.PRESETS`) with their
paper defaults; nothing here re-types an update rule.
"""
from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ams_theory.optim import PRESETS

__all__ = ["Method", "BUDGETS", "DEFAULT_METHODS", "REFERENCE", "compare_on_digits", "summary_lines", "paper_lines",
           "plot_comparison", "load_digits_splits"]

_EXTRA_HINT = 'pip install -e ".[experiments]"'


@dataclass(frozen=True)
class Method:
    """One optimizer configuration of the comparison.

    ``optimizer`` is a name in :data:`ams_theory.PRESETS` (built as
    ``PRESETS[optimizer](params, lr=lr, **kwargs)``) or a callable ``(params, lr) ->
    Optimizer`` (for planted test methods; recorded by its ``repr``). ``family`` picks
    the learning-rate grid of the budget: ``"adam"`` or ``"lion"`` (sign-based updates
    have unit-size coordinates and need a ~10x smaller step).
    """

    optimizer: str | Callable
    kwargs: dict = field(default_factory=dict)
    family: str = "adam"

    def build(self, params, lr: float):
        if callable(self.optimizer):
            return self.optimizer(params, lr)
        return PRESETS[self.optimizer](params, lr=lr, **self.kwargs)

    def describe(self) -> dict:
        name = self.optimizer if isinstance(self.optimizer, str) else repr(self.optimizer)
        return {"optimizer": name, "kwargs": _jsonable(self.kwargs), "family": self.family}


# The rows of Table 1 of the AMS/Grams paper that this project implements (lambda = 1 is Adam,
# lambda = 0 is cautious Adam, lambda = -1 is Grams; beta3 = 0 throughout), and the AdamW/Lion
# pairs of Table 1 of the Cautious paper. Weight decay is 0 everywhere: both papers' small-model
# settings use 0 (AMS/Grams paper Tables 3-4; Cautious paper Table 3 up to 350M), and with it
# AdamW is Adam and the C-AdamW / Adam difference is the mask alone.
DEFAULT_METHODS: dict[str, Method] = {
    "Adam": Method("Adam"),
    "C-AdamW": Method("CAdamW", {"weight_decay": 0.0}),
    "Grams": Method("Grams"),
    "AMS lam=+0.5": Method("AMS", {"betas": (0.9, 0.999, 0.0), "lam": 0.5}),
    "AMS lam=-0.5": Method("AMS", {"betas": (0.9, 0.999, 0.0), "lam": -0.5}),
    "Lion": Method("Lion", family="lion"),
    "C-Lion": Method("CLion", family="lion"),
}
REFERENCE = "Adam"

# lr grids are half-decades; the Lion family's is 10x smaller (the AMS/Grams paper's Tables 3-4
# and the Cautious paper's Table 3 use the same 10x ratio).
_ADAM_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
BUDGETS: dict[str, dict] = {
    "quick": dict(epochs=6, grid_index=(3, 4), n_tune=1, n_eval=2),
    "standard": dict(epochs=25, grid_index=(2, 3, 4, 5), n_tune=2, n_eval=5),
    "thorough": dict(epochs=50, grid_index=(1, 2, 3, 4, 5, 6), n_tune=3, n_eval=10),
}
BATCH_SIZE = 64
HIDDEN = 64
TEST_FRACTION = 0.2
VAL_FRACTION = 0.2


def _grids(budget: dict) -> dict[str, list[float]]:
    adam = [_ADAM_GRID[i] for i in budget["grid_index"]]
    return {"adam": adam, "lion": [float(f"{lr / 10:.0e}") for lr in adam]}


# --------------------------------------------------------------------------- data

def load_digits_splits(split_seed: int = 0) -> dict:
    """Stratified fit / validation / test splits of scikit-learn's digits, standardised
    with the fit split's statistics (pixels constant there keep scale 1), as float32 tensors."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ImportError(f"the digits comparison needs scikit-learn: {_EXTRA_HINT}") from None
    digits = load_digits()
    x, y = digits.data.astype(np.float64), digits.target.astype(np.int64)
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=TEST_FRACTION, stratify=y, random_state=split_seed)
    fit, val = train_test_split(rest, test_size=VAL_FRACTION, stratify=y[rest], random_state=split_seed)
    mean, std = x[fit].mean(0), x[fit].std(0)
    std[std == 0] = 1.0
    xs = (x - mean) / std

    def part(i):
        return torch.tensor(xs[i], dtype=torch.float32), torch.tensor(y[i])

    return {"fit": part(fit), "val": part(val), "test": part(test),
            "n_features": x.shape[1], "n_classes": int(y.max()) + 1}


# --------------------------------------------------------------------------- model and training

def _init_params(n_in: int, n_out: int, seed: int) -> list[torch.Tensor]:
    """Weights and biases of ``n_in -> HIDDEN -> n_out``, drawn as ``nn.Linear`` does
    (uniform in +-1/sqrt(fan_in)) from a generator seeded with the run seed."""
    gen = torch.Generator().manual_seed(seed)
    params = []
    for fan_in, fan_out in ((n_in, HIDDEN), (HIDDEN, n_out)):
        bound = 1.0 / math.sqrt(fan_in)
        w = (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * bound
        b = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound
        params += [w.requires_grad_(), b.requires_grad_()]
    return params


def _forward(params, x):
    w1, b1, w2, b2 = params
    return F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)


@torch.no_grad()
def _evaluate(params, data) -> tuple[float, float]:
    x, y = data
    logits = _forward(params, x)
    return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def _train_run(method: Method, lr: float, seed: int, data: dict, epochs: int) -> dict:
    """Train one model; return the final fit-split loss, validation and test loss/accuracy,
    and per-epoch curves (mean minibatch loss, validation loss)."""
    params = _init_params(data["n_features"], data["n_classes"], seed)
    opt = method.build(params, lr)
    xf, yf = data["fit"]
    n = len(yf)
    gen = torch.Generator().manual_seed(seed + 1)   # batch order: same for every method at this seed
    train_curve, val_curve = [], []
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        xp, yp = xf[perm], yf[perm]
        total = torch.zeros(())
        for a in range(0, n, BATCH_SIZE):
            loss = F.cross_entropy(_forward(params, xp[a:a + BATCH_SIZE]), yp[a:a + BATCH_SIZE])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(yp[a:a + BATCH_SIZE])
        train_curve.append(float(total) / n)
        val_curve.append(_evaluate(params, data["val"])[0])
    train_loss, train_acc = _evaluate(params, data["fit"])
    val_loss, val_acc = _evaluate(params, data["val"])
    test_loss, test_acc = _evaluate(params, data["test"])
    return {"seed": seed, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
            "val_acc": val_acc, "test_loss": test_loss, "test_acc": test_acc,
            "curve": {"train_loss": train_curve, "val_loss": val_curve}}


# --------------------------------------------------------------------------- statistics

def _stats(values: Sequence[float]) -> dict:
    """Mean, sample std (n - 1; 0 for one value), min, max and n; non-finite values make every entry NaN."""
    a = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan, "n": len(a)}
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            "min": float(a.min()), "max": float(a.max()), "n": len(a)}


def _paired(a: Sequence[float], b: Sequence[float]) -> dict:
    """Seed-paired differences a - b: mean, std, standard error and the count of positive ones."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    s = _stats(d)
    s["se"] = s["std"] / math.sqrt(len(d)) if len(d) > 1 else math.nan
    s["positive"] = int((d > 0).sum())
    return s


def _finite_or_inf(x: float) -> float:
    return x if math.isfinite(x) else math.inf


# --------------------------------------------------------------------------- the comparison

SELECTIONS = {"val_loss": lambda t: t["val_loss_mean"], "val_acc": lambda t: -t["val_acc_mean"]}
_SELECT_TEXT = {"val_loss": "lowest mean final validation loss over tune_seeds (non-finite = +inf), ties to smaller lr",
                "val_acc": "highest mean final validation accuracy over tune_seeds, ties to smaller lr"}


def compare_on_digits(budget: str = "standard", seed: int = 0, methods: dict[str, Method] | None = None,
                      reference: str = REFERENCE, num_threads: int | None = 1, select: str = "val_loss") -> dict:
    """Tune each method's learning rate on the validation split, then train it on the
    evaluation seeds and report test loss/accuracy (see the module docstring).

    ``seed`` fixes the data split and, through it, the tuning and evaluation run seeds
    (disjoint sets). ``methods`` defaults to :data:`DEFAULT_METHODS`; ``reference`` is the
    method the paired differences are taken against. ``select`` is the tuning criterion:
    ``"val_loss"`` (lowest mean final validation loss, the default) or ``"val_acc"``
    (highest mean final validation accuracy; ties go to the smaller lr). ``num_threads`` sets torch's
    intra-op threads for the run and restores them afterwards (``None`` leaves them):
    the default 1 because the tensors are tiny, so extra threads only add
    synchronisation, and on a 2-core machine busy with other work two threads made a
    step 10-100x slower.
    Returns a dict that is strict JSON (non-finite numbers of a diverged run are None);
    everything but ``timing`` is bit-identical for equal
    arguments on the same machine and torch build.
    """
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r} (expected one of {', '.join(BUDGETS)})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    methods = dict(DEFAULT_METHODS if methods is None else methods)
    if select not in SELECTIONS:
        raise ValueError(f"unknown select {select!r} (expected one of {', '.join(SELECTIONS)})")
    if reference not in methods:
        raise ValueError(f"reference method {reference!r} is not among the methods {list(methods)}")
    spec = BUDGETS[budget]
    grids = _grids(spec)
    for name, m in methods.items():
        if m.family not in grids:
            raise ValueError(f"method {name!r}: unknown family {m.family!r} (expected 'adam' or 'lion')")
    run_seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(spec["n_tune"] + spec["n_eval"])
                 % 2 ** 31]
    tune_seeds, eval_seeds = run_seeds[:spec["n_tune"]], run_seeds[spec["n_tune"]:]

    old_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        data = load_digits_splits(seed)
        t_data = time.perf_counter() - t0
        out_methods, t_tune, t_eval, n_runs = {}, 0.0, 0.0, 0
        for name, m in methods.items():
            grid = grids[m.family]
            t1 = time.perf_counter()
            tuning = []
            for lr in grid:
                runs = [_train_run(m, lr, s, data, spec["epochs"]) for s in tune_seeds]
                vals = [r["val_loss"] for r in runs]
                tuning.append({"lr": lr, "val_loss_mean": float(np.mean([_finite_or_inf(v) for v in vals])),
                               "val_loss": vals, "val_acc_mean": float(np.mean([r["val_acc"] for r in runs]))})
            n_runs += len(grid) * len(tune_seeds)
            best = min(range(len(grid)), key=lambda i: (SELECTIONS[select](tuning[i]), i))
            lr = grid[best]
            t2 = time.perf_counter()
            runs = [_train_run(m, lr, s, data, spec["epochs"]) for s in eval_seeds]
            n_runs += len(eval_seeds)
            t3 = time.perf_counter()
            t_tune, t_eval = t_tune + (t2 - t1), t_eval + (t3 - t2)
            out_methods[name] = {
                **m.describe(), "lr_grid": grid, "tuning": tuning, "chosen_lr": lr,
                "chosen_at_grid_edge": best in (0, len(grid) - 1) and len(grid) > 1,
                "runs": runs,
                "summary": {k: _stats([r[k] for r in runs]) for k in ("train_loss", "val_loss", "test_loss",
                                                                      "test_acc")},
            }
        ref_runs = out_methods[reference]["runs"]
        for name, res in out_methods.items():
            res["paired_vs_reference"] = {
                k: _paired([r[k] for r in res["runs"]], [r[k] for r in ref_runs]) for k in ("test_acc", "test_loss")}
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(old_threads)

    steps_per_epoch = math.ceil(len(data["fit"][1]) / BATCH_SIZE)
    result = {
        "what": ("MLP on scikit-learn digits: per-method lr tuned on a validation split, test metrics over "
                 "evaluation seeds. Small-scale evidence about Table 1/2 of the AMS/Grams paper and Table 1 of "
                 "the Cautious paper, not a verdict on them."),
        "budget": budget, "seed": seed, "reference": reference,
        "config": {
            "data": {"name": "sklearn.datasets.load_digits", "n_features": data["n_features"],
                     "n_classes": data["n_classes"], "split_seed": seed, "test_fraction": TEST_FRACTION,
                     "val_fraction_of_rest": VAL_FRACTION, "stratified": True,
                     "n_fit": len(data["fit"][1]), "n_val": len(data["val"][1]), "n_test": len(data["test"][1]),
                     "standardise": "per feature, fit-split mean and std (std 0 -> 1)"},
            "model": {"layers": [data["n_features"], HIDDEN, data["n_classes"]], "activation": "relu",
                      "dtype": "float32", "init": "nn.Linear default: U(+-1/sqrt(fan_in)), per-run generator"},
            "training": {"epochs": spec["epochs"], "batch_size": BATCH_SIZE, "steps_per_epoch": steps_per_epoch,
                         "order": "torch.randperm per epoch, generator seeded with run seed + 1",
                         "loss": "cross-entropy", "lr_schedule": "constant", "lr_grids": grids,
                         "tune_seeds": tune_seeds, "eval_seeds": eval_seeds,
                         "select": select, "selection": _SELECT_TEXT[select]},
        },
        "methods": out_methods,
        "paper_comparison": _paper_comparison(out_methods),
        "environment": _environment(threads),
        "timing": {"wall_s": wall, "cpu_s": cpu, "data_s": t_data, "tune_s": t_tune, "eval_s": t_eval, "n_runs": n_runs,
                   "n_steps": n_runs * spec["epochs"] * steps_per_epoch},
    }
    return _clean(result)


def _environment(threads: int) -> dict:
    env = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
           "torch_threads": threads, "platform": platform.platform()}
    try:
        import sklearn
        env["scikit-learn"] = sklearn.__version__
    except ImportError:   # pragma: no cover - load_digits_splits already needed it
        pass
    return env


# --------------------------------------------------------------------------- the papers' directions

# (source, statement, better, worse): directions the tables report, restated for this problem.
# Test accuracy stands in for the accuracy columns, test loss (log perplexity) for perplexity.
_DIRECTIONS = [
    ("AMS/Grams paper: Table 1 (Llama perplexity, WRN accuracy), Table 2 (GSM-8K; tied on MATH)",
     "Grams beats Adam", "Grams", "Adam"),
    ("AMS/Grams paper: Table 1 (lambda = 0 row, Llama and WRN); Cautious paper: Table 1 (AdamW vs C-AdamW, "
     "all sizes; weight decay 0 makes AdamW Adam)", "cautious Adam beats Adam", "C-AdamW", "Adam"),
    ("AMS/Grams paper: Table 1 (Llama, WRN), Table 2 (GSM-8K and MATH)", "Grams beats cautious Adam",
     "Grams", "C-AdamW"),
    ("AMS/Grams paper: Table 1 (Llama, WRN)", "Grams beats Lion", "Grams", "Lion"),
    ("Cautious paper: Table 1 (all sizes); AMS/Grams paper: Table 1 WRN column (its Llama column has C-Lion "
     "worse)", "C-Lion beats Lion", "C-Lion", "Lion"),
]

_LAMBDA_ROWS = [(1.0, "Adam"), (0.5, "AMS lam=+0.5"), (0.0, "C-AdamW"), (-0.5, "AMS lam=-0.5"), (-1.0, "Grams")]


def _paper_comparison(res: dict) -> list[dict]:
    """For each direction a table reports, whether the seed-paired mean difference here points the
    same way and whether it exceeds two standard errors (never claimed from fewer than 3 seeds).
    Only pairs whose methods both ran appear."""
    out = []
    for source, statement, better, worse in _DIRECTIONS:
        if better not in res or worse not in res:
            continue
        row = {"source": source, "statement": statement, "better": better, "worse": worse}
        for metric, sign in (("test_acc", 1.0), ("test_loss", -1.0)):
            d = _paired([r[metric] for r in res[better]["runs"]], [r[metric] for r in res[worse]["runs"]])
            row[metric] = {"mean_diff": d["mean"], "std": d["std"], "se": d["se"], "n": d["n"],
                           "agrees": bool(sign * d["mean"] > 0),
                           "beyond_2se": bool(d["n"] >= 3 and abs(d["mean"]) > 2 * d["se"])}
        out.append(row)
    rows = [(lam, name) for lam, name in _LAMBDA_ROWS if name in res]
    if len(rows) >= 3:
        acc = [res[name]["summary"]["test_acc"]["mean"] for _, name in rows]
        loss = [res[name]["summary"]["test_loss"]["mean"] for _, name in rows]
        out.append({
            "source": "AMS/Grams paper, Table 1 (WRN accuracy)",
            "statement": ("accuracy rises as lambda goes from 1 (Adam) through 0 (cautious Adam) to -1 (Grams); "
                          "here also read on test loss (falling)"),
            "lambdas": [lam for lam, _ in rows], "methods": [name for _, name in rows],
            "test_acc_means": acc, "test_loss_means": loss,
            "acc_monotone": bool(all(b > a for a, b in zip(acc, acc[1:]))),
            "acc_spearman_vs_minus_lambda": _spearman([-lam for lam, _ in rows], acc),
            "loss_monotone": bool(all(b < a for a, b in zip(loss, loss[1:]))),
            "loss_spearman_vs_minus_lambda": _spearman([-lam for lam, _ in rows], loss),
        })
    return out


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    rx, ry = (np.argsort(np.argsort(v)).astype(float) for v in (x, y))
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _clean(obj: Any) -> Any:
    """The result as strict JSON allows it: NaN and +-inf (a diverged run) become None."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _num(x: Any) -> float:
    """A result number back as a float (None, i.e. non-finite, reads as NaN)."""
    return math.nan if x is None else float(x)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    return repr(obj)


# --------------------------------------------------------------------------- reading the result

def summary_lines(result: dict) -> list[str]:
    """A short fixed-width table: method, chosen lr, test accuracy and test loss (mean +- std over
    the evaluation seeds), and the paired accuracy difference against the reference."""
    n = len(result["config"]["training"]["eval_seeds"])
    ref = result["reference"]
    head = (f"{'method':<14} {'lr':>7} {'test acc (mean +- std)':>23} {'test loss (mean +- std)':>24} "
            f"{'acc - ' + ref:>14}")
    lines = [f"digits MLP, budget {result['budget']}, seed {result['seed']}, "
             f"{result['config']['training']['epochs']} epochs, {n} evaluation seeds", head, "-" * len(head)]
    for name, res in result["methods"].items():
        acc = {k: _num(v) for k, v in res["summary"]["test_acc"].items()}
        loss = {k: _num(v) for k, v in res["summary"]["test_loss"].items()}
        d = {"mean": _num(res["paired_vs_reference"]["test_acc"]["mean"])}
        edge = "*" if res["chosen_at_grid_edge"] else " "
        diff = "" if name == ref else f"{100 * d['mean']:+.2f} pp"
        lines.append(f"{name:<14} {res['chosen_lr']:>6.0e}{edge} {100 * acc['mean']:>13.2f} +- "
                     f"{100 * acc['std']:<5.2f} {loss['mean']:>14.4f} +- {loss['std']:<6.4f} {diff:>14}")
    if any(res["chosen_at_grid_edge"] for res in result["methods"].values()):
        lines.append("* chosen lr at the edge of its grid")
    return lines


def paper_lines(result: dict) -> list[str]:
    """One line per direction of the papers' tables: the seed-paired mean difference here (accuracy in
    percentage points, test loss), its standard error, and whether it points the papers' way ("agrees")
    and exceeds two standard errors ("clear"). Evidence at this scale, not a verdict."""
    lines = ["the papers' directions, seed-paired on this problem (agrees / clear = beyond 2 SE):"]
    for c in result["paper_comparison"]:
        if "test_acc" in c:
            a, l = ({k: _num(v) if k in ("mean_diff", "se") else v for k, v in c[m].items()}
                    for m in ("test_acc", "test_loss"))

            def tag(x):
                return ("agrees" if x["agrees"] else "opposite") + (", clear" if x["beyond_2se"] else "")
            lines.append(f"  {c['statement']:<26} acc {100 * a['mean_diff']:+.2f} pp (se {100 * a['se']:.2f}; "
                         f"{tag(a)})   loss {l['mean_diff']:+.4f} (se {l['se']:.4f}; {tag(l)})")
        else:
            acc = ", ".join(f"{100 * _num(v):.2f}" for v in c["test_acc_means"])
            loss = ", ".join(f"{_num(v):.4f}" for v in c["test_loss_means"])
            lines.append(f"  lambda {c['lambdas']}: acc {acc} (monotone: {c['acc_monotone']}); "
                         f"loss {loss} (monotone: {c['loss_monotone']})")
    return lines


def plot_comparison(result: dict, path: str) -> str:
    """One PNG: test accuracy per method (mean, +- std bar, min/max markers, each seed as a dot),
    test loss likewise, and mean validation-loss curves per epoch at the chosen lr."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"plot_comparison needs matplotlib: {_EXTRA_HINT}") from None
    names = list(result["methods"])
    fig = Figure(figsize=(15, 4.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    xs = np.arange(len(names))
    for ax, metric, scale, label in ((axes[0], "test_acc", 100.0, "test accuracy (%)"),
                                     (axes[1], "test_loss", 1.0, "test loss (cross-entropy)")):
        for i, name in enumerate(names):
            res = result["methods"][name]
            s = {k: _num(v) for k, v in res["summary"][metric].items()}
            vals = [scale * _num(r[metric]) for r in res["runs"]]
            ax.errorbar([i], [scale * s["mean"]], yerr=[scale * s["std"]], fmt="o", color=f"C{i}", capsize=4)
            ax.plot([i, i], [scale * s["min"], scale * s["max"]], "_", color=f"C{i}", ms=12)
            ax.plot(np.full(len(vals), i + 0.15), vals, ".", color=f"C{i}", alpha=0.4, ms=4)
        ax.set_xticks(xs)
        ax.set_xticklabels([n.replace(" ", "\n") + f"\nlr {result['methods'][n]['chosen_lr']:.0e}" for n in names],
                           fontsize=7)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title("mean +- std (bar), min/max (ticks), seeds (dots)", fontsize=9)
    ax = axes[2]
    for i, name in enumerate(names):
        runs = result["methods"][name]["runs"]
        curves = np.array([[_num(v) for v in r["curve"]["val_loss"]] for r in runs])
        tr = np.array([[_num(v) for v in r["curve"]["train_loss"]] for r in runs])
        ep = np.arange(1, curves.shape[1] + 1)
        ax.plot(ep, curves.mean(0), color=f"C{i}", label=name)
        ax.plot(ep, tr.mean(0), color=f"C{i}", ls=":", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (solid: validation, dotted: train minibatches)")
    ax.legend(fontsize=7)
    tr = result["config"]["training"]
    fig.suptitle(f"digits MLP {result['config']['model']['layers']}, {tr['epochs']} epochs, batch "
                 f"{tr['batch_size']}, {len(tr['eval_seeds'])} evaluation seeds (budget {result['budget']}, "
                 f"seed {result['seed']}): small-scale evidence, not a verdict on the papers' tables", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
