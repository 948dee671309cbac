"""The application workloads register, import without torch, and check their suite's cases."""

from __future__ import annotations

import subprocess
import sys

import pytest

from greenbench.errors import UserError
from greenbench.workload import discover, expand_grid

APPS = ("generate", "long-document", "multimodal", "diffusion", "finetune", "multilingual",
        "train-to-target")
VARIANTS = {"generate": {"kv_cache"}, "long-document": {"mechanism"}, "multimodal": {"mode"},
            "diffusion": set(), "finetune": {"method"}, "multilingual": {"language", "tokenizer"},
            "train-to-target": {"precision", "sparsity"}}
MODULES = ("generate", "long_document", "multimodal", "diffusion", "finetune", "multilingual",
           "train_to_target")


def test_every_application_workload_is_registered_and_in_the_suite() -> None:
    registry = discover()
    assert set(APPS) <= set(registry.workloads)
    suite = registry.suite("applications")
    assert {name for name, _ in suite.cases} == set(APPS)
    for name in APPS:
        wl = registry.get(name)
        assert wl.description and wl.unit != "steps", name
        assert {p.name for p in wl.params if p.variant} == VARIANTS[name]


def test_every_suite_case_passes_check_before_any_work() -> None:
    registry = discover()
    cases = [(name, params) for name, grid in registry.suite("applications").cases
             for params in expand_grid(registry.get(name), grid)]
    assert 12 <= len(cases) <= 24  # small enough for a few minutes on two cores
    for name, params in cases:
        wl = registry.get(name)
        wl.check(params, "cpu")
        assert wl.skip_reason(params, "cpu") is None, (name, params)


def test_modules_import_and_check_without_torch() -> None:
    # torch blocked: listing workloads and checking parameters must not need it
    code = (
        "import sys; sys.modules['torch'] = None\n"
        f"import importlib\nfor m in {MODULES!r}:\n"
        "    mod = importlib.import_module('greenbench_workloads.' + m)\n"
        "    for wl in mod.WORKLOADS:\n"
        "        wl.check(wl.defaults(), 'cpu')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("generate", {"output_len": 0}, "output_len must be at least 1"),
        ("finetune", {"k": 5000}, "larger than the data"),
        ("multilingual", {"language": "xx"}, "unknown language code"),
    ],
)
def test_bad_input_is_one_clear_line(name: str, change: dict, expected: str) -> None:
    wl = discover().get(name)
    with pytest.raises(UserError, match=expected) as err:
        wl.check({**wl.defaults(), **change}, "cpu")
    assert "\n" not in str(err.value) and str(err.value).startswith(name)
