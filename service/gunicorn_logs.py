"""gunicorn's logging as JSON lines on stdout, with an access log that leaks nothing.

``deploy/gunicorn.conf.py`` names :class:`JsonLogger` as its ``logger_class``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: what log collectors (Loki, Fluent Bit, CloudWatch) parse."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class JsonLogger(Logger):
    """gunicorn's logger with JSON lines on stdout and an access log without query strings.

    The access line keeps the method, the path (``PATH_INFO``: never the query string, which
    could carry a patient id), the status, the duration and the size; no headers, no body,
    no user agent. Successful probes and scrapes are left out: they come every few seconds.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = JsonLineFormatter()
        for log, target in ((self.error_log, cfg.errorlog), (self.access_log, cfg.accesslog)):
            for handler in list(log.handlers):
                if not getattr(handler, "_gunicorn", False):
                    continue
                if target == "-" and isinstance(handler, logging.StreamHandler):
                    # gunicorn sends "-" error logs to stderr; one stream is simpler to ship.
                    log.removeHandler(handler)
                    handler = logging.StreamHandler(sys.stdout)
                    handler._gunicorn = True  # type: ignore[attr-defined] - gunicorn's marker
                    log.addHandler(handler)
                handler.setFormatter(formatter)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.cfg.accesslog:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        status = int(status)
        path = environ.get("PATH_INFO", "")
        if status < 400 and path in QUIET_PATHS:
            return
        if status == 404:
            # An unknown path is whatever the client typed; it could hold anything.
            path = "(unmatched)"
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": path[:200],
            "status": status,
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "bytes": getattr(resp, "sent", None),
            "remote": environ.get("REMOTE_ADDR"),
        }
        self.access_log.info("request", extra={"json_fields": fields})
