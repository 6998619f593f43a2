"""The checks a dataset can declare under ``ci.data.datasets[].checks``, as msgspec Structs.

One Struct per check type, told apart by its ``type`` key; ``ci/data/contract.py``
implements each. Every check also takes ``name``, ``severity`` and ``tolerance``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from msgspec import Meta, Struct

DTYPES = ("int", "float", "str", "bool", "date", "datetime", "categorical")
DURATION = r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$"
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

Fraction = Annotated[float, Meta(ge=0, le=1)]
AtLeastZero = Annotated[float, Meta(ge=0)]
# How a message words what a value must be, where the type alone does not say it well.
Duration = Annotated[str, Meta(pattern=DURATION, extra_json_schema={
    "x-expected": 'a duration such as "90m", "36h", "7d" or "2w"'})]  # fmt: skip
Scalar = Annotated[str | int | float | bool, Meta(extra_json_schema={
    "x-expected": "a string, number or boolean"})]  # fmt: skip
Dtypes = Annotated[dict[str, Literal[DTYPES]], Meta(extra_json_schema={"x-what": "column names"})]  # type: ignore


def duration_seconds(text: str) -> float:
    """``"90m"`` as 5400.0: a span of time written as a number and a unit (s, m, h, d, w)."""
    number, unit = re.match(DURATION, text).groups()  # type: ignore[union-attr]
    return float(number) * _SECONDS[unit]


class Check(Struct, forbid_unknown_fields=True, kw_only=True, tag_field="type"):
    """What every check takes: a name, whether a failure fails the stage or warns, the rows it may miss.

    ``min: null`` and the like mean "no bound"; an empty name is made from the type and the columns."""

    name: str = ""
    severity: Literal["error", "warn"] = "error"
    tolerance: Fraction = 0.0

    @property
    def kind(self) -> str:
        """The check's type: the ``type`` key that picked this Struct."""
        return self.__struct_config__.tag  # type: ignore[return-value]


class Schema(Check, tag="schema"):
    columns: Dtypes
    extra_columns: Literal["allow", "fail"] = "allow"
    missing_columns: Literal["allow", "fail"] = "fail"


class NotNull(Check, tag="not_null"):
    columns: list[str]


class NullFraction(Check, tag="null_fraction"):
    column: str
    max: Fraction


class Unique(Check, tag="unique"):
    columns: list[str]


class Range(Check, tag="range"):
    column: str
    min: float | None = None
    max: float | None = None
    inclusive: bool = True


class Allowed(Check, tag="allowed"):
    column: str
    values: list[Scalar]


class Regex(Check, tag="regex"):
    column: str
    pattern: str


class Length(Check, tag="length"):
    column: str
    min: AtLeastZero | None = None
    max: AtLeastZero | None = None


class RowCount(Check, tag="row_count"):
    min: AtLeastZero | None = None
    max: AtLeastZero | None = None


class Freshness(Check, tag="freshness"):
    column: str
    max_age: Duration


class Expression(Check, tag="expression"):
    expr: str


class Drift(Check, tag="drift"):
    column: str
    method: Literal["psi", "ks", "chi2"] | None = None  # None: psi for numbers, chi2 for categories
    threshold: AtLeastZero | None = None  # None: the method's usual threshold
    bins: Annotated[int, Meta(ge=2, le=100)] = 10


class Pii(Check, tag="pii"):
    pass


CHECKS = (Schema, NotNull, NullFraction, Unique, Range, Allowed, Regex, Length, RowCount, Freshness,
          Expression, Drift, Pii)  # fmt: skip
TYPES = tuple(check.__struct_config__.tag for check in CHECKS)
AnyCheck = (
    Schema | NotNull | NullFraction | Unique | Range | Allowed | Regex | Length | RowCount | Freshness
    | Expression | Drift | Pii
)  # fmt: skip


class Dataset(Struct, forbid_unknown_fields=True, kw_only=True):
    """A dataset (a file or a glob) and its checks."""

    name: str
    path: str
    format: Literal["auto", "csv", "parquet"] = "auto"
    reference: str = ""
    sensitive: list[str] = []
    pii_allowed: list[str] = []
    checks: list[AnyCheck] = []
