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
    return {c.params[by]: c.summary[metric].median for c in run.cases
            if all(c.params.get(k) == v for k, v in where.items())}


def test_every_committed_run_imports_into_a_fresh_store(tmp_path: Path) -> None:
    files = sorted(RUNS.glob("*.json"))
    assert len(files) == 7
    with Store(tmp_path / "s.sqlite") as store:
        for f in files:
            store.import_run(json.loads(f.read_text()))
        assert store.count_runs() == 7


@pytest.mark.parametrize(("mechanism", "exponent"),
                         [("softmax", 1.87), ("sdpa", 1.64), ("linformer", 0.95),
                          ("performer", 0.86)])
def test_attention_exponents_in_the_findings(mechanism: str, exponent: float) -> None:
    energy = medians("attention-scaling", "energy_j", "seq_len", mechanism=mechanism)
    fit = fit_power_law(list(energy), list(energy.values()))
    assert fit is not None
    assert fit.exponent == pytest.approx(exponent, abs=0.005)


@pytest.mark.parametrize(("mechanism", "at_256", "at_4096"),
                         [("linformer", 0.19, 0.29), ("performer", 0.73, 0.44)])
def test_attention_errors_in_the_findings(mechanism: str, at_256: float, at_4096: float) -> None:
    """The findings quote the attention's own error (without the output bias)."""
    error = medians("attention-scaling", "quality:attn_rel_error", "seq_len", mechanism=mechanism)
    assert error[256] == pytest.approx(at_256, abs=0.005)
    assert error[4096] == pytest.approx(at_4096, abs=0.005)


def test_sparse_crossover_and_language_parity_in_the_findings() -> None:
    dense = medians("sparse-crossover", "energy_j", "density", execution="dense")
    sparse = medians("sparse-crossover", "energy_j", "density", execution="sparse")
    assert sparse[0.1] < dense[0.1] and sparse[0.2] > dense[0.2]  # crossover near 0.19
    for density, ratio in ((0.1, 0.53), (0.2, 1.08), (0.5, 4.58)):
        assert sparse[density] / dense[density] == pytest.approx(ratio, abs=0.005)
    for tokenizer, parity in (("byte", 2.81), ("char", 1.65)):
        e = medians("multilingual", "energy_per_unit_j", "language", tokenizer=tokenizer)
        assert max(e.values()) / min(e.values()) == pytest.approx(parity, abs=0.005)


def test_efficiency_figures_in_the_findings() -> None:
    run = read_document_file(RUNS / "efficiency.json")
    epu = {(c.params["mode"], c.params["precision"], c.params["sparsity"], c.params["compile"]):
           c.summary["energy_per_unit_j"].median for c in run.cases if c.status == "ok"}
    fp32, bf16 = epu[("infer", "fp32", "none", False)], epu[("infer", "bf16", "none", False)]
    assert fp32 / bf16 == pytest.approx(1.81, abs=0.005)
    assert epu[("infer", "int8", "none", False)] / fp32 == pytest.approx(1.10, abs=0.005)
    assert epu[("infer", "int8", "none", True)] / fp32 == pytest.approx(0.70, abs=0.005)
    skipped = [c for c in run.cases if c.status == "skipped"]
    assert len(skipped) == 18 and all(c.error for c in skipped)
