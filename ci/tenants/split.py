"""Each tenant's rows of a common data file, written as a file of its own.

A CSV keeps its bytes: the tenant's file is the header and the tenant's lines
as they stand in the source, so a golden set's recorded sha256 holds on any
machine and any polars; the lines are proven to parse to the tenant's rows
first, and where they do not (a line break inside a quoted field), the rows
are written anew, as the text they hold. A Parquet file is written anew by
polars. A file is only rewritten when its content changes, so tenants running
side by side read stable files.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ci.core import files
from ci.core.errors import ConfigError
from ci.core.text import display


def expand(root: Path, pattern: str) -> list[Path]:
    """The files of a data path (a glob too), sorted; none when nothing is there."""
    full = root / pattern
    if glob.has_magic(pattern):
        return sorted(Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
    return [full] if full.is_file() else []


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def header(path: Path) -> list[str]:
    """A data file's column names, read from its header (or Parquet's schema) alone."""
    import polars as pl

    frame = pl.scan_parquet(path) if is_parquet(path) else pl.scan_csv(path, infer_schema=False)
    return frame.collect_schema().names()


def read(path: Path, columns: Iterable[str] | None = None, *, typed: bool = False) -> Any:
    """A data file as a polars frame: every value as the text it holds (keys compare alike across
    files, "008" stays "008"), or with its types (``typed``) for an SQL condition."""
    import polars as pl

    try:
        if is_parquet(path):
            frame = pl.scan_parquet(path)
        else:
            frame = (
                pl.scan_csv(path, infer_schema_length=None)
                if typed
                else pl.scan_csv(path, infer_schema=False)
            )
        names = frame.collect_schema().names()
        wanted = names if columns is None else [c for c in columns if c in names]
        return frame.select(wanted if typed else pl.col(wanted).cast(pl.String)).collect()
    except (OSError, pl.exceptions.PolarsError) as error:
        raise ConfigError(
            f"{display(path)}: cannot be read as a table: {str(error).splitlines()[0]}"
        ) from None


class Source:
    """A common data file, read once however many tenants take their rows of it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = read(path)  # what is written, and what a column's value is compared with
        self._typed: Any = None
        self.lines = None if is_parquet(path) else _lines(path, self.text.height)

    def typed(self) -> Any:
        """The rows with their types, for an SQL condition; read once, when one asks."""
        if self._typed is None:
            self._typed = read(self.path, typed=True)
        return self._typed

    def rows(self, condition: Any, *, typed: bool, shown: str) -> list[int]:
        """The indexes of the rows ``condition`` (a polars expression) keeps; ``shown`` is the condition
        as the user wrote it, for the messages."""
        import polars as pl

        frame = self.typed() if typed else self.text
        try:
            return frame.with_row_index("__row").filter(condition)["__row"].to_list()
        except pl.exceptions.PolarsError as error:
            first = str(error).splitlines()[0]
            raise ConfigError(f"{shown} cannot select rows of {display(self.path)}: {first}") from None

    def write(self, target: Path, kept: list[int]) -> None:
        """The kept rows as a file of their own, rewritten only when it changes."""
        if is_parquet(self.path):
            data = _parquet(read(self.path, typed=True), kept)
        else:
            data = self._lines_of(kept) or self.text[kept].write_csv().encode()
        if not (target.is_file() and target.read_bytes() == data):
            files.write_bytes(target, data)

    def _lines_of(self, kept: list[int]) -> bytes | None:
        """The header and the kept rows' lines as they stand, when they parse to exactly those rows."""
        import io

        import polars as pl

        if self.lines is None:
            return None
        data = b"".join([self.lines[0], *(self.lines[i + 1] for i in kept)])
        try:
            again = pl.read_csv(io.BytesIO(data), infer_schema=False)
        except pl.exceptions.PolarsError:
            return None
        return data if again.equals(self.text[kept]) else None


def _lines(source: Path, rows: int) -> list[bytes] | None:
    """The header and rows of a CSV as its lines stand, the last one ended as the others are; None
    when the lines are not the rows."""
    lines = source.read_bytes().splitlines(keepends=True)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != rows + 1:
        return None
    if not lines[-1].endswith((b"\n", b"\r")):
        lines[-1] += b"\r\n" if lines[0].endswith(b"\r\n") else b"\n"
    return lines


def _parquet(frame: Any, kept: list[int]) -> bytes:
    import io

    out = io.BytesIO()
    frame[kept].write_parquet(out)
    return out.getvalue()
