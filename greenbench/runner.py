"""Runs cases, each in its own worker process, and keeps every finished case in the store.

A crash, an out-of-memory kill, a timeout or garbage on the event pipe fails that case with
its error recorded; the others go on. A case ends when its worker exits: processes the
workload left running are ended then, and named in the case's flags. Ctrl-C stops the current
case, keeps every finished case, and marks the run interrupted. Every case is written to the
store the moment it finishes. A worker dies with its parent (greenbench.lifeline).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from greenbench.errors import UserError
from greenbench.lifeline import ENV_PARENT_PID
from greenbench.records import CaseRecord, Repeat, RunRecord
from greenbench.workload import Registry, expand_grid
from greenbench.zygote import Zygote, ZygoteError, zygote_or_none

#: metrics whose coefficient of variation over repeats is checked against CV_LIMIT
CV_CHECKED = ("energy_per_unit_j", "time_s")
CV_LIMIT = 0.10
#: the start of the note on a case whose median net energy is below zero
NEGATIVE_NET = "net energy below zero"


@dataclass
class RunConfig:
    device: str = "cpu"
    repeats: int = 6
    min_duration_s: float = 0.5
    warmup_s: float = 2.0
    #: None: as long as the shortest repeat (greenbench.protocol); 0: no idle baseline
    idle_s: float | None = None
    interval_s: float = 0.1
    timeout_s: float = 600.0
    cpu_tdp_w: float | None = None
    workload_files: list[str] = field(default_factory=list)
    #: whose CPU time a CPU estimate charges: process (the worker's tree), thread, machine
    scope: str = "process"
    #: add constant models (RAM from its size) to the totals
    include_constants: bool = False
    #: worker processes per case, the repeats spread across them (the unit of replication)
    processes: int = 1
    #: seconds between warm-up and idle; None: the protocol's rule (1 s when a GPU is metered)
    settle_s: float | None = None
    #: ranks per node of a distributed case (torchrun, greenbench.distributed.launch); None:
    #: one worker process, not distributed
    nproc_per_node: int | None = None
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    #: how long a rank waits for the others at a collective window's edge (s)
    job_timeout_s: float = 30.0

    def check(self) -> None:
        if self.repeats < 1:
            raise UserError(f"--repeats {self.repeats}: use at least 1 (3 or more for a CI)")
        for name, value in (("--min-duration", self.min_duration_s),
                            ("--warmup", self.warmup_s), ("--idle", self.idle_s or 0.0),
                            ("--settle", self.settle_s or 0.0)):
            if value < 0:
                raise UserError(f"{name} {value}: use a number of seconds >= 0")
        if not 1 <= self.processes <= self.repeats:
            raise UserError(f"--processes {self.processes}: use 1 to --repeats "
                            f"({self.repeats}) worker processes per case")
        if self.timeout_s <= 0:
            raise UserError(f"--timeout {self.timeout_s}: use a positive number of seconds")
        check_device(self.device)
        if self.nproc_per_node is not None:
            from greenbench.distributed.launch import check_placement

            check_placement(self.nproc_per_node, self.nnodes, self.node_rank,
                            self.master_port, self.job_timeout_s, self.device)


#: RunConfig's fields that place the ranks of a distributed case
_PLACEMENT = ("nproc_per_node", "nnodes", "node_rank", "master_addr", "master_port",
              "job_timeout_s")


def stored_config(config: RunConfig) -> dict[str, Any]:
    """The configuration a run stores: a run on one process leaves out the placement of
    ranks it did not have."""
    d = asdict(config)
    if config.nproc_per_node is None:
        d = {k: v for k, v in d.items() if k not in _PLACEMENT}
    return d


@dataclass
class CaseSpec:
    workload: str
    params: dict[str, Any]


def plan(
    registry: Registry,
    workloads: Sequence[str],
    overrides: dict[str, list[str]],
    suite: str | None,
    device: str,
) -> list[CaseSpec]:
    """The cases to run: named workloads over the -p grid, or a suite's cases; crossed with
    the GPU power limits of ``-p power_limit_w`` (greenbench.gpu.limits), once checked."""
    from greenbench.gpu.limits import POWER_LIMIT, check_limits, take_axis

    overrides, limits_w = take_axis(overrides)
    specs: list[CaseSpec] = []
    if suite is not None or not workloads:
        s = registry.suite(suite or "quick")
        for name, grid in s.cases:
            wl = registry.get(name)
            merged = {**grid, **{k: v for k, v in overrides.items() if _has(wl, k)}}
            specs.extend(CaseSpec(name, p) for p in expand_grid(wl, merged))
        unknown = [k for k in overrides if not any(_has(registry.get(n), k) for n, _ in s.cases)]
        if unknown:
            raise UserError(f"no workload of suite {s.name} has parameter {unknown[0]!r}")
    for name in workloads:
        wl = registry.get(name)
        specs.extend(CaseSpec(name, p) for p in expand_grid(wl, overrides))
    for spec in specs:
        wl = registry.get(spec.workload)
        wl.check_requirements()
        wl.check(spec.params, device)
    if not specs:
        raise UserError("nothing to run: the grid is empty")
    if limits_w is not None:
        check_limits(device, limits_w)
        specs = [CaseSpec(s.workload, {**s.params, POWER_LIMIT: w}) for s in specs
                 for w in limits_w]
    return specs


Event = Callable[[dict[str, Any]], None]


def run(
    specs: Sequence[CaseSpec],
    config: RunConfig,
    registry: Registry,
    store: Any,
    on_event: Event = lambda e: None,
    label: str | None = None,
    sensors: list[dict[str, Any]] | None = None,
    carbon: Any = None,
) -> RunRecord:
    """Run every case; store each as it finishes; return the run (interrupted or complete).

    ``carbon`` (a greenbench.carbon.options.CarbonSetup) adds a footprint to every case
    and to the run: emissions of the measured repeats, embodied share and SCI per unit.
    """
    from greenbench.gpu.limits import run_config as power_limit_config
    from greenbench.machine import describe_machine, describe_software

    if sensors is None:
        from greenbench.sensors.registry import probe_all

        sensors = [p.to_dict() for p in probe_all(cpu_tdp_w=config.cpu_tdp_w) if p.available]
    record = RunRecord(
        id=new_run_id(),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        status="running",
        machine=describe_machine(),
        software=describe_software(),
        config={**stored_config(config),
                **({"carbon": carbon.describe()} if carbon else {}),
                **power_limit_config([s.params for s in specs], config.device)},
        sensors=sensors,
        label=label,
    )
    store.begin_run(record)
    jobs: list[dict[str, Any]] = []  # a distributed case's job, each host's part

    def on(event: dict[str, Any]) -> None:
        if event["event"] == "job":
            jobs.append(event["job"])
        on_event(event)

    try:
        _run_cases(specs, config, store, record, on, carbon)
        if carbon is not None:
            record.footprint = run_footprint(record, carbon)
        if jobs:
            from greenbench.distributed_case import summed

            record.job = summed(jobs)
        store.finish_run(record.id, record.status, footprint=record.footprint, job=record.job)
    except BaseException as exc:
        # A full disk, a second Ctrl-C, a bug: the run keeps its stored cases and is marked
        # as ended, never left "running".
        record.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        with contextlib.suppress(Exception):
            store.finish_run(record.id, record.status)
        raise
    return record


def _run_cases(specs: Sequence[CaseSpec], config: RunConfig, store: Any, record: RunRecord,
               on_event: Event, carbon: Any) -> None:
    """Run and store the cases in turn, each forked from the run's pre-imported zygote; a
    Ctrl-C ends the run "interrupted" and still stores a case that had finished (one
    waiting for the store's lock, say)."""
    finished: list[tuple[int, CaseRecord]] = []  # a finished case not yet stored
    try:
        with (contextlib.nullcontext() if config.nproc_per_node is not None
              else zygote_or_none(zygote_argv(), os.environ)) as zygote:
            for index, spec in enumerate(specs):
                on_event({"event": "case", "index": index, "of": len(specs), "spec": spec})
                case = run_case(spec, config, on_event, zygote=zygote)
                summarize_case(case)
                if carbon is not None and case.repeats:
                    case.footprint = case_footprint(case, carbon, record.machine)
                record.cases.append(case)
                finished.append((index, case))
                store.add_case(record.id, index, case)
                finished.clear()
                on_event({"event": "case_done", "index": index, "case": case})
    except KeyboardInterrupt:
        record.status = "interrupted"
        if finished:
            store.add_case(record.id, *finished[0])
    else:
        record.status = "complete"


def run_case(spec: CaseSpec, config: RunConfig, on_event: Event = lambda e: None,
             zygote: Zygote | None = None) -> CaseRecord:
    """Run one case in ``config.processes`` fresh worker processes (its repeats spread across
    them, each process with its own warm-up and idle baseline), each with a timeout.

    Repeats inside one process share its allocator state, caches and clocks: they are
    correlated, and the process is the unit of replication (as in pyperf). Each repeat
    records the process it ran in; the first process's warm-up, idle and trace are kept.
    """
    shares = _spread(config.repeats, config.processes)
    first = _run_worker(spec, replace(config, repeats=shares[0]), on_event, zygote)
    for k, repeats in enumerate(shares[1:], start=1):
        if first.status != "ok":
            break
        more = _run_worker(spec, replace(config, repeats=repeats), on_event, zygote)
        if more.status != "ok":
            first.flags.append(f"process {k + 1} of {len(shares)} failed: {more.error}")
            continue
        for r in more.repeats:
            r.process = k
        first.repeats.extend(more.repeats)
        first.flags.extend(f for f in more.flags if f not in first.flags)
    return first


def _spread(repeats: int, processes: int) -> list[int]:
    """Repeats per process, as even as they go: 7 over 3 -> [3, 2, 2]."""
    n = max(1, min(processes, repeats))
    return [repeats // n + (1 if i < repeats % n else 0) for i in range(n)]


def _start_worker(zygote: Zygote | None, env: dict[str, str], write_fd: int) -> Any:
    """A fresh worker: forked from the run's pre-imported zygote, or started as a new
    interpreter where there is none (or it failed)."""
    if zygote is not None:
        try:
            return zygote.spawn(env, write_fd)
        except ZygoteError:
            pass
    return subprocess.Popen(
        worker_argv(),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(write_fd,),
        env=env,
        # its own session: Ctrl-C reaches greenbench, which then stops the worker itself
        start_new_session=True,
    )


def zygote_argv(version: tuple[int, int] = sys.version_info[:2]) -> list[str]:
    """The interpreter line of the run's worker zygote (greenbench.zygote adds its code)."""
    return [sys.executable, "-P"] if version >= (3, 11) else [sys.executable]


def _run_worker(spec: CaseSpec, config: RunConfig, on_event: Event,
                zygote: Zygote | None = None) -> CaseRecord:
    """Run one case in a fresh worker process, with a timeout."""
    read_fd, write_fd = os.pipe()
    payload = json.dumps({
        "workload": spec.workload,
        "params": spec.params,
        "device": config.device,
        "workload_files": config.workload_files,
        "config": asdict(config),
    })
    env = {**os.environ, "GREENBENCH_WORKER_FD": str(write_fd),
           ENV_PARENT_PID: str(os.getpid())}
    if config.nproc_per_node is not None:
        from greenbench.distributed import launch

        proc = launch.start(config, env, write_fd)
    else:
        proc = _start_worker(zygote, env, write_fd)
    os.close(write_fd)
    assert proc.stdin is not None
    proc.stdin.write(payload.encode())
    proc.stdin.close()
    try:
        outcome, stderr_tail, leftovers = _follow(proc, read_fd, config.timeout_s, on_event)
    except KeyboardInterrupt:
        _kill(proc)
        _restore_limits(spec, proc.pid)
        raise
    finally:
        os.close(read_fd)
    case = outcome if isinstance(outcome, CaseRecord) else CaseRecord(
        spec.workload, spec.params, "failed", error=outcome, error_detail=stderr_tail or None)
    if leftovers:
        case.flags.append(leftovers)
    case.flags.extend(_restore_limits(spec, proc.pid))
    return case


def _restore_limits(spec: CaseSpec, pid: int) -> list[str]:
    """Put back the GPU power limit of a worker that could not (killed, timed out)."""
    from greenbench.gpu.limits import POWER_LIMIT, restore_left

    if POWER_LIMIT not in spec.params:
        return []
    done, failed = restore_left(pid)
    return ([f"power limit: the worker could not put it back itself; {d}" for d in done]
            + [f"power limit: {f}; run greenbench gpu restore" for f in failed])


#: Python 3.10 has no -P: the worker module is run from -c after dropping the '' (the current
#: directory) that -c puts first on sys.path
_SAFE_PATH_SHIM = ("import runpy, sys\n"
                   "if sys.path[:1] == ['']: del sys.path[0]\n"
                   "runpy.run_module('greenbench.worker', run_name='__main__', alter_sys=True)")


def worker_argv(version: tuple[int, int] = sys.version_info[:2]) -> list[str]:
    """The worker's command line, with the current directory kept off its ``sys.path``: a
    project's own ``greenbench/`` or ``greenbench_workloads/`` folder must not shadow the
    installed packages (``-m`` alone would put the current directory first)."""
    if version >= (3, 11):
        return [sys.executable, "-P", "-m", "greenbench.worker"]
    return [sys.executable, "-c", _SAFE_PATH_SHIM]


def summarize_case(case: CaseRecord) -> None:
    """Median, 95% CI and CV of every per-step metric over the repeats; flag high CV."""
    if not case.repeats:
        return
    from greenbench.results_format import is_nonnegative_metric
    from greenbench.stats import summarize
    from greenbench.units import fmt_percent

    _null_non_finite(case)
    metrics = sorted({k for r in case.repeats for k in r.metrics})
    for metric in metrics:
        values = case.values(metric)
        if not values:
            continue
        try:
            summary = summarize(values, lower_bound=0.0 if is_nonnegative_metric(metric)
                                else None)
        except ValueError as exc:  # not a number: the workload's own figure, say
            case.flags.append(f"{metric}: not summarized ({exc})")
            continue
        case.summary[metric] = summary
    for metric in CV_CHECKED:
        s = case.summary.get(metric)
        if s and s.cv is not None and s.cv > CV_LIMIT:
            shown = fmt_percent(s.cv, CV_LIMIT)
            case.flags.append(f"high CV: {metric} varies {shown} over repeats "
                              f"(limit {fmt_percent(CV_LIMIT)})")
            break  # one CV note per case is enough to say "do not trust this one yet"
    _flag_negative_net(case)
    if any(r.measurement.is_estimate for r in case.repeats):
        case.flags.append("estimate: some energy figures come from a power model")


def _flag_negative_net(case: CaseRecord) -> None:
    """A net figure below zero means the idle baseline drew more than the work: say so (once;
    the protocol's note on an idle baseline above the repeats' power says it already)."""
    import statistics

    from greenbench.units import fmt_energy

    net = case.values("net_energy_j")
    if not net or (median := statistics.median(net)) >= 0:
        return
    if not any(f.startswith("idle baseline") for f in case.flags):
        case.flags.append(f"{NEGATIVE_NET} ({fmt_energy(median)} per step): the idle baseline "
                          "drew more than the repeats, so the net figures mean nothing here; "
                          "lengthen --idle or measure on a quieter machine")


def _null_non_finite(case: CaseRecord) -> None:
    """Store a NaN or infinite figure (a diverged loss, say) as null, note it in the case's
    flags, and leave it out of the summary: the case and the run go on."""
    found: dict[str, dict[int, str]] = {}  # metric -> repeat -> the value
    for i, r in enumerate(case.repeats):
        # A quality figure is in both: quality["loss"] and metrics["quality:loss"].
        for figures, prefix in ((r.metrics, ""), (r.quality or {}, "quality:")):
            for name, value in figures.items():
                if isinstance(value, float) and not math.isfinite(value):
                    figures[name] = None  # type: ignore[assignment]
                    found.setdefault(prefix + name, {})[i] = repr(value)
    for metric, bad in found.items():
        shown = ", ".join(sorted(set(bad.values())))
        case.flags.append(f"{metric}: {len(bad)} of {len(case.repeats)} repeat(s) gave "
                          f"{shown}, stored as null and left out of the summary")


def case_footprint(
    case: CaseRecord, carbon: Any, machine: dict[str, Any]
) -> dict[str, Any] | None:
    """Emissions of a case's measured repeats (warm-up and idle excluded), SCI per unit."""
    measured = _measured(case.repeats)
    if measured is None:
        return None
    energy_j, duration_s, start = measured
    fp = carbon.footprint(energy_kwh=energy_j / 3.6e6, duration_s=duration_s,
                          start_unix_s=start, units=sum(r.units for r in case.repeats),
                          unit=case.unit, machine=machine)
    return dict(fp.to_dict())


def run_footprint(record: RunRecord, carbon: Any) -> dict[str, Any] | None:
    """The run's emissions: its cases' measured repeats together (None if any read failed)."""
    measured = _measured([r for c in record.cases for r in c.repeats])
    if measured is None:
        return None
    energy_j, duration_s, start = measured
    fp = carbon.footprint(energy_kwh=energy_j / 3.6e6, duration_s=duration_s,
                          start_unix_s=start, machine=record.machine)
    return dict(fp.to_dict())


def _measured(repeats: Sequence[Repeat]) -> tuple[float, float, float | None] | None:
    """Total energy and duration of repeats, or None when there are none or a read failed
    (a footprint of a partial sum would understate the emissions)."""
    energies = [r.measurement.energy_j for r in repeats]
    if not energies or any(e is None for e in energies):
        return None
    duration_s = sum(r.measurement.duration_s for r in repeats)
    total = sum(e for e in energies if e is not None)
    return total, duration_s, repeats[0].measurement.start_wall_s


def check_device(device: str) -> None:
    if device == "cpu":
        return
    if device != "cuda" and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise UserError(f"--device {device!r}: use cpu, cuda or cuda:N")
    try:
        import torch
    except ImportError:
        raise UserError(f"--device {device} needs torch: pip install 'greenbench[torch]'") from None
    if not torch.cuda.is_available():
        raise UserError(f"--device {device}: torch sees no CUDA device on this machine; "
                        "use --device cpu")
    index = int(device[5:]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise UserError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s)")


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


# -- internals --------------------------------------------------------------------------------


#: after the worker exits, how long to read what it left in its pipes: a process it left
#: behind may hold them open, so end-of-file may never come
_DRAIN_S = 2.0
#: where the exit of a process cannot be waited on with a pidfd, how often to look
_POLL_S = 0.25
#: one event line larger than this is not the worker's (a result with its trace is < 1 MB)
_MAX_LINE = 64 * 2**20
_MAX_STDERR = 20000


class _ProtocolError(Exception):
    """The event pipe carried something that is not one of the worker's events."""


def _follow(
    proc: subprocess.Popen[bytes], fd: int, timeout_s: float, on_event: Event
) -> tuple[CaseRecord | str, str, str | None]:
    """Read the worker's events until it has exited: the case or an error message, the end
    of its stderr, and a note on the processes it left behind (ended here), if any.

    The worker's exit, not end-of-file, ends the case: a child process it left running may
    hold the pipes open for as long as it lives.
    """
    assert proc.stderr is not None
    events = _Events(on_event)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ, events.feed)
    sel.register(proc.stderr.fileno(), selectors.EVENT_READ, events.feed_stderr)
    exit_fd = _exit_fd(proc)
    if exit_fd is not None:
        sel.register(exit_fd, selectors.EVENT_READ, None)
    deadline = time.monotonic() + timeout_s
    try:
        while proc.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill(proc)
                return (f"timed out after {timeout_s:g} s (raise --timeout if the case "
                        "needs it)"), events.stderr_tail(), None
            if _read_ready(sel, min(remaining, 1.0 if exit_fd is not None else _POLL_S)):
                # it has exited: wait for its status rather than wake on the pidfd again
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        if exit_fd is not None:
            sel.unregister(exit_fd)
        leftovers = _end_leftovers(proc.pid)
        drain_until = time.monotonic() + _DRAIN_S
        while sel.get_map() and (left := drain_until - time.monotonic()) > 0:
            _read_ready(sel, left)
    except _ProtocolError as exc:
        _kill(proc)
        return str(exc), events.stderr_tail(), None
    finally:
        sel.close()
        if exit_fd is not None:
            os.close(exit_fd)
    result = events.result if events.result is not None else _exit_reason(proc.returncode)
    return result, events.stderr_tail(), leftovers


def _read_ready(sel: selectors.BaseSelector, timeout_s: float) -> bool:
    """Read every pipe that is ready within ``timeout_s``; forget those at end-of-file.
    True when the worker's exit (its pidfd) was among them."""
    exited = False
    for key, _ in sel.select(timeout=timeout_s):
        if key.data is None:
            exited = True
            continue
        chunk = os.read(key.fd, 65536)
        if chunk:
            key.data(chunk)
        else:
            sel.unregister(key.fd)
    return exited


def _exit_fd(proc: subprocess.Popen[bytes]) -> int | None:
    """A descriptor that becomes readable when the worker exits (Linux pidfd), if any."""
    try:
        return os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return None


class _Events:
    """The worker's event lines, decoded: progress passed on, the result or error kept."""

    def __init__(self, on_event: Event) -> None:
        self.on_event = on_event
        self.result: CaseRecord | str | None = None
        self._buf = b""
        self._err = b""

    def feed(self, chunk: bytes) -> None:
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        if len(self._buf) > _MAX_LINE:
            raise _ProtocolError(_garbage(self._buf))
        for line in lines:
            self._take(line)

    def feed_stderr(self, chunk: bytes) -> None:
        self._err = (self._err + chunk)[-_MAX_STDERR:]

    def stderr_tail(self) -> str:
        return _tail(self._err)

    def _take(self, line: bytes) -> None:
        try:
            event = json.loads(line)
            kind = event["event"]
            if kind == "result":
                self.result = CaseRecord.from_dict(event["case"])
            elif kind == "error":
                self.result = str(event["error"])
                self.feed_stderr(str(event.get("detail", "")).encode())
            else:
                if kind == "phase" and not isinstance(event["phase"], str):
                    raise TypeError(kind)
                if kind == "power" and not isinstance(event["power_w"], (int, float)):
                    raise TypeError(kind)
                self.on_event(event)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            raise _ProtocolError(_garbage(line)) from None


def _garbage(line: bytes) -> str:
    shown = line[:60].decode("ascii", errors="replace")
    shown = "".join(c if c.isprintable() else "?" for c in shown)
    return ("the worker's event pipe carried something that is not a greenbench event "
            f"({shown!r}{'...' if len(line) > 60 else ''}); does the workload write to a "
            "file descriptor it inherited?")


def _end_leftovers(pgid: int) -> str | None:
    """End what the worker left running in its process group; say what that was."""
    from greenbench.process_group import alive, end, members

    live = members(pgid)
    if not (live if live is not None else alive(pgid)):
        return None
    end(pgid)
    count = f"{len(live)} process(es) (pid {', '.join(map(str, live))})" if live else \
        "processes"
    return (f"leftover processes: the workload left {count} running after the worker "
            "exited; greenbench ended them")


def _exit_reason(code: int) -> str:
    if code < 0:
        sig = signal.Signals(-code).name
        hint = " (out of memory?)" if code == -signal.SIGKILL else ""
        return f"worker killed by {sig}{hint}"
    return f"worker exited with code {code} before reporting a result"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the worker and every process of its group at once."""
    from greenbench.process_group import signal_group

    signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(err: bytes, lines: int = 15) -> str:
    text = err.decode(errors="replace").strip()
    return "\n".join(text.splitlines()[-lines:])


def _has(wl: Any, name: str) -> bool:
    return any(p.name == name for p in wl.params)
