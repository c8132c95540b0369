"""A small JSON-over-HTTP client for the loopback services: health checks and probes.

Standard library only, never raises, and never goes through a proxy, so a request meant for a
service on 127.0.0.1 reaches it whatever ``*_proxy`` says.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

# No proxy handler: every probe goes straight to the loopback server, whatever *_proxy says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(method: str, url: str, body: dict[str, Any] | None = None,
              auth: tuple[str, str] | None = None,
              timeout_s: float = 10.0) -> tuple[int | None, Any]:
    """(status, parsed JSON body or text); status None when no HTTP answer came. Never raises."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with _OPENER.open(req, timeout=timeout_s) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except (OSError, ValueError) as err:
        return None, f"{type(err).__name__}: {err}"
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text
