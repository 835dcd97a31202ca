"""PLACEHOLDER (being replaced by the clinical-core work)."""


def evaluate(facts, thresholds, now):  # type: ignore[no-untyped-def]
    return []
