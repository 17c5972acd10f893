"""Executes every notebook in tutorials/ (short runs: KERAS_GENAI_TUTORIAL_QUICK=1)."""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

TUTORIALS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "tutorials", "*.ipynb")))


@pytest.mark.parametrize("path", TUTORIALS, ids=os.path.basename)
def test_tutorial_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GENAI_TUTORIAL_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert outputs  # the cells printed and plotted something


def test_there_is_a_tutorial():
    assert TUTORIALS
