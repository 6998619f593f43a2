"""Each tenant's rows of a common data file, written as a file of its own.

A CSV keeps its bytes: the tenant's file is the header and the tenant's lines
as they stand in the source, so a golden set's recorded sha256 holds on any
machine and any polars. A Parquet file (or a CSV with line breaks inside a
field) is written anew by polars. A file is only rewritten when its content
changes, so tenants running side by side read stable files.
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


def read(path: Path, columns: Iterable[str] | None = None) -> Any:
    """A data file as a polars frame, every value as text (keys compare alike across files)."""
    import polars as pl

    try:
        frame = pl.scan_parquet(path) if is_parquet(path) else pl.scan_csv(path, infer_schema=False)
        names = frame.collect_schema().names()
        wanted = names if columns is None else [c for c in columns if c in names]
        return frame.select(pl.col(wanted).cast(pl.String)).collect()
    except (OSError, pl.exceptions.PolarsError) as error:
        raise ConfigError(
            f"{display(path)}: cannot be read as a table: {str(error).splitlines()[0]}"
        ) from None


class Source:
    """A common data file, read once however many tenants take their rows of it."""

    def __init__(self, path: Path) -> None:
        import polars as pl

        self.path = path
        try:
            if is_parquet(path):
                self.frame = pl.read_parquet(path)
            else:
                self.frame = pl.read_csv(path, infer_schema_length=None)
        except (OSError, pl.exceptions.PolarsError) as error:
            first = str(error).splitlines()[0]
            raise ConfigError(f"{display(path)}: cannot be read as a table: {first}") from None
        self.lines = None if is_parquet(path) else _rows_as_lines(path, self.frame.height)
        self.indexed = self.frame.with_row_index("__row")

    def split(self, target: Path, condition: Any, *, shown: str) -> int:
        """Write the rows that ``condition`` (a polars expression) keeps to ``target``; how many it kept.

        ``shown`` is the condition as the user wrote it, for the messages."""
        import polars as pl

        try:
            kept = self.indexed.filter(condition)["__row"].to_list()
        except pl.exceptions.PolarsError as error:
            first = str(error).splitlines()[0]
            raise ConfigError(f"{shown} cannot select rows of {display(self.path)}: {first}") from None
        if self.lines is not None:
            data = b"".join([self.lines[0], *(self.lines[i + 1] for i in kept)])
        elif is_parquet(self.path):
            data = _parquet(self.frame, kept)
        else:
            data = _csv(self.frame, kept)
        if not (target.is_file() and target.read_bytes() == data):
            files.write_bytes(target, data)
        return len(kept)


def _rows_as_lines(source: Path, rows: int) -> list[bytes] | None:
    """The header and rows of a CSV as its lines stand (the last one ended); None when lines are not
    rows (a field with a line break inside)."""
    lines = source.read_bytes().splitlines(keepends=True)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != rows + 1:
        return None
    if not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"
    return lines


def _csv(frame: Any, kept: list[int]) -> bytes:
    return frame[kept].write_csv().encode()


def _parquet(frame: Any, kept: list[int]) -> bytes:
    import io

    out = io.BytesIO()
    frame[kept].write_parquet(out)
    return out.getvalue()
