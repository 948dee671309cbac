"""The runs behind docs/findings.md still load, and still say what the findings say.

If the export format changes, or a study is re-measured without updating the text, this
fails instead of the docs silently drifting from the data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenbench.plots.scaling import fit_power_law
from greenbench.results_format import read_document_file
from greenbench.store import Store

RUNS = Path(__file__).parent.parent / "docs" / "runs"


def medians(label: str, metric: str, by: str, **where: object) -> dict[object, float]:
    run = read_document_file(RUNS / f"{label}.json")
    return {c.params[by]: c.summary[metric]["median"] for c in run.cases
            if all(c.params.get(k) == v for k, v in where.items())}


def test_every_committed_run_imports_into_a_fresh_store(tmp_path: Path) -> None:
    files = sorted(RUNS.glob("*.json"))
    assert len(files) == 7
    with Store(tmp_path / "s.sqlite") as store:
        for f in files:
            store.import_run(json.loads(f.read_text()))
        assert store.count_runs() == 7


@pytest.mark.parametrize(("mechanism", "exponent"),
                         [("softmax", 2.03), ("sdpa", 1.82), ("linformer", 0.99),
                          ("performer", 0.94)])
def test_attention_exponents_in_the_findings(mechanism: str, exponent: float) -> None:
    energy = medians("attention-scaling", "energy_j", "seq_len", mechanism=mechanism)
    fit = fit_power_law(list(energy), list(energy.values()))
    assert fit is not None
    assert fit.exponent == pytest.approx(exponent, abs=0.005)


def test_sparse_crossover_and_language_parity_in_the_findings() -> None:
    dense = medians("sparse-crossover", "energy_j", "density", execution="dense")
    sparse = medians("sparse-crossover", "energy_j", "density", execution="sparse")
    assert sparse[0.1] < dense[0.1] and sparse[0.2] > dense[0.2]  # crossover near 0.19
    for tokenizer, parity in (("byte", 2.81), ("char", 1.65)):
        e = medians("multilingual", "energy_per_unit_j", "language", tokenizer=tokenizer)
        assert max(e.values()) / min(e.values()) == pytest.approx(parity, abs=0.005)


def test_efficiency_figures_in_the_findings() -> None:
    run = read_document_file(RUNS / "efficiency.json")
    epu = {(c.params["mode"], c.params["precision"], c.params["sparsity"], c.params["compile"]):
           c.summary["energy_per_unit_j"]["median"] for c in run.cases if c.status == "ok"}
    assert epu[("infer", "fp32", "none", False)] / epu[("infer", "bf16", "none", False)] == \
        pytest.approx(2.25, abs=0.05)
    assert epu[("infer", "int8", "none", True)] < epu[("infer", "fp32", "none", True)]
    skipped = [c for c in run.cases if c.status == "skipped"]
    assert len(skipped) == 18 and all(c.error for c in skipped)
