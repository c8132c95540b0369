"""Offline guard, installed at interpreter start in every Python process of a cell.

An audit hook (PEP 578) sees each socket event before it happens. An attempt to reach a
non-loopback address (a connect, a datagram, a name resolution that would ask DNS) is appended as
one JSON line to the file named by ``TRACKBENCH_NETGUARD_LOG`` and then blocked with the error an
offline machine gives (``ENETUNREACH``; ``gaierror`` for names). Loopback, the machine's own
hostname, unix sockets and other non-inet families pass untouched. Stdlib only, and cheap: any
event that is not a socket event returns after one set lookup.

A ``sitecustomize`` found later on ``sys.path`` (the user's own) is run afterwards, not lost.
"""

from __future__ import annotations

import os
import sys

LOG_VAR = "TRACKBENCH_NETGUARD_LOG"
_ADDRESS_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_NAME_EVENTS = frozenset({"socket.getaddrinfo", "socket.gethostbyname",
                          "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.getnameinfo"})
_EVENTS = _ADDRESS_EVENTS | _NAME_EVENTS
_LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def kind(host: object) -> str:
    """'local' (loopback, unspecified, local names), 'ip' (other address), 'name' (needs DNS)."""
    if host is None:
        return "local"
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = str(host).strip().lower().rstrip(".").strip("[]").split("%")[0]
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return "local"
    import ipaddress
    import socket

    try:
        ip = ipaddress.ip_address(name)
    except ValueError:  # the own hostname resolves from /etc/hosts, not DNS
        return "local" if name == socket.gethostname().lower() else "name"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return "local" if ip.is_loopback or ip.is_unspecified else "ip"


def _target(event: str, args: tuple) -> tuple[object, object] | None:
    """(host, port) an event would reach off the machine, or None when nothing leaves it."""
    import socket

    if event in _ADDRESS_EVENTS:
        sock, address = args[0], args[1]
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or not address:
            return None
        host, port = address[0], address[1]
        return None if kind(host) == "local" else (host, port)
    if event == "socket.getaddrinfo":
        host, port = args[0], args[1]
    elif event == "socket.getnameinfo":
        host, port = args[0][0], args[0][1]
    else:
        host, port = args[0], None
    found = kind(host)
    # Resolving a literal address asks no one; a reverse lookup of one asks DNS.
    reverse = event in ("socket.gethostbyaddr", "socket.getnameinfo")
    return (host, port) if found == "name" or (found == "ip" and reverse) else None


def _record(log: str, event: str, host: object, port: object) -> None:
    import json
    import time

    argv0 = sys.argv[0] if getattr(sys, "argv", None) else ""
    line = json.dumps({
        "t": time.time(), "pid": os.getpid(), "process": os.path.basename(argv0) or "python",
        "event": event, "host": str(host), "port": port if isinstance(port, int) else (
            None if port is None else str(port)), "blocked": True,
    }) + "\n"
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())  # one O_APPEND write: lines of concurrent processes stay whole
    finally:
        os.close(fd)


def install(log: str) -> None:
    """Record and block every non-loopback socket event of this process (and its forks)."""

    def hook(event: str, args: tuple) -> None:
        if event not in _EVENTS:
            return
        target = _target(event, args)
        if target is None:
            return
        _record(log, event, *target)
        import errno
        import socket

        what = f"{target[0]}:{target[1]}" if target[1] is not None else str(target[0])
        if event in _NAME_EVENTS:
            raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known: {what} "
                                  "(offline: blocked by trackbench)")
        raise OSError(errno.ENETUNREACH, f"Network is unreachable: {what} "
                      "(offline: blocked by trackbench)")

    sys.addaudithook(hook)


def _chain_user_sitecustomize() -> None:
    """Run the next ``sitecustomize`` on sys.path, as Python would have without this one."""
    from importlib.machinery import PathFinder
    from importlib.util import module_from_spec

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(module_from_spec(spec))


if __name__ == "sitecustomize":
    if os.environ.get(LOG_VAR):
        install(os.environ[LOG_VAR])
    _chain_user_sitecustomize()
