"""mcas-cds check against a server-to-server deployment: no CORS, as Epic or Oracle
backends call. CORS is then not tested, rather than failed, so check can gate such a
deployment in CI; an origin given explicitly must be allowed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.cli import main

Run = Callable[..., tuple[int, str, str]]
ISSUER = "https://ehr.test.invalid"


def _server_to_server(serve_app: Callable[..., Any], run_cli: Run, tmp_path: Path) -> str:
    """The real app verifying tokens (a `keys new` key), with no CORS origins at all."""
    assert run_cli("keys", "new", str(tmp_path / "keys"), "--iss", ISSUER)[0] == 0
    served = serve_app(
        {
            "AUTH_DISABLED": False,
            "TRUST_FILE": str(tmp_path / "keys" / "trust.yaml"),
            "REPLAY_CACHE": "memory",
            "CORS_ORIGINS": "",
        }
    )
    served.app.config["PUBLIC_BASE_URL"] = served.url  # the port is known only now
    return str(served.url)


def _check(run_cli: Run, url: str, fixtures_dir: Path, tmp_path: Path, *extra: str) -> tuple[
    int, dict[str, Any], str
]:
    report = tmp_path / "report.json"
    code, out, _ = run_cli(
        "check", url, "--fixtures-dir", str(fixtures_dir), "--json", str(report),
        "--key", str(tmp_path / "keys" / "private-key.pem"), "--iss", ISSUER, *extra,
    )
    data = json.loads(report.read_text())
    return code, {r["name"]: r for r in data["results"]}, out


def test_check_origin_none_skips_cors_on_a_server_to_server_deployment(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], tmp_path: Path
) -> None:
    url = _server_to_server(serve_app, run_cli, tmp_path)
    code, results, out = _check(run_cli, url, fixtures_dir, tmp_path, "--origin", "none")
    assert results["CORS preflight"]["status"] == "not tested"
    assert results["CORS preflight"]["detail"] == (
        "--origin none: CORS not checked (a server-to-server deployment)"
    )
    assert results["invalid tokens"]["status"] == "pass"
    assert code == 0, out


def test_check_reports_cors_not_tested_when_the_service_sends_no_cors_headers(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], tmp_path: Path
) -> None:
    url = _server_to_server(serve_app, run_cli, tmp_path)
    code, results, out = _check(run_cli, url, fixtures_dir, tmp_path)
    assert results["CORS preflight"]["status"] == "not tested", results["CORS preflight"]
    detail = results["CORS preflight"]["detail"]
    assert detail.startswith("the service sends no CORS headers for http://127.0.0.1:8080")
    assert "--origin ORIGIN" in detail
    assert code == 0, out


def test_check_an_origin_given_explicitly_must_be_allowed(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], tmp_path: Path
) -> None:
    """A browser-based EHR front end needs CORS: naming its origin makes CORS required."""
    url = _server_to_server(serve_app, run_cli, tmp_path)
    code, results, _ = _check(
        run_cli, url, fixtures_dir, tmp_path, "--origin", "https://ehr.example.org"
    )
    assert results["CORS preflight"]["status"] == "fail"
    assert "origin https://ehr.example.org not allowed" in results["CORS preflight"]["detail"]
    assert code == 1


def test_check_origin_must_be_an_origin_or_none(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        main(["check", "http://127.0.0.1:9", "--fixtures-dir", str(fixtures_dir),
              "--origin", "https://ehr.example.org/path"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--origin" in err and "'none'" in err
