"""GET /admin: the administrator page, server-rendered, over the JSON API.

The page itself holds no data and needs no credential: the administrator types the
token, the page keeps it in ``sessionStorage`` (gone when the tab closes) and sends it as
a bearer header to /admin/api/thresholds. No cookie carries it, so a forged cross-site
request has nothing to ride on (no CSRF), and the strict CSP allows only this origin's
script.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, send_from_directory

from service.cards_html import STYLESHEET
from service.web.thresholds_fields import fields_info


class _PageBlueprint(Blueprint):
    """Serves static/ and, at the same /admin/static/, the cards' stylesheet
    (service/cards_html/static/cards.css), with which the preview draws cards: one
    stylesheet for the cards wherever they are drawn, from this origin as the CSP wants."""

    def send_static_file(self, filename: str) -> Response:
        if filename == STYLESHEET.name:
            return send_from_directory(
                STYLESHEET.parent, filename, max_age=self.get_send_file_max_age(filename))
        return super().send_static_file(filename)


bp = _PageBlueprint(
    "admin_page",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/admin/static",
)

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@bp.get("/admin")
@bp.get("/admin/")
def page() -> Response:
    response = Response(render_template("admin.html", fields=fields_info()))
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_request
def _static_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
