"""The workload plugin API: what a workload declares, how one is found, and parameter grids.

A workload is a parameter space plus ``setup(params, device) -> state``, ``step(state)`` (one
unit of work, measured many times) and optionally ``quality(state)`` and ``teardown(state)``.
Subclass :class:`Workload`, or decorate a plain function with :func:`workload`::

    @greenbench.workload(unit="items")
    def sort_numbers(n: int = 100_000):
        sorted(range(n, 0, -1))

Workloads are found through the ``greenbench.workloads`` entry-point group (the built-in
``workloads`` package registers itself there exactly as a third-party package would) and in
Python files named with ``--workload-file``. An entry point names a callable that returns
:class:`Workload` and :class:`Suite` objects; a file is scanned for module-level ones.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import itertools
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenbench.errors import UserError

ENTRY_POINT_GROUP = "greenbench.workloads"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One parameter: its type, default, allowed values, and whether it is a *variant*.

    Variants (precision, sparsity, attention mechanism, ...) are the choices whose energy a
    study compares; plots draw one line or bar per variant.
    """

    name: str
    type: type = str
    default: Any = None
    choices: tuple[Any, ...] | None = None
    variant: bool = False
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, text: str) -> Any:
        """Turn command-line text into a checked value; UserError names what is accepted."""
        try:
            if self.type is bool:
                low = text.strip().lower()
                if low not in _TRUE | _FALSE:
                    raise ValueError
                value: Any = low in _TRUE
            else:
                value = self.type(text.strip())
        except ValueError:
            raise UserError(
                f"parameter {self.name}: {text!r} is not {_type_word(self.type)}"
            ) from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"parameter {self.name}: {value} is not a finite number")
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise UserError(f"parameter {self.name}: {value!r} is not one of {allowed}")
        if self.minimum is not None and value < self.minimum:
            raise UserError(f"parameter {self.name}: {value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise UserError(f"parameter {self.name}: {value} is above the maximum {self.maximum}")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "choices": list(self.choices) if self.choices is not None else None,
            "variant": self.variant,
            "help": self.help,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }


class Workload:
    """Base class for workloads. Override what applies; defaults keep simple things simple."""

    name: str = ""
    description: str = ""
    params: tuple[Param, ...] = ()
    #: what one unit of work is called: samples, tokens, images, queries, documents, ...
    unit: str = "steps"
    #: the key of quality()'s figure that plots and reports show, and which way is better
    quality_metric: str | None = None
    quality_higher_is_better: bool = False
    #: modules the workload imports in its worker (``("torch",)``); a missing one fails the
    #: run before any work, with the install command, instead of failing every case
    requires: tuple[str, ...] = ()
    #: False for workloads whose step is a whole task (train to a target, adapt a model): each
    #: repeat is then exactly one step instead of a calibrated number of steps
    calibrate: bool = True
    #: True for a workload that runs on every rank of a torch.distributed job (``greenbench
    #: run --nproc-per-node N``): its ``setup`` runs after greenbench's
    #: ``init_process_group`` (the default group: ``torch.distributed.get_rank()`` and the
    #: collectives work there), on ``cuda:LOCAL_RANK`` or the CPU, and ``units_per_step`` is
    #: one rank's share of a step
    distributed: bool = False

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        """How many units one step does (batch size, tokens generated, ...)."""
        return 1.0

    def check(self, params: Mapping[str, Any], device: str) -> None:
        """Reject inconsistent parameters before any work starts (raise UserError)."""

    def check_requirements(self) -> None:
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            hint = " (pip install 'greenbench[torch]')" if "torch" in missing else ""
            raise UserError(f"workload {self.name} needs {', '.join(missing)}, which is not "
                            f"installed{hint}")

    def skip_reason(self, params: Mapping[str, Any], device: str) -> str | None:
        """Why this device cannot run these parameters (fp16 on a CPU), or None to run."""
        return None

    def setup(self, params: Mapping[str, Any], device: str) -> Any:
        """Build the state (model, data) on the device; not measured."""
        return dict(params)

    def step(self, state: Any) -> None:
        """One unit of work; measured, called many times."""
        raise NotImplementedError

    def quality(self, state: Any) -> dict[str, float] | None:
        """Quality figures (loss, accuracy, error against a reference), or None."""
        return None

    def quality_changes(self, params: Mapping[str, Any]) -> bool:
        """Whether quality() can differ from one repeat to the next (training moves the
        weights). When it cannot, the worker computes it once and records it with every
        repeat, instead of paying for a reference computation between each pair."""
        return True

    def metrics(self, state: Any) -> dict[str, float]:
        """Extra per-repeat figures a workload measures itself (latency percentiles, ...)."""
        return {}

    def notes(self, state: Any) -> list[str]:
        """What a reader of the case's figures must know about the state setup built
        (random weights instead of trained ones, say); stored with the case's flags."""
        return []

    def teardown(self, state: Any) -> None:
        """Release what setup built."""

    # -- helpers used by the runner and CLI -------------------------------------------------

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = [p.name for p in self.params]
        hint = _did_you_mean(name, known)
        listed = ", ".join(known) if known else "none"
        raise UserError(
            f"workload {self.name} has no parameter {name!r}{hint} (parameters: {listed})"
        )

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "unit": self.unit,
            "quality_metric": self.quality_metric,
            "params": [p.to_dict() for p in self.params],
            "source": type(self).__module__,
        }


@dataclass
class Suite:
    """A named set of cases: (workload name, {param: [values]}) pairs, each expanded to a grid."""

    name: str
    description: str
    cases: list[tuple[str, dict[str, list[Any]]]] = field(default_factory=list)


class FunctionWorkload(Workload):
    """A workload made from a plain function; its keyword defaults are the parameters."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        unit: str = "calls",
        units_per_step: float | Callable[[Mapping[str, Any]], float] = 1.0,
        variants: Sequence[str] = (),
        setup: Callable[..., Any] | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__.replace("_", "-")
        doc = (inspect.getdoc(fn) or "").strip().splitlines()
        self.description = description or (doc[0] if doc else self.name)
        self.unit = unit
        self._units_per_step = units_per_step
        self._setup = setup
        # with a setup, its keywords are the parameters and the step takes what it returns
        self.params = tuple(_params_from_signature(setup or fn, set(variants)))
        self.__module__ = getattr(fn, "__module__", __name__)

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        if callable(self._units_per_step):
            return float(self._units_per_step(params))
        return float(self._units_per_step)

    def setup(self, params: Mapping[str, Any], device: str) -> Any:
        if self._setup is not None:
            return self._setup(**params)
        return dict(params)

    def step(self, state: Any) -> None:
        self.fn(**state)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def workload(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    unit: str = "calls",
    units_per_step: float | Callable[[Mapping[str, Any]], float] = 1.0,
    variants: Sequence[str] = (),
    setup: Callable[..., Any] | None = None,
) -> Any:
    """Make a plain function a workload; its keyword parameters with defaults are its space,
    and its name, ``_`` written ``-``, is the workload's (``digits_step``: ``digits-step``).

    ``setup``, if given, holds the parameters instead (its keywords, each with a default) and
    returns the keywords each call of the function gets, so data is built once per case,
    outside the measured steps.
    """

    def wrap(f: Callable[..., Any]) -> FunctionWorkload:
        return FunctionWorkload(
            f,
            name=name,
            description=description,
            unit=unit,
            units_per_step=units_per_step,
            variants=variants,
            setup=setup,
        )

    return wrap(fn) if fn is not None else wrap


# -- discovery ---------------------------------------------------------------------------------


@dataclass
class Registry:
    """Every workload and suite found, by name, with where each came from."""

    workloads: dict[str, Workload] = field(default_factory=dict)
    suites: dict[str, Suite] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def add(self, item: Any, origin: str) -> None:
        if isinstance(item, Workload):
            if not item.name:
                raise UserError(f"a workload from {origin} has no name")
            self.workloads[item.name] = item
            self.origins[item.name] = origin
        elif isinstance(item, Suite):
            # suites of the same name merge, so each plugin module can add its cases to `quick`
            if item.name in self.suites:
                self.suites[item.name].cases.extend(item.cases)
            else:
                self.suites[item.name] = Suite(item.name, item.description, list(item.cases))

    def get(self, name: str) -> Workload:
        if name in self.workloads:
            return self.workloads[name]
        hint = _did_you_mean(name, list(self.workloads))
        raise UserError(
            f"unknown workload {name!r}{hint}; `greenbench workloads` lists them"
        )

    def suite(self, name: str) -> Suite:
        if name in self.suites:
            return self.suites[name]
        hint = _did_you_mean(name, list(self.suites))
        names = ", ".join(sorted(self.suites)) or "none"
        raise UserError(f"unknown suite {name!r}{hint} (suites: {names})")


def discover(files: Iterable[str | Path] = (), entry_points: bool = True) -> Registry:
    """Load workloads from the entry-point group, then from files (files win on a name clash)."""
    registry = Registry()
    if entry_points:
        from importlib.metadata import entry_points as _entry_points

        for ep in _entry_points(group=ENTRY_POINT_GROUP):
            try:
                provider = ep.load()
                items = provider() if callable(provider) else provider
                for item in _as_iterable(items):
                    registry.add(item, f"entry point {ep.name} ({ep.value})")
            except UserError:
                raise
            except (Exception, SystemExit) as exc:  # a broken plugin must not hide the others
                print(
                    f"greenbench: warning: workload entry point {ep.name} failed to load: {exc}",
                    file=sys.stderr,
                )
    for path in files:
        for item in load_file(path):
            registry.add(item, str(path))
    return registry


def load_file(path: str | Path) -> list[Any]:
    """Import a Python file and return its module-level workloads and suites."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"workload file {p} does not exist")
    module_name = f"greenbench_user_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, p)
    if spec is None or spec.loader is None:
        raise UserError(f"workload file {p} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # the file's folder, as Python gives a script, so that it can import a module beside it
    # (in this process and in every worker); last, so that it cannot shadow an installed one
    folder = str(p.resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:  # sys.exit() or exit() at import would end greenbench silently
        raise UserError(f"workload file {p} called sys.exit({exc.code!r}) while being "
                        "imported: a workload file should only define workloads") from None
    except Exception as exc:
        raise UserError(
            f"workload file {p} failed to import: {type(exc).__name__}: {exc}"
        ) from None
    found = [v for v in vars(module).values() if isinstance(v, Workload | Suite)]
    if not found:
        raise UserError(
            f"workload file {p} defines no workload: subclass greenbench.Workload or use "
            "@greenbench.workload"
        )
    return found


def load_workload(name: str, files: Sequence[str] = ()) -> Workload:
    """Find one workload by name (used by worker processes)."""
    return discover(files).get(name)


# -- parameter grids ---------------------------------------------------------------------------


def parse_param_option(text: str) -> tuple[str, list[str]]:
    """``NAME=V1,V2`` -> (NAME, [V1, V2])."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UserError(f"bad parameter {text!r}: use -p NAME=VALUE or -p NAME=V1,V2,...")
    parts = [v.strip() for v in values.split(",")]
    if not any(parts):
        raise UserError(f"parameter {name} has no values: use -p {name}=V1,V2,...")
    if any(not v for v in parts):
        raise UserError(f"parameter {name}: empty value in {values!r}")
    return name, parts


def expand_grid(
    wl: Workload, values: Mapping[str, Sequence[Any]] | None = None
) -> list[dict[str, Any]]:
    """Every combination of the given values (text or typed), defaults elsewhere.

    Values given as text are parsed by the parameter's type; typed values are checked.
    """
    values = values or {}
    axes: list[list[Any]] = []
    names: list[str] = []
    for pname, vals in values.items():
        p = wl.param(pname)
        if not vals:
            raise UserError(f"parameter {pname} of {wl.name} has an empty list of values")
        parsed = [p.parse(v) if isinstance(v, str) and p.type is not str else p.check(v)
                  for v in vals]
        names.append(pname)
        axes.append(list(dict.fromkeys(parsed)))
    cases = []
    for combo in itertools.product(*axes):
        params = wl.defaults()
        params.update(zip(names, combo, strict=True))
        cases.append(params)
    if not cases:
        raise UserError(f"the parameter grid of {wl.name} is empty")
    return cases


def swept(cases: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of parameters that take more than one value across the cases."""
    keys: dict[str, set[str]] = {}
    for c in cases:
        for k, v in c.items():
            keys.setdefault(k, set()).add(repr(v))
    return [k for k, vs in keys.items() if len(vs) > 1]


# -- helpers -----------------------------------------------------------------------------------


def _params_from_signature(fn: Callable[..., Any], variants: set[str]) -> list[Param]:
    params = []
    for p in inspect.signature(fn).parameters.values():
        if p.default is inspect.Parameter.empty:
            raise UserError(
                f"workload function {fn.__name__}: parameter {p.name!r} needs a default"
            )
        kind = type(p.default) if p.default is not None else str
        if kind not in (int, float, str, bool):
            kind = str
        params.append(Param(p.name, kind, p.default, variant=p.name in variants))
    return params


def _as_iterable(items: Any) -> Iterable[Any]:
    if isinstance(items, Workload | Suite):
        return [items]
    if isinstance(items, Mapping):
        return items.values()
    return items


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _type_word(t: type) -> str:
    return {int: "an integer", float: "a number", bool: "true or false"}.get(t, t.__name__)
