"""The administrator guard, checking the credential of service/auth/admin_token.py.

``@require_admin`` guards administrator routes (the feedback report now, the thresholds
API next). Without ``MCAS_ADMIN_TOKEN`` those routes answer 503: administration is off
rather than open. The token is compared in constant time and never logged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, request

from service.auth.admin_token import admin_token_matches
from service.web.errors import outcome_response

F = TypeVar("F", bound=Callable[..., Any])


def admin_denial() -> Response | None:
    """The response refusing this request, or None when it carries the admin token."""
    expected = current_app.config.get("ADMIN_TOKEN")
    if not expected:
        return outcome_response(
            503, "Administrator access is not configured on this service (MCAS_ADMIN_TOKEN)."
        )
    if not admin_token_matches(request.headers.get("Authorization"), expected):
        response = outcome_response(401, "An administrator bearer token is required.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="mcas-cds-admin"'
        return response
    return None


def require_admin(view: F) -> F:
    """Guard one view."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        denial = admin_denial()
        return denial if denial is not None else view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def protect_blueprint(blueprint: Blueprint) -> Blueprint:
    """Guard every route of an administrator blueprint (API and pages alike)."""
    blueprint.before_request(admin_denial)
    return blueprint
