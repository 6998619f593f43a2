"""Finding personal data: payment cards (Luhn), e-mail addresses, phone numbers, IBANs (mod 97), US SSNs.

Values are only ever shown masked: all but the last four characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


def mask(value: Any) -> str:
    text = str(value)
    return "*" * max(len(text) - 4, 0) + text[-4:]


def luhn(candidate: str) -> bool:
    digits = [int(d) for d in candidate if d.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


def iban(candidate: str) -> bool:
    text = candidate.replace(" ", "").upper()
    if not 15 <= len(text) <= 34:
        return False
    rearranged = text[4:] + text[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn(candidate: str) -> bool:
    area, group, serial = candidate.split("-")
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def anything(candidate: str) -> bool:
    return True


def phone(candidate: str) -> bool:
    return 7 <= sum(ch.isdigit() for ch in candidate) <= 15  # E.164 numbers have at most 15 digits


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: str  # for polars (Rust regex syntax) and Python alike
    valid: Callable[[str], bool]


DETECTORS = (
    Detector("card", r"\b(?:\d[ -]?){12,18}\d\b", luhn),
    Detector("email", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", anything),
    Detector(  # international (+44 20 7946 0958), or North American ((555) 123-4567, 555-123-4567)
        "phone",
        r"\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}\b"
        r"|\(\d{3}\) ?\d{3}-\d{4}\b|\b\d{3}[-.]\d{3}[-.]\d{4}\b",
        phone,
    ),
    Detector("iban", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", iban),
    Detector("ssn", r"\b\d{3}-\d{2}-\d{4}\b", ssn),
)


@dataclass
class Finding:
    file: str
    column: str
    kind: str
    count: int
    examples: list[str] = field(default_factory=list)  # masked

    def describe(self) -> str:
        shown = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{self.file}: column {self.column}: {self.count} {self.kind} value(s){shown}"


def scan_frame(frame: Any, file: str, skip: Iterable[str] = (), examples: int = 3) -> list[Finding]:
    """Findings in the text and integer columns of a polars LazyFrame, one query per column."""
    import polars as pl

    findings = []
    schema = frame.collect_schema()
    for column, dtype in schema.items():
        if column in skip or not (dtype == pl.String or dtype.is_integer() or dtype == pl.Categorical):
            continue
        text = pl.col(column).cast(pl.String)
        matches = frame.select([text.str.extract_all(d.pattern).alias(d.kind) for d in DETECTORS]).collect(
            engine="streaming"
        )
        for detector in DETECTORS:
            counts = matches.get_column(detector.kind).explode().drop_nulls().value_counts()
            valid = [(value, n) for value, n in counts.iter_rows() if detector.valid(value)]
            if valid:
                total = sum(n for _, n in valid)
                shown = [mask(value) for value, _ in sorted(valid, key=lambda v: -v[1])[:examples]]
                findings.append(Finding(file, column, detector.kind, total, shown))
    return findings


def scan_text(text: str, file: str, examples: int = 3) -> list[Finding]:
    """Findings in a text file (JSON), where there are no columns to name."""
    findings = []
    for detector in DETECTORS:
        valid = [m.group(0) for m in re.finditer(detector.pattern, text) if detector.valid(m.group(0))]
        if valid:
            findings.append(
                Finding(file, "-", detector.kind, len(valid), [mask(v) for v in valid[:examples]])
            )
    return findings
