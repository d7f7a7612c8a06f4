"""Every notebook in ``notebooks/`` runs top to bottom, and is stored without outputs.

The notebooks are found by a glob at collection time, so a notebook added later is executed too. Each runs
in a fresh ``python3`` kernel with the notebooks folder as working directory and matplotlib's ``Agg``
backend (``MPLBACKEND=Agg``), with a time limit per cell.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 300          # seconds per cell


def test_there_are_notebooks():
    """An empty glob would parametrise the tests below away; it must fail instead."""
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


def _ids(paths):
    return [p.name for p in paths]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_stored_without_outputs(path):
    """Stored clean: no outputs and no execution counts, so diffs show only the source."""
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path):
    """Executes the notebook in a fresh kernel; a cell that raises fails the test with the cell's traceback."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    start = time.perf_counter()
    try:
        client.execute(cwd=str(NOTEBOOK_DIR), env={**os.environ, "MPLBACKEND": "Agg"})
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name} raised:\n{err}", pytrace=False)
    except nbclient.exceptions.CellTimeoutError as err:
        pytest.fail(f"{path.name}: a cell ran past {CELL_TIMEOUT} s:\n{err}", pytrace=False)
    print(f"{path.name}: executed in {time.perf_counter() - start:.1f} s")
    # a cell with controls (ex.show_with_controls) shows them and, headless too, the figure of their defaults
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "show_with_controls(" in cell.source:
            kinds = {key for out in cell.get("outputs", []) for key in out.get("data", {})}
            assert "application/vnd.jupyter.widget-view+json" in kinds, f"{path.name} cell {i}: no controls shown"
            assert "image/png" in kinds, f"{path.name} cell {i}: the default figure was not drawn"
