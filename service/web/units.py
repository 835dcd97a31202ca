"""Units as clinicians write them, for the administrator page (UCUM stays in the data)."""

from __future__ import annotations

import re

# UCUM annotations in cards/ and what people read instead ("mcg/g creatinine").
_CLINICAL = (
    ("ug/g{creat}", "mcg/g creatinine"),
    ("pg/mg{creat}", "pg/mg creatinine"),
    ("ng/mg{creat}", "ng/mg creatinine"),
    ("{creat}", " creatinine"),
)
_MICRO = re.compile(r"\bug\b|\bug/")


def clinical_unit(text: str) -> str:
    for ucum, shown in _CLINICAL:
        text = text.replace(ucum, shown)
    return _MICRO.sub(lambda m: m.group(0).replace("ug", "mcg"), text)
