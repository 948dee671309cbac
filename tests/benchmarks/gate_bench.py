"""The gate benchmark: false alarms, detection and cost of ``greenbench gate`` on this machine.

    nox -s gate-bench                  # or: python -m tests.benchmarks.gate_bench [--sessions N]

A small library (tests/benchmarks/gate_lib: checksum, word_counts, histogram, each with an
energy benchmark) is committed to a fresh git repository in a temporary folder:

- ``base``: the library;
- ``unchanged``: the same code (only a comment differs);
- ``slower``: ``checksum`` does its work twice (2x), ``histogram`` bins a fifth of its values
  twice (about 1.2x: the CPU-time ratio measured here is printed), ``word_counts`` unchanged.

With a noisy neighbour running the whole time (tests/benchmarks/noisy_neighbour: one core
loaded on and off at random), ``greenbench gate --base base --head unchanged`` and
``--head slower`` each run ``--sessions`` times, at the gate's default rule and rounds.
Targets, printed at the end (exit 1 when one is missed): unchanged code fails no session;
the 2x slowdown is caught in every session; the 1.2x one in at least 80% of them. Also
printed: the time a gate adds per benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
LIB = HERE / "gate_lib"
DOUBLED = ("    return _adler(data)\n",
           "    _adler(data)  # a wasted pass: twice the work\n    return _adler(data)\n")
FIFTH_MORE = ("    return _bin(values, low, width, [0] * bins)\n",
              "    _bin(values[: len(values) // 5], low, width, [0] * bins)  # a fifth again\n"
              "    return _bin(values, low, width, [0] * bins)\n")


@dataclass
class Gate:
    exit_code: int
    wall_s: float
    per_benchmark_s: float
    #: benchmark name -> (energy verdict status, paired energy ratio)
    energy: dict[str, tuple[str, float | None]]


def make_repository(root: Path) -> None:
    """base, unchanged and slower, as tags of a fresh repository at ``root``."""
    (root / "tests").mkdir(parents=True)
    shutil.copy(LIB / "gate_lib.py", root / "gate_lib.py")
    shutil.copy(LIB / "energy_tests.py", root / "tests" / "test_energy.py")

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=gate-bench", "-c",
                        "user.email=gate-bench@example.org", *args],
                       cwd=root, check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    git("tag", "base")
    source = (root / "gate_lib.py").read_text()
    (root / "gate_lib.py").write_text(source + "# the same code\n")
    git("commit", "-q", "-am", "unchanged")
    git("tag", "unchanged")
    slower = source
    for old, new in (DOUBLED, FIFTH_MORE):
        assert slower.count(old) == 1, old
        slower = slower.replace(old, new)
    (root / "gate_lib.py").write_text(slower)
    git("commit", "-q", "-am", "slower")
    git("tag", "slower")


def true_ratios(root: Path) -> dict[str, float]:
    """CPU-time ratio slower/base of each function: the least CPU time of 15 interleaved
    batches of each (the least disturbed by the other work on the machine), in-process."""
    import importlib.util

    def load(tag: str) -> object:
        text = subprocess.run(["git", "show", f"{tag}:gate_lib.py"], cwd=root, check=True,
                              capture_output=True, text=True).stdout
        path = root.parent / f"gate_lib_{tag}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(f"gate_lib_{tag}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    sys.path.insert(0, str(LIB))
    import energy_tests as data  # the benchmarks' inputs  # noqa: I001

    base, slower = load("base"), load("slower")
    inputs = {"checksum": data.DATA, "word_counts": data.TEXT, "histogram": data.VALUES}
    out = {}
    for name, arg in inputs.items():
        least = [float("inf"), float("inf")]
        for _ in range(15):
            for i, module in enumerate((base, slower)):
                fn = getattr(module, name)
                t0 = time.process_time()
                for _ in range(5):
                    fn(arg)
                least[i] = min(least[i], time.process_time() - t0)
        out[name] = least[1] / least[0]
    return out


def run_gate(root: Path, head: str, extra: list[str]) -> Gate:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "greenbench", "gate", "--base", "base",
                           "--head", head, "--json", *extra, "tests"],
                          cwd=root, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"greenbench gate --head {head} exited {done.returncode}:\n"
                         f"{done.stderr}{done.stdout[-2000:]}")
    result = json.loads(done.stdout)
    energy = {}
    for case in result["cases"]:
        name = case["label"].rsplit("::", 1)[-1].removeprefix("test_")
        v = next(v for v in case["verdicts"] if v["key"] == "energy_j")
        ratio = v["comparison"]["ratio"] if v["comparison"] else None
        energy[name] = (v["status"], ratio)
    return Gate(done.returncode, wall, wall / max(len(energy), 1), energy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--no-neighbour", action="store_true",
                        help="Leave out the noisy neighbour.")
    parser.add_argument("gate_args", nargs="*",
                        help="More greenbench gate options (after --), e.g. --rounds 12.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gate-bench-"))
    root = work / "gate_lib"
    neighbour = None
    try:
        make_repository(root)
        truth = true_ratios(root)
        if not args.no_neighbour:
            neighbour = subprocess.Popen([sys.executable, "-m", "tests.benchmarks.noisy_neighbour",
                                          str(os.getpid())], cwd=HERE.parent.parent)
        gates: dict[str, list[Gate]] = {"unchanged": [], "slower": []}
        for i in range(args.sessions):
            for head in ("unchanged", "slower"):  # alternated, so both see the same machine
                g = run_gate(root, head, args.gate_args)
                gates[head].append(g)
                shown = ", ".join(f"{n} {r:.3f} {s}" if r else f"{n} - {s}"
                                  for n, (s, r) in sorted(g.energy.items()))
                print(f"session {i + 1:2d} {head:9s} exit {g.exit_code}: {shown} "
                      f"({g.wall_s:.0f} s)", flush=True)
    finally:
        if neighbour is not None:
            neighbour.terminate()
            neighbour.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return report(gates, truth, args)


def report(gates: dict[str, list[Gate]], truth: dict[str, float], args: argparse.Namespace) -> int:
    n = args.sessions
    unchanged, slower = gates["unchanged"], gates["slower"]
    failed = sum(g.exit_code != 0 for g in unchanged)

    def caught(name: str) -> int:
        return sum(g.energy.get(name, ("", None))[0] == "regressed" for g in slower)

    def ratios(name: str, of: list[Gate]) -> str:
        rs = [r for g in of if (r := g.energy.get(name, ("", None))[1]) is not None]
        return f"{min(rs):.3f}..{max(rs):.3f}" if rs else "-"

    alarms = sum(g.energy.get("word_counts", ("", None))[0] != "unchanged" for g in slower)
    per_bench = [g.per_benchmark_s for g in unchanged + slower]
    neighbour = "without" if args.no_neighbour else "with"
    rule = " ".join(args.gate_args) or "default rule and rounds"
    checks = [
        (f"unchanged code (base vs unchanged): failed {failed} of {n} sessions, energy "
         f"ratios {ratios('checksum', unchanged)} / {ratios('histogram', unchanged)} / "
         f"{ratios('word_counts', unchanged)}", failed == 0, "no failure"),
        (f"checksum 2x (CPU time x{truth['checksum']:.2f}): caught in {caught('checksum')} of "
         f"{n}, ratios {ratios('checksum', slower)}", caught("checksum") == n, "every session"),
        (f"histogram 1.2x (CPU time x{truth['histogram']:.2f}): caught in "
         f"{caught('histogram')} of {n}, ratios {ratios('histogram', slower)}",
         caught("histogram") >= 0.8 * n, "at least 80%"),
    ]
    print(f"\ngate-bench: {n} sessions each, {neighbour} a noisy neighbour; greenbench gate "
          f"with {rule}")
    for text, ok, target in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {text}  [target: {target}]")
    print(f"  info  word_counts, unchanged in the slower head (CPU time "
          f"x{truth['word_counts']:.2f}): {alarms} false alarm(s) in {n}, ratios "
          f"{ratios('word_counts', slower)}")
    print(f"  info  time a gate adds per benchmark (both revisions, wall): median "
          f"{statistics.median(per_bench):.1f} s, max {max(per_bench):.1f} s")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
