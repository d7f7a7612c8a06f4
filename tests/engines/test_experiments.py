"""The digits comparison (ams_theory.engines.experiments) at its quick budget: structure, finiteness,
reproducibility, that it separates a broken method from working ones, and the figure."""
import json
import math
import sys

import pytest
import torch

pytest.importorskip("sklearn", reason="the digits comparison needs scikit-learn (the experiments extra)")

import ams_theory  # noqa: E402
from ams_theory.engines import experiments as E  # noqa: E402

# one worker runs the module: the module's quick comparison (the fixture below) is computed once, not per worker
pytestmark = pytest.mark.xdist_group("experiments")


@pytest.fixture(scope="module")
def quick():
    return E.compare_on_digits("quick", seed=0)


def _strip(result):
    """Everything but the wall-clock timings, as JSON text (bit-level comparison of floats)."""
    return json.dumps({k: v for k, v in result.items() if k != "timing"}, sort_keys=True)


def test_structure_and_ranges(quick):
    json.dumps(quick)                                   # JSON-ready
    assert list(quick["methods"]) == list(E.DEFAULT_METHODS)
    tr = quick["config"]["training"]
    assert tr["epochs"] == E.BUDGETS["quick"]["epochs"] and tr["batch_size"] == E.BATCH_SIZE
    assert len(tr["eval_seeds"]) == E.BUDGETS["quick"]["n_eval"]
    assert not set(tr["tune_seeds"]) & set(tr["eval_seeds"])
    data = quick["config"]["data"]
    assert data["n_fit"] + data["n_val"] + data["n_test"] == 1797
    assert quick["environment"]["torch"] == torch.__version__
    assert quick["timing"]["wall_s"] > 0 and quick["timing"]["n_runs"] == 7 * (2 * 1 + 2)
    for name, res in quick["methods"].items():
        assert res["lr_grid"] == tr["lr_grids"][res["family"]]
        assert res["chosen_lr"] in res["lr_grid"]
        assert [t["lr"] for t in res["tuning"]] == res["lr_grid"]
        assert min(t["val_loss_mean"] for t in res["tuning"]) == next(
            t["val_loss_mean"] for t in res["tuning"] if t["lr"] == res["chosen_lr"])
        assert len(res["runs"]) == len(tr["eval_seeds"])
        for run in res["runs"]:
            for key in ("train_loss", "val_loss", "test_loss"):
                assert math.isfinite(run[key]) and run[key] >= 0
            for key in ("train_acc", "val_acc", "test_acc"):
                assert 0.0 <= run[key] <= 1.0
            assert len(run["curve"]["val_loss"]) == len(run["curve"]["train_loss"]) == tr["epochs"]
        for key in ("train_loss", "test_loss", "test_acc"):
            s = res["summary"][key]
            assert all(math.isfinite(s[k]) for k in ("mean", "std", "min", "max"))
            assert s["min"] <= s["mean"] <= s["max"] and s["std"] >= 0
        # even six epochs put every working method well above chance (10 %)
        assert res["summary"]["test_acc"]["mean"] > 0.6, name
    ref = quick["methods"]["Adam"]["paired_vs_reference"]["test_acc"]
    assert ref["mean"] == 0.0 and ref["positive"] == 0
    statements = [c["statement"] for c in quick["paper_comparison"]]
    assert "C-Lion beats Lion" in statements and any("lambda" in s for s in statements)


def test_lion_family_grid_is_tenfold_smaller(quick):
    grids = quick["config"]["training"]["lr_grids"]
    assert [round(a / b, 9) for a, b in zip(grids["adam"], grids["lion"])] == [10.0] * len(grids["adam"])
    assert quick["methods"]["C-Lion"]["lr_grid"] == grids["lion"]


def test_same_seed_bit_identical_other_seed_differs(quick):
    assert _strip(E.compare_on_digits("quick", seed=0)) == _strip(quick)
    methods = {k: E.DEFAULT_METHODS[k] for k in ("Adam", "Grams")}
    other = E.compare_on_digits("quick", seed=1, methods=methods)
    assert other["config"]["training"]["eval_seeds"] != quick["config"]["training"]["eval_seeds"]
    for name in methods:
        a = [r["test_loss"] for r in quick["methods"][name]["runs"]]
        b = [r["test_loss"] for r in other["methods"][name]["runs"]]
        assert a != b


def test_a_broken_method_is_told_apart():
    """Mutation check: a planted optimizer that never moves (lr forced to 0) and a plain Adam
    with its lr forced 1000x too small must both come out far behind the working methods."""
    methods = {"Adam": E.DEFAULT_METHODS["Adam"], "Lion": E.DEFAULT_METHODS["Lion"],
               "frozen": E.Method(lambda params, lr: ams_theory.Adam(params, lr=0.0)),
               "crippled": E.Method(lambda params, lr: ams_theory.Adam(params, lr=lr * 1e-3))}
    res = E.compare_on_digits("quick", seed=0, methods=methods)["methods"]
    good = min(res[k]["summary"]["test_acc"]["min"] for k in ("Adam", "Lion"))
    for bad in ("frozen", "crippled"):
        assert res[bad]["summary"]["test_acc"]["max"] < good - 0.3, bad
        assert res[bad]["summary"]["test_loss"]["min"] > 2 * max(res[k]["summary"]["test_loss"]["max"]
                                                                  for k in ("Adam", "Lion"))
        d = res[bad]["paired_vs_reference"]["test_acc"]
        assert d["mean"] < -0.3 and d["positive"] == 0
    # a model that never moves has the same loss for every learning rate: the tie goes to the first
    assert res["frozen"]["chosen_lr"] == res["frozen"]["lr_grid"][0]


def test_summary_lines(quick):
    lines = E.summary_lines(quick)
    assert "budget quick" in lines[0] and "test acc" in lines[1]
    body = lines[3:3 + len(E.DEFAULT_METHODS)]
    assert [ln.split()[0] for ln in body] == [n.split()[0] for n in E.DEFAULT_METHODS]
    assert all("+-" in ln for ln in body)


def test_plot_writes_png(quick, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "digits.png"
    assert E.plot_comparison(quick, str(path)) == str(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_bad_arguments():
    with pytest.raises(ValueError, match="budget"):
        E.compare_on_digits("huge")
    with pytest.raises(ValueError, match="seed"):
        E.compare_on_digits("quick", seed=-1)
    with pytest.raises(ValueError, match="reference"):
        E.compare_on_digits("quick", methods={"Lion": E.DEFAULT_METHODS["Lion"]})
    with pytest.raises(ValueError, match="family"):
        E.compare_on_digits("quick", methods={"Adam": E.Method("Adam", family="sgd")})


def test_missing_extras_give_one_clear_message(monkeypatch, quick, tmp_path):
    for mod in ("sklearn", "sklearn.datasets", "sklearn.model_selection"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[experiments\]"'):
        E.compare_on_digits("quick")
    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[experiments\]"'):
        E.plot_comparison(quick, str(tmp_path / "x.png"))


def test_paper_directions(quick):
    rows = {c["statement"]: c for c in quick["paper_comparison"] if "test_acc" in c}
    c = rows["C-Lion beats Lion"]
    mine = quick["methods"]["C-Lion"]["paired_vs_reference"]["test_loss"]["mean"] - \
        quick["methods"]["Lion"]["paired_vs_reference"]["test_loss"]["mean"]
    assert c["test_loss"]["mean_diff"] == pytest.approx(mine, abs=1e-6)
    assert c["test_loss"]["agrees"] == (mine < 0)
    # two evaluation seeds are too few to call anything beyond the noise
    assert not any(r[m]["beyond_2se"] for r in rows.values() for m in ("test_acc", "test_loss"))
    lam = next(c for c in quick["paper_comparison"] if "lambdas" in c)
    assert lam["lambdas"] == [1.0, 0.5, 0.0, -0.5, -1.0]
    assert lam["methods"][0] == "Adam" and lam["methods"][-1] == "Grams"
    lines = E.paper_lines(quick)
    assert len(lines) == 1 + len(quick["paper_comparison"]) and "lambda" in lines[-1]


def test_select_by_accuracy():
    methods = {"Adam": E.DEFAULT_METHODS["Adam"]}
    res = E.compare_on_digits("quick", seed=0, methods=methods, select="val_acc")
    tuning = res["methods"]["Adam"]["tuning"]
    best = max(t["val_acc_mean"] for t in tuning)
    assert res["methods"]["Adam"]["chosen_lr"] == next(t["lr"] for t in tuning if t["val_acc_mean"] == best)
    assert res["config"]["training"]["select"] == "val_acc"
    with pytest.raises(ValueError, match="select"):
        E.compare_on_digits("quick", methods=methods, select="test_acc")


def test_a_diverging_method_is_reported_not_fatal(tmp_path):
    """A planted optimizer that blows the weights up to inf/NaN: the result stays strict JSON (None for
    the non-finite numbers), the table and the figure are still produced, and the method is not chosen
    over a working one."""
    methods = {"Adam": E.DEFAULT_METHODS["Adam"],
               "exploding": E.Method(lambda params, lr: torch.optim.SGD(params, lr=1e30))}
    res = E.compare_on_digits("quick", seed=0, methods=methods)
    json.dumps(res, allow_nan=False)
    bad = res["methods"]["exploding"]
    assert bad["summary"]["test_loss"]["mean"] is None
    assert all(t["val_loss_mean"] is None for t in bad["tuning"])
    assert any("nan" in ln for ln in E.summary_lines(res) if ln.startswith("exploding"))
    E.paper_lines(res)
    E.plot_comparison(res, str(tmp_path / "x.png"))
