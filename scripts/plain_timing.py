"""greenbench's time per step against a plain ``torch.utils.benchmark.Timer`` of the same step.

For every case, greenbench's figure is the median over repeats of its ``time_s`` (a repeat's
duration over its steps, measured by ``greenbench run`` in a fresh worker process, meter
running); the plain figure is the median of ``Timer.blocked_autorange`` over the workload's
own ``step()`` on the state its ``setup()`` built, also in a fresh process, with as many torch
threads as greenbench's worker uses (the Timer's default is one thread, which on a multi-core
CPU times a different computation). The two passes alternate in order, round by round
(greenbench first in odd rounds, the Timer first in even ones), so a drift in the machine's
load falls on both; printed per case: the median of the per-round ratios, their range, and the
ratio of each side's fastest round.

Two differences are by design: greenbench's figure is a mean (a repeat's whole duration over
its steps, every stall included, as its energy is), the Timer's a median of blocks; and the
Timer times one thread unless told otherwise (here it is told).

    python scripts/plain_timing.py                 # the default cases, 3 rounds
    python scripts/plain_timing.py --rounds 5 --case attention:mechanism=sdpa,seq_len=2048

Run it on an otherwise idle machine: on a shared one the ratios spread with the neighbours'
load (the min-max column says how far). ``nox -s plain_timing`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

#: the attention grid's shapes (d_model 256, 4 heads, batch 1), inference at a short and a
#: long sequence, and small training steps, where a fixed per-step cost would show most
DEFAULT_CASES = [
    *(f"attention:mechanism={m},seq_len={n},batch=1"
      for n in (256, 1024) for m in ("softmax", "sdpa", "linformer", "performer")),
    *(f"attention:mechanism={m},seq_len=256,batch=1,mode=train"
      for m in ("softmax", "sdpa", "linformer", "performer")),
]


def parse_case(text: str) -> tuple[str, dict[str, str]]:
    """``workload:name=value,name=value`` -> (workload, {name: value})."""
    workload, _, rest = text.partition(":")
    pairs = [p.split("=", 1) for p in rest.split(",") if p]
    if any(len(p) != 2 for p in pairs):
        raise SystemExit(f"plain_timing: bad case {text!r}; write workload:name=value,...")
    return workload, {name: value for name, value in pairs}


def greenbench_pass(cases: list[str], repeats: int, workdir: Path, tag: str) -> list[float]:
    """Median time per step of each case under ``greenbench run`` (one run per case)."""
    times = []
    for i, text in enumerate(cases):
        workload, params = parse_case(text)
        out = workdir / f"{tag}-{i}.json"
        args = [sys.executable, "-m", "greenbench", "run", workload, "--repeats", str(repeats),
                "--idle", "0", "--store", str(workdir / "timing.sqlite"), "-o", str(out)]
        for name, value in params.items():
            args += ["-p", f"{name}={value}"]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        case = json.loads(out.read_text())["run"]["cases"][0]
        times.append(statistics.median(r["metrics"]["time_s"] for r in case["repeats"]))
    return times


def timer_pass(cases: list[str], min_run_time: float) -> list[float]:
    """Median time per step of each case under a plain Timer, each in a fresh process."""
    times = []
    for text in cases:
        done = subprocess.run(
            [sys.executable, __file__, "--time-one", text, "--min-run-time", str(min_run_time)],
            check=True, capture_output=True, text=True,
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return times


def time_one(text: str, min_run_time: float) -> float:
    """Build the case as greenbench's worker does and time its step() with Timer."""
    import torch
    from torch.utils.benchmark import Timer

    from greenbench.workload import load_workload

    workload, raw = parse_case(text)
    wl = load_workload(workload)
    params = wl.defaults() | {p.name: p.parse(raw[p.name]) for p in wl.params if p.name in raw}
    wl.check(params, "cpu")
    state = wl.setup(params, "cpu")
    timer = Timer("step(state)", globals={"step": wl.step, "state": state},
                  num_threads=torch.get_num_threads())
    timer.blocked_autorange(min_run_time=min_run_time / 2)  # warm-up, as greenbench's
    measured = timer.blocked_autorange(min_run_time=min_run_time)
    median = measured.mean if os.environ.get("PLAIN_TIMING_STATISTIC") == "mean" \
        else measured.median
    wl.teardown(state)
    return float(median)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", help="workload:name=value,... (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="greenbench repeats per round")
    parser.add_argument("--min-run-time", type=float, default=1.5, help="Timer, seconds")
    parser.add_argument("--threads", type=int,
                        help="torch threads on both sides (OMP_NUM_THREADS; default: torch's)")
    parser.add_argument("--timer-statistic", choices=("median", "mean"), default="median",
                        help="the Timer's figure: the median of its blocks (its own choice), "
                             "or their mean, which like greenbench's counts every stall")
    parser.add_argument("--time-one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_one:
        print(time_one(args.time_one, args.min_run_time))
        return 0
    cases = args.case or DEFAULT_CASES
    os.environ["PLAIN_TIMING_STATISTIC"] = args.timer_statistic  # read by --time-one
    if args.threads:  # inherited by greenbench's workers and the Timer's processes alike
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    gb: list[list[float]] = []
    plain: list[list[float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            print(f"round {r + 1} of {args.rounds}: "
                  + ("greenbench, then Timer" if r % 2 == 0 else "Timer, then greenbench"),
                  file=sys.stderr, flush=True)
            if r % 2 == 0:
                gb.append(greenbench_pass(cases, args.repeats, Path(tmp), f"r{r}"))
                plain.append(timer_pass(cases, args.min_run_time))
            else:
                plain.append(timer_pass(cases, args.min_run_time))
                gb.append(greenbench_pass(cases, args.repeats, Path(tmp), f"r{r}"))
    print(report(cases, gb, plain))
    return 0


def report(cases: list[str], gb: list[list[float]], plain: list[list[float]]) -> str:
    """One line per case: medians over rounds, the median (min-max) per-round ratio, and the
    ratio of the fastest rounds (other work only ever adds time, so on a shared machine the
    fastest round of each is the closest to the undisturbed figure)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    width = max(len(c) for c in cases)
    lines = [f"greenbench time per step / torch.utils.benchmark.Timer, {len(gb)} rounds "
             f"(load average {load:.1f} at the end)",
             f"{'case':<{width}} {'greenbench':>11} {'Timer':>11} {'ratio':>6} {'min-max':>9}"
             f" {'fastest':>7}"]
    for i, case in enumerate(cases):
        ratios = [g[i] / p[i] for g, p in zip(gb, plain, strict=True)]
        fastest = min(g[i] for g in gb) / min(p[i] for p in plain)
        lines.append(
            f"{case:<{width}} {statistics.median(g[i] for g in gb) * 1e3:>8.3f} ms "
            f"{statistics.median(p[i] for p in plain) * 1e3:>8.3f} ms "
            f"{statistics.median(ratios):>6.3f} {min(ratios):>4.2f}-{max(ratios):<4.2f}"
            f" {fastest:>7.3f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
