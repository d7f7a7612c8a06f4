"""The benchmark scripts stay runnable: each is imported, and the descent benchmark runs at a tiny size (its
goals are measured in docs/benchmarks.md, not asserted here; only that every refuted claim it lists is found and
certified)."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module            # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["bench_step", "bench_conform", "bench_descent"])
def test_benchmark_imports(name):
    assert callable(_load(name).main)


def test_descent_benchmark_certifies_every_listed_refutation(tmp_path, capsys):
    bench = _load("bench_descent")
    out = tmp_path / "descent.json"
    bench.main(["--batch", "500", "--reps", "1", "--search-batch", "2000", "--json", str(out)])
    capsys.readouterr()
    refs = json.loads(out.read_text())["refutations"]
    assert set(refs) == set(bench.REFUTED)
    assert all(r["seconds"] is not None and r["exact_margin"] > 0 for r in refs.values()), refs


def test_step_benchmark_paths_keep_the_baseline():
    """``--paths`` times only the named paths of our presets and torch's AdamW; the baseline always runs."""
    bench = _load("bench_step")
    names = lambda paths: [c.name for c in bench.contenders("cpu", ["AdamW", "CAdamW"], paths)]  # noqa: E731
    assert names(("fused",)) == ["torch.AdamW(fused)", "AdamW(fused)", "CAdamW(fused)"]
    assert "torch.AdamW(fused)" in names(("default",)) and not any(n.endswith("fused)") for n in
                                                                    names(("default",))[1:])
    assert len(names(bench.PATHS)) == 3 + 2 * 3
