"""The release history and the sign-offs, kept as files on a git branch of the project's own repository.

Why a branch: it is where a team already looks (`git log dsci/releases`, the host's web view), it
survives the CI's workspace once pushed, every record is a commit with its time and author, and a
sign-off made on a laptop reaches the CI by `git push`. The branch is written with git's plumbing (a
private index, ``commit-tree``, ``update-ref`` with the old value): the working tree, the index and
the checked-out branch are never touched, and two writers at once cannot lose a record (the second
one's ``update-ref`` fails and it writes again on top of the first).

Layout: ``<name>/<environment>/releases.jsonl`` (one release per line),
``<name>/<environment>/<N>.yaml`` (the manifests release N applied, for people), and
``<name>/signoffs/<environment>/<role>/<image>/<key>.intoto.json``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import ConfigError, EnvError

ZERO = "0" * 40


@dataclass
class Branch:
    """A branch of the repository at ``root``; ``remote`` ("" for none) is fetched and pushed."""

    root: Path
    name: str
    remote: str = ""

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.name}"

    def check(self) -> Branch:
        """ConfigError unless ``root`` is in a git repository (the history needs one)."""
        if self._git("rev-parse", "--git-dir", check=False).returncode:
            raise ConfigError(
                f"{self.root}: not in a git repository, and the release history lives on a branch of it "
                f"(ci.deploy.releases_branch); run `git init` or deploy from the project's clone"
            )
        return self

    def fetch(self, *, take: bool = False) -> None:
        """The remote's branch, when a remote is set: the newest history first. The local branch moves
        to it when it is behind (or, with ``take``, whatever it holds: a record about to be made again
        on top of the remote's)."""
        if not self.remote:
            return
        mirror = f"refs/remotes/{self.remote}/{self.name}"
        done = self._git("fetch", "--quiet", self.remote, f"+{self.ref}:{mirror}", check=False)
        if done.returncode:
            said = done.stderr.strip().splitlines()
            if said and "couldn't find remote ref" in said[-1]:
                return  # nothing recorded there yet
            raise EnvError(f"git fetch {self.remote} {self.name} failed: {said[-1] if said else 'no answer'}")
        theirs, ours = self._rev(mirror), self._rev(self.ref)
        behind = (
            ours is None
            or self._git("merge-base", "--is-ancestor", ours, theirs, check=False).returncode == 0
        )
        if behind or take:
            self._git("update-ref", self.ref, theirs)

    def record(self, make: Callable[[Callable[[str], bytes | None]], Mapping[str, bytes]], message: str,
               *, tries: int = 3) -> None:  # fmt: skip
        """``commit`` and, with a remote, push; a push refused because another run pushed first is made
        again on top of theirs (``make`` reads the files anew), so no record is lost."""
        for attempt in range(tries):
            self.commit(make, message)
            if not self.remote:
                return
            done = self._git("push", "--quiet", self.remote, f"{self.ref}:{self.ref}", check=False)
            if done.returncode == 0:
                return
            said = done.stderr.strip().splitlines()
            raced = any(word in done.stderr for word in ("fetch first", "non-fast-forward", "rejected"))
            if not raced or attempt == tries - 1:
                raise EnvError(
                    f"git push {self.remote} {self.name} failed ({said[-1] if said else 'no answer'}); the "
                    "record is on the local branch: push it by hand"
                )
            self.fetch(take=True)

    def read(self, path: str) -> bytes | None:
        head = self._rev(self.ref)
        return self._blob(head, path) if head else None

    def _blob(self, head: str, path: str) -> bytes | None:
        shown = subprocess.run(["git", "cat-file", "blob", f"{head}:{path}"], cwd=self.root,
                               capture_output=True, check=False)  # fmt: skip
        return shown.stdout if shown.returncode == 0 else None

    def list(self, folder: str) -> list[str]:
        """The paths of the files under ``folder``."""
        head = self._rev(self.ref)
        if head is None:
            return []
        listed = self._git(
            "ls-tree", "-r", "--full-tree", "--name-only", head, "--", folder.rstrip("/") + "/", check=False
        )
        return listed.stdout.split()

    def commit(self, make: Callable[[Callable[[str], bytes | None]], Mapping[str, bytes]], message: str,
               *, tries: int = 5) -> str:  # fmt: skip
        """One commit on the branch that adds or replaces the files ``make`` returns (path: content);
        ``make`` reads the files as they are at the head it builds on, so a retry sees another's record."""
        for _ in range(tries):
            head = self._rev(self.ref)
            changes = make(lambda path, head=head: self._blob(head, path) if head else None)
            with tempfile.TemporaryDirectory(prefix="dsci-index-") as private:
                env = {**os.environ, "GIT_INDEX_FILE": str(Path(private) / "index"), **self._author()}
                if head:
                    self._git("read-tree", head, env=env)
                for path, content in changes.items():
                    made = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=self.root,
                                          input=content, capture_output=True, check=True)  # fmt: skip
                    blob = made.stdout.decode().strip()
                    self._git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
                tree = self._git("write-tree", env=env).stdout.strip()
                parents = ["-p", head] if head else []
                commit = self._git("commit-tree", tree, *parents, "-m", message, env=env).stdout.strip()
            if self._git("update-ref", self.ref, commit, head or ZERO, check=False).returncode == 0:
                return commit
        raise EnvError(f"{self.name}: another run kept moving the branch; record again")

    def _author(self) -> dict[str, str]:
        """Who a record's commit names: git's configured user, else dsci (a CI agent often has none)."""
        env = {}
        for key, variable, fallback in (
            ("user.name", "NAME", "dsci"),
            ("user.email", "EMAIL", "dsci@localhost"),
        ):
            value = self._git("config", key, check=False).stdout.strip()
            for role in ("AUTHOR", "COMMITTER"):
                if not os.environ.get(f"GIT_{role}_{variable}"):
                    env[f"GIT_{role}_{variable}"] = value or fallback
        return env

    def _rev(self, ref: str) -> str | None:
        found = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return found.stdout.strip() or None

    def _git(
        self, *args: str, check: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, check=False, env=env
        )
        if check and done.returncode:
            raise EnvError(f"git {args[0]} failed in {self.root}: {done.stderr.strip()[-300:]}")
        return done
