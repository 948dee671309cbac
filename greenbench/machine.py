"""What a result was measured on: the machine and the software, recorded with every run.

The machine ``key`` identifies "the same machine" for comparisons: host name, CPU model and
count, and GPU models. Two results with different keys are not compared without being told.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from greenbench import __version__


def describe_machine() -> dict[str, Any]:
    import psutil

    from greenbench.sensors import amdgpu, nvml
    from greenbench.sensors.cpu_tdp import cpu_model_name

    gpus = nvml.gpu_facts() + amdgpu.gpu_facts()
    facts: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model_name(),
        "cpu_logical": os.cpu_count(),
        "cpu_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 2),
        "gpus": gpus,
        "os": platform.platform(),
        "machine": platform.machine(),
    }
    ident = "|".join(
        [facts["hostname"], facts["cpu_model"], str(facts["cpu_logical"]),
         ",".join(str(g.get("name")) for g in gpus)]
    )
    facts["key"] = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return facts


def describe_software(cwd: str | Path | None = None) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "greenbench": __version__,
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "codecarbon": _version("codecarbon"),
        "nvidia-ml-py": _version("nvidia-ml-py"),
        "git_commit": git_commit(cwd),
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
    }


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The commit of the working directory (with ``-dirty`` when changed), or None."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=cwd, capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
