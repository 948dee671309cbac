"""``greenbench run --nproc-per-node N``: each case launched through torch's own elastic
launcher (torchrun), N ranks on this node, every rank measuring its share of the job.

The runner starts ``python -m greenbench.distributed.launch`` in place of a worker, with the
case on stdin and its event pipe as for a worker. This launcher ties itself to the runner
(greenbench.lifeline), hands the case to the ranks in ``GREENBENCH_CASE``, makes the event pipe
its standard output (torchrun's ranks inherit it; greenbench.distributed_case takes it back
from there at once, so nothing the workload prints reaches it) and runs
``torch.distributed.run`` with ``greenbench.distributed_case`` as the ranks' module.

One node: torchrun's standalone rendezvous on a free port of 127.0.0.1, so that two runs never
meet by accident. Several nodes (``--nnodes M --node-rank R --master-addr A --master-port P``):
torchrun's static rendezvous at ``A:P``, every node running the same ``greenbench run``; node
0 hosts the rendezvous and stores the job's results, the others take part and say so.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from greenbench.errors import UserError

#: the case, as the worker's payload, for every rank
CASE_ENV = "GREENBENCH_CASE"
#: torchrun's default, for a job over several nodes
DEFAULT_MASTER_PORT = 29500
#: how often a node waits for node 0's rendezvous to come up, seconds
_RETRY_S = 0.2


def is_distributed(config: Any) -> bool:
    return getattr(config, "nproc_per_node", None) is not None


def check_placement(nproc_per_node: int, nnodes: int, node_rank: int, master_port: int,
                    job_timeout_s: float, device: str = "cpu",
                    gpus: Callable[[], int] | None = None) -> None:
    """One line for each placement that cannot work, before anything runs (``gpus``: how
    many CUDA devices this node has; torch's count by default)."""
    if nproc_per_node < 1:
        raise UserError(f"--nproc-per-node {nproc_per_node}: use 1 or more ranks per node")
    if device.startswith("cuda:"):
        raise UserError(f"--device {device} names one GPU, and with --nproc-per-node each rank "
                        "computes on its own (cuda:LOCAL_RANK): use --device cuda")
    if device == "cuda":
        count = gpus() if gpus is not None else _cuda_devices()
        if nproc_per_node > count:
            raise UserError(f"--nproc-per-node {nproc_per_node} with --device cuda: one GPU "
                            f"a rank, and this node has {count}")
    if nnodes < 1:
        raise UserError(f"--nnodes {nnodes}: use 1 or more nodes")
    if not 0 <= node_rank < nnodes:
        raise UserError(f"--node-rank {node_rank}: use 0 to {nnodes - 1} for --nnodes {nnodes}")
    if not 1 <= master_port <= 65535:
        raise UserError(f"--master-port {master_port}: use a TCP port from 1 to 65535")
    if job_timeout_s <= 0:
        raise UserError(f"--job-timeout {job_timeout_s:g}: use a positive number of seconds")


def _cuda_devices() -> int:
    import torch

    return int(torch.cuda.device_count())


def check_workloads(names: Sequence[str], registry: Any, world_size: int | None) -> None:
    """Refused in one line: a workload that does not declare itself distributed on more than
    one rank (it would run world_size times over, each copy alone), and a distributed one
    without ranks (``world_size`` None: no --nproc-per-node; its setup needs the job)."""
    for name in dict.fromkeys(names):
        distributed = registry.get(name).distributed
        if world_size is None and distributed:
            raise UserError(f"workload {name} is distributed: run it on the ranks of a job "
                            "with --nproc-per-node N (1 for a single rank)")
        if world_size is not None and world_size > 1 and not distributed:
            raise UserError(f"workload {name} is not distributed: it cannot run on "
                            f"{world_size} ranks (use one that is, such as transformer-ddp, "
                            "or leave out --nproc-per-node)")


def torchrun_args(config: Any) -> list[str]:
    """torchrun's command line for one case (see the module docstring)."""
    if config.nnodes == 1:
        placement = ["--standalone", "--nnodes", "1"]
    else:
        placement = ["--nnodes", str(config.nnodes), "--node-rank", str(config.node_rank),
                     "--master-addr", config.master_addr, "--master-port",
                     str(config.master_port),
                     "--rdzv-conf", f"timeout={max(1, round(config.job_timeout_s))}"]
    return [*placement, "--nproc-per-node", str(config.nproc_per_node), "--max-restarts", "0",
            "--monitor-interval", "0.1", "--module", "greenbench.distributed_case"]


def start(config: Any, env: dict[str, str], write_fd: int) -> subprocess.Popen[bytes]:
    """The case's launcher process, started as the runner starts a worker."""
    return subprocess.Popen(
        [sys.executable, "-m", "greenbench.distributed.launch", *torchrun_args(config)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        pass_fds=(write_fd,), env=env, start_new_session=True)


def wait_for_master(addr: str, port: int, timeout_s: float) -> None:
    """Node 0's rendezvous accepts connections at ``addr:port`` within ``timeout_s``, else a
    UserError in one line (a node > 0 would otherwise wait on an address that never answers)."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((addr, port), timeout=max(0.1, min(left, 2.0))):
                return
        except OSError as exc:
            last = exc.strerror or type(exc).__name__
        if time.monotonic() + _RETRY_S >= deadline:
            raise UserError(f"cannot reach node 0 at {addr}:{port} within {timeout_s:g} s "
                            f"({last}); is greenbench run --node-rank 0 running there, and "
                            "are --master-addr and --master-port right?")
        time.sleep(_RETRY_S)


def main(argv: Sequence[str]) -> int:
    from greenbench.lifeline import tie_to_parent

    tie_to_parent()
    os.environ[CASE_ENV] = sys.stdin.read()
    channel = int(os.environ.pop("GREENBENCH_WORKER_FD"))
    os.dup2(channel, 1)  # the ranks' inherited standard output is the event pipe
    os.close(channel)
    sys.stdout = sys.stderr  # torchrun's own messages, and this process's, go to stderr
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun(list(argv))
    except ChildFailedError as exc:
        died = died_ranks({rank: f.exitcode for rank, f in exc.failures.items()})
        if died:  # the cause: the ranks that report their own errors exit with 1
            line = json.dumps({"event": "error", "error": died}) + "\n"
            os.write(1, line.encode())
        return 1
    return 0


def died_ranks(exit_codes: Mapping[int, int]) -> str | None:
    """What ended a job whose ranks failed: the ranks that died (a signal, or an exit code
    other than the 1 of a rank that reported its error itself), or None. A rank that torchrun
    itself stopped with SIGTERM once another had died is a consequence, not a cause: it is
    named only when no rank died otherwise."""
    died, stopped = [], []
    for rank, code in sorted(exit_codes.items()):
        if code == -signal.SIGTERM:
            stopped.append(f"rank {rank} was killed by SIGTERM")
        elif code < 0:
            died.append(f"rank {rank} was killed by {signal.Signals(-code).name}")
        elif code != 1:
            died.append(f"rank {rank} exited with code {code}")
    died = died or stopped
    if not died:
        return None
    return (f"{'; '.join(died)} during the case, and the job stopped (its output is in the "
            "case's error detail)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
