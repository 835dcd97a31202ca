"""The timeline app: the MCAS course on one picture, a SMART on FHIR app (docs/timeline.md).

No Flask here (service/web/timeline.py is its HTTP side). The pieces, in the order of a
launch:

- ``smart.py``: SMART App Launch 2.0 discovery (``<iss>/.well-known/smart-configuration``);
- ``oauth.py``: authorization code with PKCE (S256) and ``state``, with Authlib;
- ``store.py``: launches under way and sessions in the service's database, expiring and
  purged, the token encrypted (``sealing.py``), never sent to the browser;
- ``course.py``: the record read with the hooks' FHIR client, facts and rules;
- ``picture.py``: the course drawn as SVG (matplotlib) and as a table.
"""

from __future__ import annotations

from service.settings import Setting, parse_bool


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


def _minutes(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 24 * 60:
        raise ValueError(f"expected minutes between 1 and 1440, got {raw!r}")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "TIMELINE_ENABLED",
        False,
        parse_bool,
        "Serve the timeline SMART app under `/timeline` and put its `smart` link (\"MCAS "
        "timeline\") on every patient-view card. Off until a site has registered the app "
        "with its EHR (docs/timeline.md). Needs `MCAS_SECRET_KEY` and "
        "`MCAS_TIMELINE_CLIENT_ID`; the EHR's FHIR server must be in "
        "`MCAS_FHIR_ALLOWED_SERVERS`.",
    ),
    Setting(
        "SECRET_KEY",
        None,
        str,
        "Secret (at least 32 characters) keying the timeline's stored sessions and OAuth "
        "state and encrypting the access tokens kept server-side. Required when "
        "`MCAS_TIMELINE_ENABLED=true`; the same on every replica (a session begun on one is "
        "read on another). Changing it ends every timeline session. Keep it in a Secret.",
    ),
    Setting(
        "TIMELINE_CLIENT_ID",
        None,
        str,
        "The client id the EHR's authorization server issued when the timeline app was "
        "registered (docs/timeline.md).",
    ),
    Setting(
        "TIMELINE_CLIENT_SECRET",
        None,
        str,
        "Client secret, only for an EHR that registered the app as a confidential client "
        "(sent with HTTP Basic to the token endpoint). Empty: a public client (PKCE only).",
    ),
    Setting(
        "TIMELINE_SCOPES",
        None,
        str,
        "Space-separated scopes the app asks for. Default: `launch openid fhirUser` and "
        "`patient/<Type>.rs` for each resource type the hooks read (Condition, Observation, "
        "MedicationRequest, MedicationStatement, and the optional administration and "
        "dispense types when the rules read them).",
    ),
    Setting(
        "TIMELINE_SESSION_MINUTES",
        60,
        _minutes,
        "Longest life of a timeline session (never longer than its access token). Expired "
        "sessions are purged from the database.",
    ),
    Setting(
        "TIMELINE_LAUNCH_MINUTES",
        10,
        _minutes,
        "How long a launch may wait for the authorization server's answer (the OAuth "
        "`state`); then it is purged and the clinician launches again.",
    ),
    Setting(
        "TIMELINE_HTTP_TIMEOUT",
        5.0,
        _positive_float,
        "Seconds to wait for the EHR's SMART configuration and token endpoint.",
    ),
    Setting(
        "TIMELINE_FHIR_DEADLINE",
        10.0,
        _positive_float,
        "Seconds reading the record for one picture may take (all searches, all pages); "
        "the same FHIR client and timeouts as the hooks' fallback.",
    ),
    Setting(
        "TIMELINE_FRAME_ANCESTORS",
        "'none'",
        str,
        "The `frame-ancestors` of the timeline pages' Content-Security-Policy: `'none'`, "
        "or the EHR origins allowed to embed the app in a frame (space-separated).",
    ),
)
