"""greenbench's optional parts (pip extras), and the one-line error when one is missing.

The plain ``pip install greenbench`` measures, runs, compares and gates; CodeCarbon's tables
(``carbon``), figures (``plots``) and the built-in workloads (``torch``) are extras. What needs
one asks :func:`require` (or raises :func:`missing`) so that the user reads which to install,
not a traceback.
"""

from __future__ import annotations

import importlib.util

from greenbench.errors import UserError


class MissingExtra(UserError):
    """A feature needs an optional dependency that is not installed."""


def missing(feature: str, module: str, extra: str, otherwise: str = "") -> MissingExtra:
    """``greenbench plot needs matplotlib: pip install 'greenbench[plots]'``, and what else
    the user can do when there is something (``otherwise``)."""
    also = f", or {otherwise}" if otherwise else ""
    return MissingExtra(f"{feature} needs {module}: pip install 'greenbench[{extra}]'{also}")


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(feature: str, module: str, extra: str, otherwise: str = "") -> None:
    """Raise :class:`MissingExtra` unless ``module`` is installed."""
    if not installed(module):
        raise missing(feature, module, extra, otherwise)
