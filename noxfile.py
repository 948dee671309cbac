"""Developer sessions: tests, lint, typecheck, bench.

Every session installs the CPU build of torch first (pip install torch==2.13.0) so that the
`torch` extra never pulls a CUDA build of several GB.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
TORCH = "torch==2.13.0"


@nox.session
def tests(session: nox.Session) -> None:
    session.install(TORCH)
    session.install("-e", ".[torch,dev]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", "greenbench", "workloads", "tests", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "greenbench")


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory targets, as ratios measured in one run (see tests/benchmarks)."""
    session.install(TORCH)
    session.install("-e", ".[torch,dev]")
    session.run(
        "python", "-m", "pytest", "tests/benchmarks", "-s",
        "--benchmark-columns=min,median,max,rounds", *session.posargs,
        env={"GREENBENCH_BENCH": "1"},
    )


@nox.session
def plain_timing(session: nox.Session) -> None:
    """greenbench's time per step against torch.utils.benchmark.Timer, case by case.

    Prints the ratio per case (alternating rounds; see scripts/plain_timing.py). Run it on an
    otherwise idle machine; posargs go to the script (e.g. --rounds 5).
    """
    session.install(TORCH)
    session.install("-e", ".[torch,dev]")
    session.run("python", "scripts/plain_timing.py", *session.posargs)


@nox.session(name="gate-bench")
def gate_bench(session: nox.Session) -> None:
    """greenbench gate against a noisy neighbour: false alarms, detection, time per benchmark
    (tests/benchmarks/gate_bench.py; the figures in docs/ci-gating.md)."""
    session.install("-e", ".", "pytest>=8")
    session.run("python", "-m", "tests.benchmarks.gate_bench", *session.posargs)
