"""PLACEHOLDER (being replaced by the clinical-core work)."""


def build_cards(decisions, facts, knowledge, thresholds):  # type: ignore[no-untyped-def]
    return []
