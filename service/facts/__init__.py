"""PLACEHOLDER (being replaced by the clinical-core work)."""

from dataclasses import dataclass


@dataclass
class Facts:
    in_scope: bool = False
    skipped_resources: int = 0


def extract_facts(prefetch, knowledge):  # type: ignore[no-untyped-def]
    return Facts()
