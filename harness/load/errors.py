"""Errors of the load stage by kind: what a platform engineer searches their logs for."""

from __future__ import annotations

import re

# (kind, pattern in the error text), first match wins. The server's own words come first: a
# 500 that says "database is locked" is SQLite's writer lock, not a generic server error.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("database is locked", re.compile(r"database is locked|SQLITE_BUSY", re.I)),
    ("out of connections", re.compile(
        r"too many (clients|connections)|remaining connection slots|QueuePool limit", re.I)),
    ("timeout", re.compile(r"time[d ]?out", re.I)),
    ("connection refused", re.compile(r"refused", re.I)),
    ("connection reset", re.compile(r"reset by peer|RemoteDisconnected|BrokenPipe|"
                                    r"ConnectionAbortedError|Connection aborted", re.I)),
)
_STATUS = re.compile(r"HTTP (\d{3})")


def error_kind(text: str) -> str:
    """The kind of one error message: a named failure, else ``HTTP <status>``, else other."""
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    if match := _STATUS.search(text):
        return f"HTTP {match.group(1)}"
    return "other: " + text[:80]
