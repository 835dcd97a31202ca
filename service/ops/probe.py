"""``python -m service.ops.probe``: exit 0 when the local service answers ``/healthz``.

The container's HEALTHCHECK runs it, so the image needs no curl. It reads the port from
``MCAS_BIND`` (as gunicorn does) and always asks the loopback interface.
"""

from __future__ import annotations

import os
import sys
import urllib.request

from service.ops.serving import DEFAULT_BIND


def probe_url(bind: str, path: str = "/healthz") -> str:
    first = bind.split(",")[0].strip()
    if first.startswith("unix:"):
        raise ValueError("the probe speaks TCP only; MCAS_BIND is a unix socket")
    port = first.rsplit(":", 1)[1] if ":" in first else "8000"
    return f"http://127.0.0.1:{port}{path}"


def main() -> int:
    url = probe_url(os.environ.get("MCAS_BIND", DEFAULT_BIND))
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - fixed http URL
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"health probe failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
