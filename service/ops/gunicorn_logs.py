"""gunicorn's logging as JSON lines, in the same shape and on the same stream as the
service's own (service/ops/request_log.py): one stream of one format for the log collector.

``deploy/gunicorn.conf.py`` names :class:`JsonLogger` as its ``logger_class``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

from gunicorn.glogging import Logger

from service.ops.request_log import JsonLineFormatter

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class GunicornJsonFormatter(JsonLineFormatter):
    """The service's line format, plus the fields of an access line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "access", None)
        if not isinstance(fields, dict):
            return super().format(record)
        line = json.loads(super().format(record))
        line.update(fields)
        return json.dumps(line, ensure_ascii=False, default=str)


class JsonLogger(Logger):
    """gunicorn's logger with JSON lines on stderr and an access log that leaks nothing.

    The access line (off by default: the service logs every request itself, with its
    route and hookInstance) keeps the method, the path (``PATH_INFO``: never the query
    string), the status, the duration and the size; no headers, no body, no user agent.
    Successful probes and scrapes are left out: they come every few seconds.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = GunicornJsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not getattr(handler, "_gunicorn", False):
                    continue
                if isinstance(handler, logging.StreamHandler) and not isinstance(
                    handler, logging.FileHandler
                ):
                    handler.setStream(sys.stderr)
                handler.setFormatter(formatter)

    def access(
        self, resp: Any, req: Any, environ: MutableMapping[str, Any], request_time: Any
    ) -> None:
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
        }
        self.access_log.info("request", extra={"access": fields})
