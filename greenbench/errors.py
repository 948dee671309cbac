"""Errors a user can act on. The CLI prints them as one line and exits non-zero, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix; the message says what to do."""

    exit_code = 2
