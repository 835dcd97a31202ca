"""Every sentence of cards/sentences.yaml is one the rules can show (none is dead text)."""

from __future__ import annotations

from pathlib import Path

from service.knowledge.sentences import SENTENCES

SERVICE = Path(__file__).resolve().parents[2] / "service"
FAMILIES = ("kind.", "unavailable.", "reading.")  # built from a resource type, key, problem


def test_every_sentence_key_is_used_by_the_service() -> None:
    code = "\n".join(
        p.read_text(encoding="utf-8") for p in SERVICE.rglob("*.py")
        if p.name != "sentences.py"
    )
    unused = [k for k in SENTENCES if not k.startswith(FAMILIES) and f'"{k}"' not in code]
    assert unused == []
