"""A site's overlay over cards/ (MCAS_CARDS_OVERLAY): merged, validated, refused clearly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from service import create_app
from service.cdshooks.envelope import load_hook_request
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.knowledge.model import KnowledgeError
from service.knowledge.overlay import CardsFiles, merge, overlay_paths
from service.pipeline.hook import run_hook
from service.scenarios.fixtures import FIXTURES_DIR, load_fixture
from tests.support.cards_folder import copy_cards, edit

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "cards-overlay.example.yaml"
SITE_CODE = "site-example-0001"
# An auto-injector ordered by a product code only (the display names no drug): the
# epinephrine card fires unless the site's overlay tells the service what the code is.
AUTOINJECTOR_FIXTURE = "epinephrine-autoinjector--does-not-fire--product-code"


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def site_product_overlay(tmp_path: Path) -> Path:
    return write(tmp_path, f"""
drugs:
  drugs:
    epinephrine:
      products:
        - {{code: "{SITE_CODE}", display: "0.3 ML Auto-Injector", status: V1}}
""")


def knowledge_with(cards_dir: Path, *overlays: Path) -> Any:
    return load_knowledge(CardsFiles(cards_dir, overlays))


def autoinjector_request() -> dict[str, Any]:
    fixture = load_fixture(FIXTURES_DIR / f"{AUTOINJECTOR_FIXTURE}.json")
    request = copy.deepcopy(fixture.request)
    for entry in request["prefetch"]["medicationRequests"]["entry"]:
        concept = entry["resource"]["medicationCodeableConcept"]
        if concept["coding"][0]["code"] == "1870230":
            concept["coding"] = [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                  "code": SITE_CODE, "display": "0.3 ML Auto-Injector"}]
            concept["text"] = "0.3 ML Auto-Injector"
    return {"request": request, "now": fixture.evaluated_at}


def topics_for(app: Any, request: dict[str, Any]) -> set[str]:
    state = app.extensions["mcas"]
    result = run_hook(load_hook_request(request["request"]), knowledge=state.knowledge,
                      thresholds=state.thresholds(), now=request["now"])
    return set(result.topics)


def test_a_site_product_code_is_read_as_that_drug(tmp_path: Path) -> None:
    overlay = site_product_overlay(tmp_path)
    knowledge = knowledge_with(bundled_cards_dir(), overlay)
    assert knowledge.drugs.codes[SITE_CODE][0] == ("epinephrine",)
    # The bundled product codes are still there: the list was appended to.
    assert knowledge.drugs.codes["1870230"][0] == ("epinephrine",)


def test_the_app_reads_the_overlay_setting_and_the_card_follows(tmp_path: Path) -> None:
    request = autoinjector_request()
    plain = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    assert "epinephrine-autoinjector" in topics_for(plain, request)

    overlay = site_product_overlay(tmp_path)
    site = create_app({"TESTING": True, "DATA_DIR": str(tmp_path),
                       "CARDS_OVERLAY": str(overlay)})
    assert "epinephrine-autoinjector" not in topics_for(site, request)
    # Operators see that an overlay is in force (docs/operations.md, Metrics).
    scraped = site.test_client().get("/metrics").get_data(as_text=True)
    assert "\nmcas_cards_overlay_files 1.0\n" in scraped


def test_the_environment_variable_names_several_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = site_product_overlay(tmp_path)
    second = write(tmp_path, "cards:\n  reminder: Our own reminder.\n", "second.yaml")
    monkeypatch.setenv("MCAS_CARDS_OVERLAY", f"{first}, {second}")
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    knowledge = app.extensions["mcas"].knowledge
    assert SITE_CODE in knowledge.drugs.codes
    assert knowledge.cards.reminder == "Our own reminder."


def test_a_site_code_set_entry_and_a_confirmed_code_are_read(tmp_path: Path) -> None:
    # The referral code of cards-content's cards.yaml is merged the same way (any file).
    overlay = write(tmp_path, """
codes:
  condition_sets:
    mcas:
      icd10cm:
        exact: [D89.41]          # already bundled: not listed twice
      snomed:
        exact: ["site-example-snomed-1"]
drugs:
  drugs:
    levocetirizine:
      rxnorm: {site_confirmed: true}
""")
    knowledge = knowledge_with(bundled_cards_dir(), overlay)
    mcas = knowledge.condition_sets["mcas"]
    assert "site-example-snomed-1" in mcas.snomed
    bundled = load_knowledge(bundled_cards_dir()).condition_sets["mcas"]
    assert bundled.snomed < mcas.snomed and mcas.icd10_exact == bundled.icd10_exact
    assert knowledge.drugs.codes["356887"][0] == ("levocetirizine",)
    assert "356887" not in load_knowledge(bundled_cards_dir()).drugs.codes


def test_the_documented_example_loads_and_does_what_it_says(tmp_path: Path) -> None:
    knowledge = knowledge_with(bundled_cards_dir(), EXAMPLE)
    assert knowledge.drugs.codes[SITE_CODE][0] == ("famotidine",)
    assert knowledge.cards.topics["tier-1"].links[-1] == "site-pathway"
    assert knowledge.references["site-pathway"].url.startswith("https://intranet.example.org")
    assert knowledge.cards.drafts.referral_coding == (
        ("http://example.org/site-orders", "REF-ALLERGY", "Allergy and immunology referral"),)


def test_the_next_release_keeps_its_new_bundled_keys_under_an_old_overlay(
    tmp_path: Path,
) -> None:
    # "The next release": a bundled file gains a drug, a product and a code the site's
    # overlay (written for the release before) does not mention.
    cards = copy_cards(tmp_path)

    def next_release(data: dict[str, Any]) -> None:
        data["drugs"]["bilastine-next"] = {"class": "h1", "names": ["bilastine"]}
        data["drugs"]["epinephrine"]["products"].append(
            {"code": "next-release-1", "display": "epinephrine auto-injector", "status": "V1"})

    edit(cards / "drugs.yaml", next_release)
    knowledge = knowledge_with(cards, site_product_overlay(tmp_path))
    assert "bilastine-next" in knowledge.drugs.drugs
    assert knowledge.drugs.codes["next-release-1"][0] == ("epinephrine",)
    assert knowledge.drugs.codes[SITE_CODE][0] == ("epinephrine",)


def test_override_replaces_a_list_and_later_files_win(tmp_path: Path) -> None:
    first = write(tmp_path, """
cards:
  reminder: First reminder.
  topics:
    tier-1:
      override_reasons: !override [already-addressed]
""", "first.yaml")
    second = write(tmp_path, "cards:\n  reminder: Second reminder.\n", "second.yaml")
    knowledge = knowledge_with(bundled_cards_dir(), first, second)
    assert knowledge.cards.topics["tier-1"].override_reasons == ("already-addressed",)
    assert knowledge.cards.reminder == "Second reminder."


def test_merge_rules() -> None:
    base = {"a": {"b": [1, 2], "c": "x"}, "d": None}
    merged = merge(base, {"a": {"b": [2, 3], "e": 1}, "d": {"f": 1}}, "o")
    assert merged == {"a": {"b": [1, 2, 3], "c": "x", "e": 1}, "d": {"f": 1}}
    assert base == {"a": {"b": [1, 2], "c": "x"}, "d": None}  # the bundled data is untouched
    assert overlay_paths(" a.yaml, ,b.yaml ") == (Path("a.yaml"), Path("b.yaml"))
    assert overlay_paths(None) == ()


@pytest.mark.parametrize(("text", "message"), [
    ("drugs:\n  drugs:\n    famotidine:\n      prodcts: []\n",
     r"drugs\.yaml with the cards overlay .*site\.yaml \(section 'drugs'\): "
     r"drugs\.famotidine\.prodcts: Unknown field"),
    ("drug:\n  drugs: {}\n",
     r"cards overlay .*site\.yaml: unknown section 'drug'; .*: cards, codes, drafts, drugs"),
    ("thresholds:\n  lookback_days: 30\n",
     r"site\.yaml: section 'thresholds' cannot be overlaid: .*MCAS_THRESHOLDS_FILE"),
    ("drugs:\n  drugs:\n    cetirizine:\n      products:\n",
     r"site\.yaml: drugs\.drugs\.cetirizine\.products: the bundled value is a list; "
     r"the overlay gives an empty value"),
    ("drugs:\n  drugs:\n    famotidine:\n      names: famotidine\n",
     r"drugs\.drugs\.famotidine\.names: the bundled value is a list; the overlay gives the "
     r"value 'famotidine'"),
    ("cards:\n  reminder: !override text\n", r"site\.yaml: not valid YAML at line 2: "
     r"!override goes before a mapping or a list"),
    ("drugs: [1, 2]\n", r"section 'drugs' must be a mapping"),
    ("drugs:\n  drugs:\n    famotidine:\n      suggest: false\n",
     r"\(section 'drugs'\): drugs: no drug of class 'h2' has suggest: true"),
    ("cards:\n  topics:\n    tier-1:\n      links: [nobody2031]\n",
     r"cards\.yaml with the cards overlay .*: topics\.tier-1\.links\.\d+: unknown reference "
     r"'nobody2031'"),
    ("drugs: {drugs: {\n", r"site\.yaml: not valid YAML at line \d"),
])
def test_a_bad_overlay_stops_start_up_naming_the_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    overlay = write(tmp_path, text)
    with pytest.raises(KnowledgeError, match=message):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CARDS_OVERLAY": str(overlay)})


def test_a_missing_overlay_file_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match=r"cards overlay .*nope\.yaml: cannot be read"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path),
                    "CARDS_OVERLAY": str(tmp_path / "nope.yaml")})


def test_a_section_for_a_file_nothing_reads_is_refused_not_ignored(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    (cards / "unread.yaml").write_text("entries: {}\n", encoding="utf-8")
    overlay = write(tmp_path, "unread:\n  entries: {a: 1}\n")
    with pytest.raises(KnowledgeError, match=r"section 'unread' extends unread\.yaml, which"):
        knowledge_with(cards, overlay)


def test_a_file_a_later_release_adds_is_overlaid_without_code_changes(tmp_path: Path) -> None:
    # The merge knows no list of files: a new cards/ file (drafts.yaml with its referral
    # coding, triggers.yaml...) gets its section as soon as the loader reads it.
    cards = copy_cards(tmp_path)
    (cards / "later.yaml").write_text(
        "referral:\n  text: Referral to allergy and immunology\n  coding: []\n",
        encoding="utf-8")
    overlay = write(tmp_path, """
later:
  referral:
    coding:
      - {system: "https://example.org/site-codes", code: "site-referral-1"}
""")
    files = CardsFiles(cards, [overlay])
    data, origin = files.read("later.yaml")
    assert data == {"referral": {
        "text": "Referral to allergy and immunology",
        "coding": [{"system": "https://example.org/site-codes", "code": "site-referral-1"}]}}
    assert origin.endswith(f"with the cards overlay {overlay} (section 'later')")
    load_knowledge(files)  # the other files load, and the section was read: no refusal
