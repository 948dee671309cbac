"""One metric registry: every table that names metrics reads it."""

from __future__ import annotations

from greenbench import gate, metrics
from greenbench.plots.data import METRIC_ALIASES, quantity
from greenbench.pytest_energy.settings import BUDGETS
from greenbench.results_format import is_energy_metric, is_nonnegative_metric


def test_the_gate_plots_and_budgets_take_their_names_and_units_from_the_registry() -> None:
    for m in metrics.METRICS:
        assert METRIC_ALIASES[m.name] == m.key
        if m.lower_is_better:
            assert gate.METRICS[m.name] == (m.key, m.unit)
        else:
            assert m.name not in gate.METRICS  # gating assumes lower is better
    for key, _what, unit, _per in BUDGETS.values():
        assert metrics.BY_KEY[key].unit == unit


def test_labels_fill_in_the_cases_unit() -> None:
    assert quantity("energy_per_unit_j", "tokens") == ("Energy per token", "J")
    assert quantity("throughput_per_s", "tokens") == ("Throughput", "tokens/s")
    assert quantity("domain:gpu:0:energy_j") == ("gpu:0 energy per step", "J")


def test_energy_likeness_and_sign_are_declared_once() -> None:
    assert is_energy_metric("net_energy_per_unit_j") and not is_energy_metric("time_s")
    assert is_energy_metric("phase:decode:energy_j")
    assert is_energy_metric("metric:prefill_energy_j")  # undeclared: errs on the honest side
    assert not is_energy_metric("quality:accuracy")
    assert is_nonnegative_metric("energy_j") and not is_nonnegative_metric("net_energy_j")
    assert metrics.BY_KEY["time_s"].aggregate == "max"
    assert metrics.BY_KEY["energy_j"].aggregate == "sum"
