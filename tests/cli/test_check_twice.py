"""`mcas-cds check` twice in a row against the same deployment passes both times (issue 14).

The check fires its fixtures and posts an ``overridden`` feedback on a card it was
answered. The fixtures' patients are test patients (``mcas-test-``), which are never
snoozed by default, so the second run gets the same cards as the first.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from service.scenarios.fixtures import FIXTURES_DIR
from service.storage.models import feedback, issued_cards
from tests.support.cli import LOCAL_MODE, ServedApp

FIXTURES = (
    "albuterol--fires--wheezing-no-albuterol.json",
    "tier-2--fires--bee-venom-code-three-days-after-anaphylaxis.json",
)


def test_check_twice_passes_both_times(
    run_cli: Callable[..., tuple[int, str, str]],
    serve_app: Callable[..., ServedApp],
    tmp_path: Path,
) -> None:
    library = tmp_path / "fixtures"
    library.mkdir()
    for name in FIXTURES:
        shutil.copy(FIXTURES_DIR / name, library / name)
    served = serve_app({**LOCAL_MODE, "DATA_DIR": str(tmp_path / "data")})

    for _ in range(2):
        code, out, _err = run_cli(
            "check", "--verbose", served.url, "--fixtures-dir", str(library)
        )
        assert code == 0, out
        assert "HTTP 200 for 'overridden' on a card it answered" in out
        assert out.strip().splitlines()[-1] == "5 passed, 0 failed, 1 not tested"

    engine = served.app.extensions["mcas_storage"].engine()
    with engine.connect() as connection:
        cards = list(connection.execute(select(issued_cards)))
        answers = list(connection.execute(select(feedback)))
    # Both runs' overrides were stored, on test patients' cards, and nothing was snoozed.
    assert [a.outcome for a in answers] == ["overridden", "overridden"]
    assert all(a.test for a in answers)
    assert cards and all(c.test and c.status == "issued" for c in cards)


def test_with_test_patients_snoozed_the_second_check_fails(
    run_cli: Callable[..., tuple[int, str, str]],
    serve_app: Callable[..., ServedApp],
    tmp_path: Path,
) -> None:
    """What the default protects against: with MCAS_SNOOZE_TEST_PATIENTS the first run's
    override snoozes a fixture's card, and the second run misses it."""
    library = tmp_path / "fixtures"
    library.mkdir()
    for name in FIXTURES:
        shutil.copy(FIXTURES_DIR / name, library / name)
    served = serve_app(
        {**LOCAL_MODE, "DATA_DIR": str(tmp_path / "data"), "SNOOZE_TEST_PATIENTS": True,
         "SNOOZE_READ_BUDGET_MS": 2000}  # a loaded test machine: the read gets time
    )
    first, _, _ = run_cli("check", served.url, "--fixtures-dir", str(library))
    second, out, _ = run_cli("check", served.url, "--fixtures-dir", str(library))
    assert (first, second) == (0, 1), out
    assert "1 failed" in out
