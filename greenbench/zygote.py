"""A pre-imported parent for worker processes: each case still runs in a fresh process, forked
from one that has already imported greenbench and torch.

Importing torch costs 1.5-3 s of CPU on a 2-core machine, in every worker: a third of the
quick suite's wall time went to imports. The zygote imports once per run and forks a worker
per case. The worker is as fresh as before for what matters to a measurement: the zygote never
runs a workload, initialises CUDA, probes a sensor or starts a thread (libgomp and CUDA are
not fork-safe once used), so no case's allocator, JIT or device state reaches another.

The runner talks to the zygote over a Unix socket: a request carries the case's environment
and three descriptors (stdin, stderr, the event pipe, passed with SCM_RIGHTS); the zygote
answers with the worker's pid and, when it ends, its exit status. :class:`Worker` gives the
runner what it used from ``subprocess.Popen``: ``pid``, ``stdin``, ``stderr``, ``poll``,
``wait`` and ``returncode``. Where fork or the socket is not available, the runner starts
workers as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from typing import IO

#: the zygote's first line, once it has imported everything; it then answers a request with
#: ``pid N`` and reports each worker's end as ``exit N CODE``
_READY = b"ready\n"
#: how long the zygote may take to import everything before the runner gives up on it
START_TIMEOUT_S = 120.0


class ZygoteError(RuntimeError):
    """The zygote could not start or fork: the runner starts the worker itself."""


class Zygote:
    """One pre-imported zygote process for a run; ``spawn`` forks a worker from it."""

    def __init__(self, argv: list[str], env: Mapping[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock = ours
        self._buf = b""
        self._exits: dict[int, int] = {}
        # with the current directory off sys.path, as for any worker (Python 3.10 has no -P)
        code = ("import sys\nif sys.path[:1] == ['']: del sys.path[0]\n"
                f"from greenbench.zygote import serve\nserve({theirs.fileno()})")
        self.proc = subprocess.Popen(
            [*argv, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), env=dict(env),
            start_new_session=True)
        theirs.close()
        try:
            ready = self._line(START_TIMEOUT_S) == _READY.strip()
        except (OSError, TimeoutError):
            ready = False
        if not ready:
            self.close()
            raise ZygoteError("the worker zygote did not start")

    def spawn(self, env: Mapping[str, str], event_fd: int) -> Worker:
        """Fork a worker whose stdin, stderr and event pipe are new pipes / ``event_fd``."""
        stdin_r, stdin_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        try:
            header = json.dumps({"env": dict(env)}).encode()
            socket.send_fds(self._sock, [len(header).to_bytes(4, "big") + header],
                            [stdin_r, stderr_w, event_fd])
            answer = self._line(10.0)
        except OSError as e:
            raise ZygoteError(f"the worker zygote is gone: {e}") from e
        finally:
            os.close(stdin_r)
            os.close(stderr_w)
        if not answer.startswith(b"pid "):
            os.close(stdin_w)
            os.close(stderr_r)
            raise ZygoteError(f"the worker zygote answered {answer!r}")
        return Worker(self, int(answer.split()[1]), os.fdopen(stdin_w, "wb"),
                      os.fdopen(stderr_r, "rb"))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()

    def exit_code(self, pid: int, timeout_s: float | None) -> int | None:
        """The worker's exit code once the zygote has reaped it (negative: killed by that
        signal), waiting up to ``timeout_s`` (None: until it comes)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while pid not in self._exits:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                line = self._line(left)
            except TimeoutError:
                return None
            except OSError:  # the zygote died: its workers died with it
                return self._exits.setdefault(pid, -9)
            if line.startswith(b"exit "):
                _, who, code = line.split()
                self._exits[int(who)] = int(code)
        return self._exits[pid]

    def _line(self, timeout_s: float | None) -> bytes:
        while b"\n" not in self._buf:
            self._sock.settimeout(timeout_s)
            try:
                chunk = self._sock.recv(4096)
            except (TimeoutError, BlockingIOError):
                raise TimeoutError from None
            if not chunk:
                raise OSError("the worker zygote closed its socket")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line


class Worker:
    """A forked worker, as much of ``subprocess.Popen`` as the runner uses."""

    def __init__(self, zygote: Zygote, pid: int, stdin: IO[bytes], stderr: IO[bytes]) -> None:
        self._zygote = zygote
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.stderr: IO[bytes] | None = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.exit_code(self.pid, 0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._zygote.exit_code(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
        return self.returncode


@contextlib.contextmanager
def zygote_or_none(argv: list[str], env: Mapping[str, str]) -> Iterator[Zygote | None]:
    """A zygote for the run, or None where one cannot be had (no fork, no SCM_RIGHTS)."""
    if not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
        yield None
        return
    try:
        z = Zygote(argv, env)
    except (ZygoteError, OSError):
        yield None
        return
    try:
        yield z
    finally:
        z.close()


# -- the zygote's side ------------------------------------------------------------------------


def serve(fd: int) -> None:
    """The zygote's main loop: import, say ready, fork a worker per request, report exits.

    Single-threaded (a fork from a threaded process may copy a held lock), and asleep between
    events: a child's exit wakes it through SIGCHLD, so it costs nothing while a case runs.
    """
    import signal

    from greenbench.lifeline import tie_to_parent

    tie_to_parent()  # gone with the runner, and its workers with it
    _preload()
    sock = socket.socket(fileno=fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "request")
    sel.register(wake_r, selectors.EVENT_READ, "child")
    sock.sendall(_READY)
    children: set[int] = set()
    while True:
        for key, _ in sel.select():
            if key.data == "child":
                os.read(wake_r, 4096)
                continue
            try:
                request = _receive(sock)
            except (OSError, ValueError):
                request = None
            if request is None:  # the runner is done: end what is left and leave
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                os._exit(0)
            env, fds = request
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for f in (wake_r, wake_w):
                    os.close(f)
                sock.close()
                _become_worker(env, fds)  # never returns
            for f in fds:
                os.close(f)
            children.add(pid)
            sock.sendall(f"pid {pid}\n".encode())
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                sock.sendall(f"exit {pid} {os.waitstatus_to_exitcode(status)}\n".encode())


def _preload() -> None:
    """Import what every worker imports; never run, probe or initialise anything."""
    import greenbench.protocol  # noqa: F401
    import greenbench.sensors.registry  # noqa: F401
    import greenbench.worker  # noqa: F401
    from greenbench.sensors import cpu_tdp

    cpu_tdp.load_cpu_power_table()  # data only
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401

        # Every torch optimizer imports dynamo when it is built (1.5 s on a 2-core CPU, paid
        # by each training case's worker otherwise); importing it starts no thread.
        import torch._dynamo  # noqa: F401


def _receive(sock: socket.socket) -> tuple[dict[str, str], list[int]] | None:
    msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 3)
    if not msg:
        return None
    size = int.from_bytes(msg[:4], "big")
    body = msg[4:]
    while len(body) < size:
        more = sock.recv(size - len(body))
        if not more:
            return None
        body += more
    return json.loads(body)["env"], list(fds)


def _become_worker(env: dict[str, str], fds: list[int]) -> None:
    from greenbench.lifeline import ENV_PARENT_PID

    stdin_fd, stderr_fd, event_fd = fds
    code = 1
    try:
        os.setsid()  # its own session, as the runner's Popen gave it
        os.dup2(stdin_fd, 0)
        os.dup2(stderr_fd, 2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        for f in (stdin_fd, stderr_fd, devnull):
            os.close(f)
        os.environ.clear()
        os.environ.update(env)
        os.environ["GREENBENCH_WORKER_FD"] = str(event_fd)
        os.environ[ENV_PARENT_PID] = str(os.getppid())  # the zygote: it dies with the runner
        from greenbench.worker import main

        code = main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # reported on stderr, as an uncaught error in a worker would be
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)

