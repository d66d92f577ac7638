"""Errors that the CLI reports as one line on stderr, with a non-zero exit status."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the operator: a flag, a file, a URL, a server that cannot be reached."""
