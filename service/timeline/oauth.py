"""Authorization code with PKCE (S256) and ``state``, by Authlib's ``OAuth2Session``.

``authorization_url`` builds the redirect to the EHR's authorization server with the
SMART extra parameters ``launch`` and ``aud`` (the FHIR base URL, ``iss``);
``exchange_code`` trades the code for the token response, which must name the patient.
The token response is returned to the caller to keep server-side; nothing here logs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from service.timeline.errors import TimelineError


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str | None
    redirect_uri: str
    scope: str


@dataclass(frozen=True)
class Granted:
    access_token: str
    patient: str
    expires_in: int | None


def new_code_verifier() -> str:
    """A PKCE code verifier: 64 characters of the unreserved set (RFC 7636: 43-128)."""
    return str(generate_token(64))


def _session(client: Client) -> OAuth2Session:
    session = OAuth2Session(
        client.client_id,
        client.client_secret,
        token_endpoint_auth_method="client_secret_basic" if client.client_secret else "none",
        scope=client.scope,
        redirect_uri=client.redirect_uri,
        code_challenge_method="S256",
    )
    session.trust_env = False
    return session


def authorization_url(
    client: Client,
    *,
    authorization_endpoint: str,
    state: str,
    code_verifier: str,
    launch: str,
    aud: str,
) -> str:
    with _session(client) as session:
        url, _ = session.create_authorization_url(
            authorization_endpoint,
            state=state,
            code_verifier=code_verifier,
            launch=launch,
            aud=aud,
        )
    return f"{url}"


def exchange_code(
    client: Client, *, token_endpoint: str, code: str, code_verifier: str, timeout: float
) -> Granted:
    try:
        with _session(client) as session:
            token: dict[str, Any] = session.fetch_token(
                token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                timeout=(timeout, timeout),
                allow_redirects=False,
            )
    except requests.Timeout:
        raise TimelineError(
            "token_timeout",
            "The EHR's authorization server did not answer in time. Launch the app again.",
            504,
        ) from None
    except requests.RequestException:
        raise TimelineError(
            "token_unreachable",
            "The EHR's authorization server could not be reached. Launch the app again.",
            502,
        ) from None
    except (AuthlibBaseError, ValueError):
        raise TimelineError(
            "token_refused",
            "The EHR's authorization server refused to issue an access token for this "
            "launch. Launch the app again from the patient's chart.",
            502,
        ) from None
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TimelineError(
            "token_refused", "The EHR's authorization server sent no access token.", 502
        )
    patient = token.get("patient")
    if not isinstance(patient, str) or not patient.strip():
        raise TimelineError(
            "no_patient",
            "The EHR launched the app without a patient in context. Open a patient's chart "
            "and launch the timeline from there.",
            400,
        )
    expires_in = token.get("expires_in")
    return Granted(
        access_token=access_token,
        patient=patient.strip(),
        expires_in=int(expires_in) if isinstance(expires_in, int | float) else None,
    )
