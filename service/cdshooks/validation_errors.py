"""marshmallow's nested error messages as flat (field path, message) pairs.

Every validated input (the hook envelope, feedback, threshold files and proposals)
answers with errors that name the field by its dotted path and the rule it broke.
"""

from __future__ import annotations

from typing import Any

from service.errors import BadRequest


def error_pairs(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """('feedback.0.outcome', 'Must be one of: ...') pairs; '' for schema-level errors."""
    if isinstance(messages, dict):
        out: list[tuple[str, str]] = []
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            out.extend(error_pairs(value, path))
        return out
    if isinstance(messages, list):
        return [pair for item in messages for pair in error_pairs(item, prefix)]
    return [(prefix, str(messages))]


def error_lines(messages: Any) -> list[str]:
    """'field.path: message' lines, sorted, for an OperationOutcome's diagnostics."""
    return sorted(f"{path}: {text}" if path else text for path, text in error_pairs(messages))


def invalid_request(messages: Any) -> BadRequest:
    """A 400 with one issue per error line, each naming its field (OperationOutcome
    ``expression``) when the error belongs to one."""
    pairs = sorted(
        error_pairs(messages), key=lambda pair: f"{pair[0]}: {pair[1]}" if pair[0] else pair[1]
    )
    return BadRequest(
        [f"{path}: {text}" if path else text for path, text in pairs],
        fields=[path or None for path, _ in pairs],
    )
