"""Case names: short, and still telling the cases of a run apart."""

from __future__ import annotations

from greenbench.records import CaseRecord, case_names


def case(workload: str, **params: object) -> CaseRecord:
    return CaseRecord(workload, dict(params), "ok")


def test_names_show_only_what_varies_within_each_workload() -> None:
    cases = [
        case("attention", mechanism="softmax", seq_len=256, d_model=256),
        case("attention", mechanism="sdpa", seq_len=256, d_model=256),
        case("sparse-matmul", density=0.1, execution="sparse"),
        case("transformer", size="tiny", k=None),
    ]
    assert case_names(cases) == [
        "attention[mechanism=softmax]", "attention[mechanism=sdpa]", "sparse-matmul",
        "transformer"]


def test_a_parameter_missing_from_some_cases_is_not_shown_as_none() -> None:
    cases = [case("w", a=1), case("w", a=2, b=3)]
    assert case_names(cases) == ["w[a=1]", "w[a=2, b=3]"]
