"""Releases: what was deployed where, by whom, from which build, and whether it served."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ci.core.errors import ConfigError
from ci.deploy.history import Branch

LIVE, FAILED = "live", "failed"  # a release that passed its smoke test and served; one that did not


@dataclass
class Candidate:
    """A build that may be deployed: the pushed image by digest, and the signed bundle in it."""

    repository: str  # 127.0.0.1:5000/clinic
    digest: str  # sha256:... of the image's manifest in the registry
    bundle: str = ""  # the bundle's file name
    bundle_sha256: str = ""  # of the bundle as shipped (the ciphertext, when encrypted)
    provenance_sha256: str = ""  # of the signed provenance file
    version: str = ""  # the project's version

    @property
    def image(self) -> str:
        return f"{self.repository}@{self.digest}"


@dataclass
class Release:
    """One deploy to one environment, as the history keeps it (one JSON line)."""

    number: int
    environment: str
    candidate: Candidate
    by: str
    at: str
    commit: str
    status: str = LIVE
    smoke: dict[str, Any] = field(default_factory=dict)  # message, golden_sha256, predictions
    signoffs: list[dict[str, str]] = field(default_factory=list)  # role, signer, fingerprint, sha256
    rollback_of: int | None = None  # ci.rollback --to this release
    note: str = ""  # why it failed, and what serves instead

    @classmethod
    def of(cls, data: dict[str, Any]) -> Release:
        return cls(**{**data, "candidate": Candidate(**data["candidate"])})

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")) + "\n"

    def describe(self) -> str:
        what = f"rollback to release {self.rollback_of}, " if self.rollback_of else ""
        version = f" {self.candidate.version}" if self.candidate.version else ""
        return (
            f"release {self.number} of {self.environment} ({what}{self.status}): {self.candidate.image}"
            f"{version}, by {self.by} at {self.at}, commit {self.commit[:12] or 'unknown'}"
        )


class History:
    """The releases of one deployment (``name``), per environment, on the releases branch."""

    def __init__(self, branch: Branch, name: str) -> None:
        self.branch, self.name = branch, name

    def releases(self, environment: str) -> list[Release]:
        """The releases of ``environment``, oldest first; ConfigError naming a line someone broke."""
        path = f"{self.name}/{environment}/releases.jsonl"
        found = []
        for number, line in enumerate((self.branch.read(path) or b"").decode().splitlines(), start=1):
            if line.strip():
                try:
                    found.append(Release.of(json.loads(line)))
                except (ValueError, TypeError, KeyError) as error:
                    raise ConfigError(
                        f"{self.branch.name}:{path}:{number}: not a release dsci wrote "
                        f"({type(error).__name__}: {error}); mend or remove that line in a commit"
                    ) from None
        return found

    def environments(self) -> list[str]:
        return sorted({path.split("/")[1] for path in self.branch.list(self.name) if path.endswith(".jsonl")})

    def serving(self, environment: str) -> Release | None:
        """The release that serves now: the newest one that passed its smoke test."""
        live = [release for release in self.releases(environment) if release.status == LIVE]
        return live[-1] if live else None

    def next_number(self, environment: str) -> int:
        return max((release.number for release in self.releases(environment)), default=0) + 1

    def find(self, environment: str, number: int) -> Release:
        """Release ``number`` of ``environment`` that served; ConfigError naming the ones there are."""
        releases = self.releases(environment)
        found = next((release for release in releases if release.number == number), None)
        served = [str(release.number) for release in releases if release.status == LIVE]
        choose = f"releases that served: {', '.join(served)}" if served else "none has served yet"
        if found is None:
            raise ConfigError(f"--to {number}: {environment} has no release {number}; {choose}")
        if found.status != LIVE:
            raise ConfigError(
                f"--to {number}: release {number} of {environment} never served ({found.note}); {choose}"
            )
        return found

    def manifests(self, environment: str, number: int) -> str | None:
        """The manifests release ``number`` of ``environment`` applied, as recorded."""
        found = self.branch.read(f"{self.name}/{environment}/{number}.yaml")
        return found.decode() if found is not None else None

    def record(self, release: Release, manifests: str) -> None:
        """Append ``release`` and keep the manifests it applied (for people: a rollback renders anew
        from the digests), in one commit, pushed when a remote is set."""
        folder = f"{self.name}/{release.environment}"

        def changes(read: Any) -> dict[str, bytes]:
            before = read(f"{folder}/releases.jsonl") or b""
            taken = {json.loads(line)["number"] for line in before.decode().splitlines() if line.strip()}
            if release.number in taken:  # another run recorded this number meanwhile: the next one
                release.number = max(taken) + 1
            return {f"{folder}/releases.jsonl": before + release.line().encode(),
                    f"{folder}/{release.number}.yaml": manifests.encode()}  # fmt: skip

        self.branch.record(
            changes,
            f"{release.environment}: release {release.number} {release.status} ({release.candidate.image})",
        )
