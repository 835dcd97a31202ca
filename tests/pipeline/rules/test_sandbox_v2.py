"""The CDS Hooks Sandbox's recorded patient-view call under rules v2.

Evaluated at the recording instant, 2026-11-25T11:44:40Z (tests/real_clients/
cds-hooks-sandbox/README.md), with the default thresholds. Claire Hartley, 39, idiopathic
MCAS (D89.42, confirmed):
- cetirizine since 2026-05-09 and famotidine since 2026-06-28 (statements; loratadine
  stopped): tier 1 complete since 2026-06-28, 150 days (>= 28);
- anaphylaxis T78.2XXA on 2026-08-21 18:40Z and 2026-10-22 13:15Z: unexplained, confirmed,
  both after the response onset (2026-07-05) and inside the 180-day lookback, the second
  within the last 90 days: 2 counted episodes, refractory on tier 1 -> tier-2;
- wheezing R06.2 on 2026-09-25 (no asthma/COPD): 1 respiratory event, not enough on its
  own; a bronchospasm event in the lookback and no albuterol -> albuterol;
- tryptase 14.3 ng/mL 1.4 h after the first onset (acute: 1 h before to 4 h after) with
  the nearest eligible baseline 6.1 (2025-11-25): 14.3 > 1.2 x 6.1 + 2 = 9.32, and LTE4
  180 pg/mg{creat} (> 104) collected 17.5 h after that onset: objective mediator evidence,
  so no mediator-evidence card; LTE4 elevated puts a leukotriene modifier first;
- the epinephrine auto-injector order is active (as needed is still active for the rescue
  card): no epinephrine-autoinjector card. No aspirin, steroid, ranitidine or biologic.
"""

from __future__ import annotations

from datetime import UTC, datetime

from service.cdshooks.envelope import load_hook_request
from service.pipeline.hook import run_hook
from tests.support.fhir_builders import KNOWLEDGE, thresholds
from tests.support.paths import load_recording

RECORDED_AT = datetime(2026, 11, 25, 11, 44, 40, tzinfo=UTC)


def test_the_recorded_sandbox_call_gives_tier2_and_albuterol_under_rules_v2() -> None:
    request = load_hook_request(load_recording("hook-request.json")["body"])
    result = run_hook(request, knowledge=KNOWLEDGE, thresholds=thresholds(), now=RECORDED_AT)

    assert result.topics == ["tier-2", "albuterol"]
    tier2, albuterol = result.cards
    assert all(c["extension"]["org.mcas-cds.rules-version"] == "2" for c in result.cards)
    detail = tier2["detail"]
    assert "since 2026-06-28: 150 days" in detail
    assert "anaphylaxis episode(s) from 2026-07-05" in detail
    assert "2026-08-21: Anaphylaxis (T78.2XXA)" in detail
    assert "2026-10-22: Anaphylaxis (T78.2XXA)" in detail
    assert "acute (1.4 h after the onset" in detail
    assert "Tryptase 6.1 ng/mL, 2025-11-25: baseline" in detail
    assert "a leukotriene modifier is proposed first" in detail
    assert "2026-09-25: Wheezing (R06.2)" in albuterol["detail"]
    assert result.skipped_resources == 0 and result.unavailable == {}
