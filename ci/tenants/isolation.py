"""Proof, on every run, that no tenant's data, keys or files reach another tenant.

Three checks, each naming the tenants, the file and a count, never a value:

- keys: no value of an id column (``ci.tenants.id_columns``) in a tenant's
  training, holdout or golden rows is in any other tenant's;
- recipients: no age recipient of a tenant's bundle is another tenant's, so
  that no other tenant's identity opens it;
- image: the tenant's image holds no file whose bytes are one of another
  tenant's data, model or bundle files.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ci.core.errors import ConfigError
from ci.core.files import sha256_file
from ci.core.results import Check, Status
from ci.core.text import display
from ci.tenants import split
from ci.tenants.roster import Roster, data_paths


def shared_keys(roster: Roster, name: str) -> list[Check]:
    """One check per id column: the tenant's rows against every other tenant's, taken in memory."""
    import polars as pl

    columns = roster.cfg.id_columns
    if not columns:
        message = "no ci.tenants.id_columns: no tenant's rows are compared with another's"
        return [Check("keys", Status.WARNED, message)]
    frames, unread = [], []
    for tenant in roster.tenants:
        try:
            found = roster.ids(tenant, columns)
        except ConfigError as error:
            if tenant == name:
                raise
            unread.append(f"tenant {tenant}'s rows could not be read: {error.message}")
            continue
        for label, frame in found:
            frames += [
                frame.select(
                    pl.col(c).alias("id"), pl.lit(tenant).alias("tenant"), pl.lit(label).alias("file"),
                    pl.lit(c).alias("column"),
                ).unique()
                for c in columns if c in frame.columns
            ]  # fmt: skip
    checks = [Check("keys", Status.WARNED, said) for said in unread]
    everyone = pl.concat(frames).drop_nulls("id") if frames else None
    for column in columns:
        keys = everyone.filter(pl.col("column") == column) if everyone is not None else None
        mine = keys.filter(pl.col("tenant") == name) if keys is not None else None
        if mine is None or mine.is_empty():
            checks.append(
                Check(f"keys {column}", Status.WARNED, f"no data file of tenant {name} has {column}")
            )
            continue
        theirs = keys.filter(pl.col("tenant") != name)
        shared = (
            mine.join(theirs, on="id", suffix="_other")
            .group_by("file", "tenant_other", "file_other")
            .agg(pl.col("id").n_unique().alias("count"))
            .sort("file", "tenant_other", "file_other")
        )
        if shared.is_empty():
            compared = f"{theirs['tenant'].n_unique()} other tenants' {theirs['id'].n_unique()}"
            message = f"{mine['id'].n_unique()} {column} values of tenant {name}, none among {compared}"
            checks.append(Check(f"keys {column}", Status.PASSED, message, value=0, threshold=0))
            continue
        for row in shared.iter_rows(named=True):
            message = (
                f"tenant {name} and tenant {row['tenant_other']} share {row['count']} {column} value(s): "
                f"{name}'s {row['file']}, {row['tenant_other']}'s {row['file_other']}"
            )
            details = {"tenants": [name, row["tenant_other"]], "file": row["file"]}
            checks.append(Check(f"keys {column}", Status.FAILED, message, row["count"], 0, details=details))
    return checks


def shared_recipients(roster: Roster, name: str) -> Check:
    """The tenant's age recipients, none of them another tenant's."""
    mine = _recipients(roster, name)
    if not mine:
        return Check(
            "recipients", Status.WARNED,
            f"tenant {name}'s bundle is not encrypted (ci.security.recipients): whoever pulls its image "
            "reads its model",
        )  # fmt: skip
    found = []
    for other in roster.tenants:
        if other == name:
            continue
        try:
            theirs = _recipients(roster, other)
        except ConfigError:
            continue  # its own run says so; a key not read is no key shared
        found += [(other, key, mine[key], source) for key, source in theirs.items() if key in mine]
    if not found:
        message = f"tenant {name}'s bundle is encrypted to {len(mine)} recipient(s) of its own"
        return Check("recipients", Status.PASSED, message)
    other, key, here, there = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return Check(
        "recipients", Status.FAILED,
        f"tenants {name} and {other} share the age recipient {key[:16]}… ({here}; {there}){more}: either's "
        "identity opens the other's bundle; give each tenant recipients of its own (ci.tenants.settings)",
        details={"tenants": [name, other]},
    )  # fmt: skip


def foreign_files(engine: Any, image_id: str, name: str, others: dict[str, list[Path]]) -> Check:
    """The image's files, none with the bytes of a file of ``others`` (by whose they are).

    The image is read as a container's file system, streamed; only files whose size is that of one of
    the others' are hashed."""
    by_size: dict[int, list[tuple[str, Path]]] = {}
    for tenant, paths in others.items():
        for path in paths:
            size = path.stat().st_size if path.is_file() else 0  # gone since: another tenant rewrote it
            if size:
                by_size.setdefault(size, []).append((tenant, path))
    digests: dict[Path, str] = {}
    found, files = [], 0
    container = engine.containers.create(image_id, command=["true"])
    try:
        with tarfile.open(fileobj=io.BufferedReader(_Stream(container.export()), 1 << 20), mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                files += 1
                candidates = by_size.get(member.size)
                if not candidates:
                    continue
                data = tar.extractfile(member)
                digest = hashlib.sha256(data.read() if data else b"").hexdigest()
                for tenant, path in candidates:
                    if path not in digests:
                        digests[path] = sha256_file(path)[0]
                    if digests[path] == digest:
                        found.append((tenant, path, "/" + member.name))
    finally:
        container.remove(force=True)
    compared = sum(len(paths) for paths in others.values())
    if not found:
        message = (
            f"none of its {files} files is one of the {compared} files of other tenants and the common data"
        )
        return Check("image", Status.PASSED, message, value=0, threshold=0)
    tenants = sorted({tenant for tenant, _, _ in found})
    tenant, path, inside = found[0]
    return Check(
        "image", Status.FAILED,
        f"tenant {name}'s image holds {len(found)} file(s) of {', '.join(tenants)}: {inside} is "
        f"{display(path)}",
        value=len(found), threshold=0, details={"tenants": [name, *tenants]},
    )  # fmt: skip


def foreign(roster: Roster, name: str) -> dict[str, list[Path]]:
    """The files the tenant's image must not hold, by whose they are: the common data files (every
    tenant's rows), and each other tenant's own data files, rows, model and packaged files that exist."""
    found = {"every tenant": _data_files(roster.common, roster.root)}
    for other, tenant in roster.tenants.items():
        if other == name:
            continue
        tree = tenant.tree
        paths = _data_files(tree, roster.root)
        model = roster.root / tree["model"]["path"] if tree["model"]["path"] else None
        if model and model.is_file():
            paths.append(model)
        out = roster.root / tree["package"]["out"]
        if out.is_dir():
            paths += sorted(p for p in out.iterdir() if p.is_file())
        found[other] = paths
    return found


def _data_files(tree: dict[str, Any], root: Path) -> list[Path]:
    return [file for _, path in data_paths(tree) for file in split.expand(root, path)]


def _recipients(roster: Roster, name: str) -> dict[str, str]:
    """A tenant's age recipients (the key's text) and where each is given."""
    from ci.security.keys import expand

    found = {}
    for given in roster.tenants[name].tree["security"]["recipients"]:
        if given.startswith(("age1", "ssh-")):
            found[" ".join(given.split()[:2])] = "inline"
            continue
        try:
            lines = expand(given, roster.root).read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigError(
                f"tenant {name}: ci.security.recipients: {given}: {error.strerror or error}"
            ) from None
        for line in lines:
            if line.strip() and not line.startswith("#"):
                found.setdefault(" ".join(line.split()[:2]), given)
    return found


class _Stream(io.RawIOBase):
    """A generator of byte chunks (docker's export) as a raw stream, for tarfile's stream mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._chunk, self._at = iter(chunks), b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._at >= len(self._chunk):
            self._chunk, self._at = next(self._chunks, b""), 0
            if not self._chunk:
                return 0
        size = min(len(buffer), len(self._chunk) - self._at)
        buffer[:size] = self._chunk[self._at : self._at + size]
        self._at += size
        return size
