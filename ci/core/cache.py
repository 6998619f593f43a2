"""The stage cache: a stage whose inputs are what they were is restored, not run again.

A stage declares what it reads (``Declared``): files, by content; the settings
it reads; the versions of the libraries it runs; and anything else its result
depends on (the commit its artifacts are named after). The key is the sha256 of
those contents alone: no path outside the project, no machine, no time, so a
cache folder carried to another CI agent hits there too.

An entry is a folder ``<cache>/<stage>/<key>/`` holding ``entry.json`` (the
inputs, the stage's result, each output's sha256) and the outputs under
``files/``. It is written in a folder of its own and renamed into place, so
two runs sharing the cache never see half an entry; an entry whose files do
not match their sha256 is dropped and the stage runs. Entries are evicted,
least recently used first, when the cache outgrows its size. A cache that
cannot be written warns once and the run goes on uncached.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci.core.files import sha256_file, write_text

ENTRY = "entry.json"
HASHES = "hashes.json"
# Folders that are never a project's input: tools' caches and environments.
_NOT_INPUTS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache",
               "node_modules"}  # fmt: skip
# ... nor files that running the project writes beside its code, whether git ignores them or not.
_WRITTEN = re.compile(r"(.*/)?(\.coverage(\..*)?|[^/]*\.py[co]|[^/]*\.egg-info/.*)")


@dataclass
class Declared:
    """What one stage's result depends on, and what it writes beyond its artifacts."""

    files: Iterable[str] = ()  # files and folders, relative to the project's root
    project: Iterable[str] = ()  # the project's files (git's, not ignored) under these folders ("." all)
    exclude: Iterable[str] = ()  # ... but for those under these
    settings: Iterable[str] = ()  # ci settings' keys ("model", "data.samples")
    libraries: Iterable[str] = ()  # distributions whose versions count ("scikit-learn"); "*" every one
    values: Mapping[str, str] = field(default_factory=dict)  # anything else ("commit": "16746a1")
    outputs: Iterable[str] = ()  # files and folders the stage writes, besides its result's artifacts
    # Before a hit is used: why the restored result cannot stand here (an image gone from the engine), or "".
    usable: Callable[[dict[str, Any]], str] | None = None


@dataclass
class Hit:
    key: str
    result: dict[str, Any]  # the stage's StageResult, as report.json has it
    created: float
    duration: float  # how long the stage took when it ran


class Hashes:
    """sha256 of files, remembered by size, mtime and inode, as git's index does: an unchanged file is not
    read again. A file changed within the last two seconds is not remembered (its mtime may not move
    on the next change)."""

    def __init__(self, path: Path | None, root: Path) -> None:
        self.path = path
        self.root = root
        self.known: dict[str, list[Any]] = {}
        self.changed = False
        if path is not None:
            try:
                self.known = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.known = {}

    def of(self, path: Path) -> str:
        stat = path.stat()
        sign = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        name = os.path.relpath(path, self.root)
        known = self.known.get(name)
        if known and known[:3] == sign:
            return known[3]
        digest = sha256_file(path)[0]
        if time.time() - stat.st_mtime > 2:
            self.known[name] = [*sign, digest]
            self.changed = True
        return digest

    def save(self) -> None:
        if self.path is not None and self.changed:
            write_text(self.path, json.dumps(self.known, separators=(",", ":")))
            self.changed = False


class Cache:
    """The stage cache in ``folder`` (``ci.cache.dir``), at most ``limit`` bytes."""

    def __init__(
        self, folder: Path, root: Path, limit: int, say: Callable[[str], None] = print, restore: bool = True
    ) -> None:
        self.folder = folder
        self.root = root
        self.limit = limit
        self.say = say
        self.hashes = Hashes(folder / HASHES, root)
        self.broken = ""  # why the cache cannot be written: warned once, then the run goes on uncached
        self.restore = restore  # False (--no-cache): every stage runs, and its entry is stored anew
        self._installed: dict[str, str] | None = None
        self._dsci: str | None = None

    # Keys ---------------------------------------------------------------------

    def inputs(
        self, declared: Declared, settings: Callable[[str], Any], flags: Mapping[str, Any]
    ) -> dict[str, dict[str, str]]:
        """Every input of a stage by kind, each named as a person would name it, with its fingerprint."""
        names = set(self.expand(declared.files))
        if declared.project:
            names.update(_within(self.project_files(), declared.project, declared.exclude))
        files = {}
        for name in sorted(names):
            path = self.root / name
            files[name] = self.hashes.of(path) if path.is_file() else "missing"
        installed = self.installed()
        wanted = installed if "*" in declared.libraries else {_normal(name) for name in declared.libraries}
        keys = sorted({"report_dir", *declared.settings})
        return {
            "file": files,
            "setting": {f"ci.{key}": _canonical(_plain(settings(key))) for key in keys},
            "version": {name: installed.get(name, "not installed") for name in sorted(wanted)},
            "value": {
                "dsci": self.dsci(),
                "python": sys.version.split()[0],
                **{name: str(value) for name, value in declared.values.items()},
                **{f"--{name.replace('_', '-')}": _canonical(value) for name, value in flags.items()},
            },
        }

    def project_files(self) -> list[str]:
        """The project's files: what git tracks and what it would add (not ignored); outside a repository,
        every file under the root but tools' folders."""
        try:
            listed = subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                cwd=self.root, capture_output=True, check=True,
            ).stdout  # fmt: skip
        except (OSError, subprocess.CalledProcessError):
            return sorted(name for name in self.expand(["."]) if not _written(name))
        names = listed.decode("utf-8", "surrogateescape").split("\0")
        return sorted({name for name in names if name and not _written(name)})

    def installed(self) -> dict[str, str]:
        """Every distribution importable here, by normalised name, with its version: read from the names
        of the .dist-info folders on sys.path, a thousandth of the time importlib.metadata takes."""
        if self._installed is None:
            found: dict[str, str] = {}
            for folder in sys.path:
                try:
                    names = os.listdir(folder or ".")
                except OSError:
                    continue
                for name in names:
                    if name.endswith(".dist-info"):
                        project, _, version = name.removesuffix(".dist-info").partition("-")
                        found.setdefault(_normal(project), version)
            self._installed = found
        return self._installed

    def dsci(self) -> str:
        """dsci's own code by content: a change to it is a change to every stage."""
        if self._dsci is None:
            import ci

            package = Path(ci.__file__).parent
            digest = hashlib.sha256()
            for folder, dirs, files in os.walk(package):
                dirs[:] = sorted(d for d in dirs if d not in _NOT_INPUTS)
                for name in sorted(files):
                    if not name.endswith((".pyc", ".pyo")):
                        path = Path(folder, name)
                        digest.update(f"{path.relative_to(package)}\0{self.hashes.of(path)}\0".encode())
            self._dsci = f"{ci.__version__} {digest.hexdigest()[:16]}"
        return self._dsci

    @staticmethod
    def key(stage: str, inputs: Mapping[str, Any]) -> str:
        return hashlib.sha256(_canonical({"stage": stage, "inputs": inputs}).encode()).hexdigest()

    def expand(self, names: Iterable[str]) -> Iterable[str]:
        """Files under the root, relative to it: each file named, and the files in each folder named."""
        for name in names:
            if not name:
                continue
            if glob.has_magic(name):  # a dataset's path may be a glob: the files it matches now
                yield from self.expand(sorted(glob.glob(name, root_dir=self.root, recursive=True)))
                continue
            path = self.root / name
            if path.is_dir():
                for folder, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if d not in _NOT_INPUTS)
                    for file in files:
                        yield os.path.relpath(os.path.join(folder, file), self.root)
            else:
                yield os.path.normpath(name)

    # Entries ------------------------------------------------------------------

    def get(
        self, stage: str, key: str, usable: Callable[[dict[str, Any]], str] | None = None
    ) -> tuple[Hit | None, str]:
        """(the entry of ``key``, with its outputs put back in place, ""); (None, why it cannot be used)
        when it is damaged or its result cannot stand here; (None, "") when there is none."""
        entry = self.folder / stage / key
        if not entry.is_dir():
            return None, ""
        try:
            data = json.loads((entry / ENTRY).read_text(encoding="utf-8"))
            for name, digest in data["outputs"].items():
                stored = entry / "files" / name
                if not stored.is_file() or self.hashes.of(stored) != digest:
                    raise ValueError(f"{name} does not match its sha256")
            for name, digest in data["outputs"].items():
                self._put_back(entry / "files" / name, self.root / name, digest)
            why = usable(data["result"]) if usable else ""
            if why:  # it names what is gone: the stage's new entry takes its place
                shutil.rmtree(entry, ignore_errors=True)
                return None, f"its cache entry cannot be used: {why}"
            os.utime(entry / ENTRY)  # most recently used
            return Hit(key, data["result"], data["created"], data["duration"]), ""
        except (OSError, ValueError, KeyError, TypeError) as error:
            shutil.rmtree(entry, ignore_errors=True)
            return None, f"its cache entry {key[:12]} is damaged ({_reason(error)})"

    def put(
        self,
        stage: str,
        key: str,
        inputs: Mapping[str, Any],
        result: dict[str, Any],
        outputs: Iterable[str],
        tenant: str = "",
    ) -> None:
        """Store a stage's result and outputs under ``key``: written aside, then renamed into place."""
        if self.broken:
            return
        final = self.folder / stage / key
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=".new-", dir=final.parent))
            try:
                stored, size = {}, 0
                for name in sorted(set(self.expand(outputs))):
                    source = self.root / name
                    if not source.is_file():
                        continue
                    target = work / "files" / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
                    stored[name] = self.hashes.of(source)
                    size += target.stat().st_size
                data = {
                    "stage": stage, "tenant": tenant, "key": key, "created": time.time(), "size": size,
                    "duration": result.get("duration", 0), "inputs": inputs, "outputs": stored,
                    "result": result,
                }  # fmt: skip
                write_text(work / ENTRY, json.dumps(data, indent=1))
                _replace(work, final)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
            self.evict()
        except OSError as error:
            self.unwritable(error)

    def unwritable(self, error: OSError) -> None:
        if not self.broken:
            self.broken = _reason(error)
            self.say(f"warning: the stage cache {_shown(self.folder, self.root)} cannot be written "
                     f"({self.broken}); the run goes on uncached (ci.cache.dir)")  # fmt: skip

    def last(self, stage: str, tenant: str = "") -> dict[str, Any] | None:
        """The inputs of the entry of ``stage`` (for ``tenant``) stored last, to say what changed since."""
        entries = []
        for entry in (self.folder / stage).glob("*/" + ENTRY):
            try:
                entries.append((entry.stat().st_mtime, entry))
            except OSError:
                continue
        for _, entry in sorted(entries, reverse=True):
            try:
                data = json.loads(entry.read_text(encoding="utf-8"))
                if data.get("tenant", "") == tenant:
                    return data["inputs"]
            except (OSError, ValueError, KeyError, AttributeError):
                continue
        return None

    def evict(self) -> None:
        """Remove the least recently used entries until the cache is within its size."""
        entries, total = [], 0
        for entry in self.folder.glob("*/*/" + ENTRY):
            try:
                used, size = entry.stat().st_mtime, json.loads(entry.read_text(encoding="utf-8"))["size"]
            except (OSError, ValueError, KeyError):
                continue
            entries.append((used, size, entry.parent))
            total += size
        for _, size, folder in sorted(entries, key=lambda e: e[0]):
            if total <= self.limit:
                break
            shutil.rmtree(folder, ignore_errors=True)
            total -= size

    def save(self) -> None:
        if self.broken:
            return
        try:
            self.hashes.save()
        except OSError as error:
            self.unwritable(error)

    def _put_back(self, stored: Path, target: Path, digest: str) -> None:
        if target.is_file() and self.hashes.of(target) == digest:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            shutil.copy2(stored, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _replace(work: Path, final: Path) -> None:
    """``work`` renamed to ``final``, an entry already there set aside first (its outputs are no longer
    the ones in the project). A reader sees the old entry, none, or the new one: never half of one."""
    try:
        os.rename(work, final)
        return
    except OSError:
        pass
    old = Path(tempfile.mkdtemp(prefix=".old-", dir=final.parent))
    try:
        os.rename(final, old / "entry")
        os.rename(work, final)
    except OSError:  # another run stored the same key meanwhile: theirs stands
        shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(old, ignore_errors=True)


def changes(before: Mapping[str, Any] | None, now: Mapping[str, Any]) -> list[str]:
    """What differs between two stores of a stage's inputs, as a person would say it."""
    if before is None:
        return ["nothing cached yet"]
    said = []
    for kind in ("file", "setting", "version", "value"):
        old, new = before.get(kind, {}), now.get(kind, {})
        for name in sorted(old.keys() | new.keys()):
            if old.get(name) == new.get(name):
                continue
            if kind == "version":
                said.append(f"{name} {old.get(name, 'not used')} -> {new.get(name, 'not used')}")
            elif kind == "file" and name not in old:
                said.append(f"{name} is new")
            elif kind == "file" and name not in new:
                said.append(f"{name} is no longer an input")
            elif kind == "value" and not name.startswith("--") and not _digest(new.get(name, "")):
                said.append(f"{name} {old.get(name, 'unset')} -> {new.get(name, 'unset')}")
            else:
                said.append(f"{name} changed")
    return said or ["the stage's inputs are the same, its entry is gone (evicted or damaged)"]


def _within(names: Iterable[str], folders: Iterable[str], exclude: Iterable[str]) -> list[str]:
    """The names under one of ``folders`` and under none of ``exclude`` ("." is everything)."""

    def prefixes(paths: Iterable[str]) -> tuple[str, ...]:
        return tuple("" if os.path.normpath(p) == "." else os.path.normpath(p) + os.sep for p in paths if p)

    inside, outside = prefixes(folders), prefixes(exclude)
    return [n for n in names if (n + os.sep).startswith(inside) and not (n + os.sep).startswith(outside)]


def _digest(value: str) -> bool:
    """Whether a value is a sha256 (a file's, a key's): said to have changed, never shown."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _written(name: str) -> bool:
    """Whether a file is one that running the project writes (bytecode, coverage data, egg-info), or
    lies in a tool's folder: never an input, whether git ignores it or not."""
    return bool(_WRITTEN.fullmatch(name)) or any(part in _NOT_INPUTS for part in name.split("/")[:-1])


def _normal(name: str) -> str:
    """A distribution's name as PEP 503 compares them: scikit_learn, Scikit.Learn -> scikit-learn."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _plain(value: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(value)


def _reason(error: BaseException) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{ENTRY} is not whole JSON"
    if isinstance(error, (KeyError, TypeError)):
        return f"{ENTRY} lacks {error}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


def _shown(path: Path, root: Path) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return str(path)
