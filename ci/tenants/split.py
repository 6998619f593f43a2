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


def split(source: Path, target: Path, condition: Any, *, shown: str) -> int:
    """Write the rows of ``source`` that ``condition`` (a polars expression) keeps to ``target``.

    ``shown`` is the condition as the user wrote it, for the messages. Returns how many rows it kept."""
    import polars as pl

    try:
        frame = (
            pl.read_parquet(source) if is_parquet(source) else pl.read_csv(source, infer_schema_length=None)
        )
    except (OSError, pl.exceptions.PolarsError) as error:
        raise ConfigError(
            f"{display(source)}: cannot be read as a table: {str(error).splitlines()[0]}"
        ) from None
    try:
        kept = frame.with_row_index("__row").filter(condition)["__row"].to_list()
    except pl.exceptions.PolarsError as error:
        first = str(error).splitlines()[0]
        raise ConfigError(f"{shown} cannot select rows of {display(source)}: {first}") from None
    if is_parquet(source):
        data = _parquet(frame, kept)
    else:
        data = _csv_lines(source, frame.height, kept) or _csv(frame, kept)
    if not (target.is_file() and target.read_bytes() == data):
        files.write_bytes(target, data)
    return len(kept)


def _csv_lines(source: Path, rows: int, kept: list[int]) -> bytes | None:
    """The header and the kept lines of ``source`` as they stand; None when lines are not rows."""
    lines = source.read_bytes().splitlines(keepends=True)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != rows + 1:  # a field with a line break inside: the lines are not the rows
        return None
    body = [lines[0], *(lines[i + 1] for i in kept)]
    if body[-1] and not body[-1].endswith(b"\n"):
        body[-1] += b"\n"
    return b"".join(body)


def _csv(frame: Any, kept: list[int]) -> bytes:
    return frame[kept].write_csv().encode()


def _parquet(frame: Any, kept: list[int]) -> bytes:
    import io

    out = io.BytesIO()
    frame[kept].write_parquet(out)
    return out.getvalue()
