"""The README's Security section says what a refused token gets, as the service sends it."""

from __future__ import annotations

from pathlib import Path

from service import create_app

ROOT = Path(__file__).resolve().parents[2]


def _security_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Security", 1)[1].split("\n## ", 1)[0]


def test_readme_describes_the_body_of_a_refused_token(tmp_path: Path) -> None:
    """It said "a bare 401": the 401 has an OperationOutcome body."""
    app = create_app(
        {
            "TESTING": True,
            "AUTH_DISABLED": False,
            "PUBLIC_BASE_URL": "http://localhost",
            "DATA_DIR": str(tmp_path),
        }
    )
    refused = app.test_client().get("/cds-services")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    body = refused.get_json()
    assert body["resourceType"] == "OperationOutcome"
    (diagnostics,) = [issue["diagnostics"] for issue in body["issue"]]

    section = " ".join(_security_section().split())
    assert "bare" not in section
    assert "`WWW-Authenticate: Bearer`" in section
    assert f'OperationOutcome saying only "{diagnostics}"' in section
