"""The workload plugin API: declaration, discovery, grids and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import greenbench
from greenbench.errors import UserError
from greenbench.workload import (
    Param,
    Suite,
    Workload,
    discover,
    expand_grid,
    load_file,
    parse_param_option,
    swept,
)

DATA = Path(__file__).parent / "data"


def test_a_plain_function_is_a_workload() -> None:
    @greenbench.workload(unit="items", units_per_step=lambda p: p["n"] * 2)
    def count_up(n: int = 10, fast: bool = False) -> None:
        """Count up to n."""

    assert count_up.name == "count-up"
    assert count_up.description == "Count up to n."
    assert [(p.name, p.type, p.default) for p in count_up.params] == [
        ("n", int, 10), ("fast", bool, False)]
    assert count_up.units_per_step({"n": 5, "fast": False}) == 10.0


def test_grid_is_the_product_of_values_with_defaults_elsewhere() -> None:
    wl = load_by_name("spin")
    cases = expand_grid(wl, {"n": ["10", "20"], "mode": ["sum", "sort"]})
    assert cases == [
        {"n": 10, "mode": "sum"}, {"n": 10, "mode": "sort"},
        {"n": 20, "mode": "sum"}, {"n": 20, "mode": "sort"},
    ]
    assert sorted(swept(cases)) == ["mode", "n"]
    assert expand_grid(wl) == [{"n": 2000, "mode": "sum"}]


def test_duplicate_values_make_one_case() -> None:
    assert len(expand_grid(load_by_name("spin"), {"n": ["10", "10"]})) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n", "use -p NAME=VALUE"),
        ("=3", "use -p NAME=VALUE"),
        ("n=", "has no values"),
        ("n=1,,2", "empty value"),
    ],
)
def test_malformed_param_options(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_param_option(text)


def test_unknown_parameter_suggests_close_names() -> None:
    with pytest.raises(UserError, match=r"no parameter 'nn'.*did you mean n"):
        expand_grid(load_by_name("spin"), {"nn": ["1"]})


def test_wrong_type_and_bounds_are_one_line_errors() -> None:
    wl = load_by_name("spin")
    with pytest.raises(UserError, match="'ten' is not an integer"):
        expand_grid(wl, {"n": ["ten"]})
    with pytest.raises(UserError, match="below the minimum"):
        expand_grid(load_by_name("slow"), {"sleep_s": ["-1"]})
    p = Param("precision", str, "fp32", choices=("fp32", "bf16"))
    with pytest.raises(UserError, match="not one of fp32, bf16"):
        p.parse("fp8")


def test_empty_grid_is_an_error() -> None:
    with pytest.raises(UserError, match="empty list of values"):
        expand_grid(load_by_name("spin"), {"n": []})


def test_unknown_workload_lists_close_names() -> None:
    registry = discover([DATA / "basic_workloads.py"], entry_points=False)
    with pytest.raises(UserError, match=r"unknown workload 'spinn' \(did you mean spin"):
        registry.get("spinn")


def test_file_discovery_finds_workloads_and_suites() -> None:
    items = load_file(DATA / "basic_workloads.py")
    names = {i.name for i in items}
    assert {"spin", "crash", "hang", "slow", "tiny"} <= names


def test_file_without_workloads_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "empty.py"
    f.write_text("x = 1\n")
    with pytest.raises(UserError, match="defines no workload"):
        load_file(f)
    with pytest.raises(UserError, match="does not exist"):
        load_file(tmp_path / "missing.py")
    bad = tmp_path / "bad.py"
    bad.write_text("import nonexistent_module_xyz\n")
    with pytest.raises(UserError, match="failed to import"):
        load_file(bad)


def test_suites_of_one_name_merge() -> None:
    registry = discover(entry_points=False)

    class A(Workload):
        name = "a"

    registry.add(A(), "test")
    registry.add(Suite("quick", "q", [("a", {})]), "m1")
    registry.add(Suite("quick", "q", [("b", {})]), "m2")
    assert [w for w, _ in registry.suite("quick").cases] == ["a", "b"]


def test_builtin_workloads_register_through_the_entry_point() -> None:
    registry = discover()
    assert "quick" in registry.suites
    for name, _ in registry.suite("quick").cases:
        assert name in registry.workloads
        assert registry.origins[name].startswith("entry point builtin")


def load_by_name(name: str) -> Workload:
    return discover([DATA / "basic_workloads.py"], entry_points=False).get(name)


def test_a_missing_requirement_fails_before_any_work() -> None:
    class NeedsMissing(Workload):
        name = "needs-missing"
        requires = ("torch", "no_such_module_xyz")

    with pytest.raises(UserError, match="needs no_such_module_xyz, which is not installed"):
        NeedsMissing().check_requirements()
    registry = discover(entry_points=True)
    # every built-in declares torch; the Hugging Face family transformers too, and its
    # image generation diffusers
    assert all(wl.requires[0] == "torch" for wl in registry.workloads.values())
    assert {wl.requires for wl in registry.workloads.values()} == {
        ("torch",), ("torch", "transformers"), ("torch", "diffusers", "transformers")}
