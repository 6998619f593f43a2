"""A release's way out: render and validate the manifests, run them, wait for readiness, smoke-test,
record it; on any failure, roll back by itself to the release that served before and prove it serves.

Nothing that serves is touched until the manifests are valid, the sign-offs are in, the identity's
Secret is there and (on the local target) the new image is pulled: a bad setting, a missing Secret or
a registry that is down leave the running release as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci.core import files, settings
from ci.core.errors import CheckFailed, DsciError, SecurityError
from ci.core.results import Check, Status
from ci.deploy import manifests
from ci.deploy.releases import FAILED, Candidate, History, Release
from ci.parity.record import Scored


@dataclass
class Smoke:
    """Rows posted to a release's /predict and what development predicts for them."""

    rows: list[dict[str, Any]]
    expected: Scored | None  # None: the golden set changed since the release was recorded
    golden_sha256: str
    rtol: float
    atol: float
    columns: list[str] = field(default_factory=list)  # the model's, in its order

    def run(self, target: Any, address: str) -> str:
        from ci.parity.compare import compare

        status, answer = target.post(address, "/predict", {"rows": self.rows})
        if status != 200 or not isinstance(answer, dict) or "predictions" not in answer:
            said = answer.get("error", answer) if isinstance(answer, dict) else answer
            raise CheckFailed(f"/predict answered {status or 'nothing'}: {str(said)[:200]}")
        served = Scored.of(answer)
        if not isinstance(served.predictions, list) or len(served.predictions) != len(self.rows):
            count = len(served.predictions) if isinstance(served.predictions, list) else "no list of"
            raise CheckFailed(f"/predict answered {count} predictions for {len(self.rows)} rows")
        if self.expected is None:
            return f"{len(self.rows)} rows predicted (the golden set changed since: not compared)"
        found = compare(self.expected, served, self.rtol, self.atol, other_name="the release")
        if not found.same:
            raise CheckFailed(
                f"the release predicts otherwise than development: {found.describe(self.rtol, self.atol)}"
            )
        return f"{len(self.rows)} golden rows predicted as development predicts them"

    def record(self) -> dict[str, Any]:
        predictions = self.expected.to_json() if self.expected else None
        return {"golden_sha256": self.golden_sha256, "rows": len(self.rows), "columns": self.columns,
                "predictions": predictions}  # fmt: skip


@dataclass
class Rollout:
    """One environment of one deployment, run by its target (Local, or Cluster), its releases in
    ``history``."""

    name: str
    environment: str
    env: settings.Environment
    cfg: settings.Deploy
    history: History
    target: Any  # ci.deploy.local.Local or ci.deploy.cluster.Cluster; None when it only renders
    work: Path  # build/ci/deploy: the kustomize tree and the rendered YAML
    secret: str  # the Secret that holds the identity of an encrypted bundle
    identity: str  # the age identity the local target puts in that Secret
    by: str
    commit: str
    smoke_for: Callable[[Release], Smoke]  # the smoke test a release passed, to repeat it
    say: Callable[[str], None] = print

    def plan(self, candidate: Candidate, number: int) -> manifests.Plan:
        annotations = {"dsci.dev/environment": self.environment, "dsci.dev/release": str(number)}
        return manifests.Plan(self.name, candidate.repository, candidate.digest, self.environment, self.env,
                              self._secret(candidate), annotations)  # fmt: skip

    def render(self, candidate: Candidate, number: int, *, write: bool = True) -> list[dict[str, Any]]:
        """The release's documents, validated; with ``write``, the kustomize tree and the YAML written."""
        plan = self.plan(candidate, number)
        documents = manifests.render(plan)
        manifests.validate(
            documents, self.cfg.kubernetes_version, f"ci.deploy.environments.{self.environment}"
        )
        if write:
            manifests.write_tree(self.work / "kustomize", plan)
            files.write_text(self.work / f"{self.environment}.yaml", manifests.dump(documents))
        return documents

    def deploy(self, candidate: Candidate, smoke: Smoke, approvals: list[dict[str, str]]) -> Check:
        serving = self.history.serving(self.environment)
        number = self.history.next_number(self.environment)
        documents = self.render(candidate, number)
        release = Release(
            number, self.environment, candidate, self.by, _now(), self.commit, signoffs=approvals
        )
        self._prepare(candidate)
        return self._go(release, documents, smoke, serving)

    def unchanged(self, candidate: Candidate) -> Check | None:
        """A passed check when the release that serves is ``candidate`` with the manifests these settings
        render, and its pods are all ready: nothing to deploy. None when anything differs or does not
        answer, and the deploy goes on."""
        serving = self.history.serving(self.environment)
        # The same image and bundle; the provenance's second line, the push's, is signed anew each run.
        unsigned = replace(candidate, provenance_sha256="")
        if serving is None or unsigned != replace(serving.candidate, provenance_sha256=""):
            return None
        documents = manifests.render(self.plan(candidate, serving.number))
        recorded = self.history.manifests(self.environment, serving.number)
        if recorded != manifests.dump(documents):
            return None
        try:
            running = self.target.running(documents)
            ready = self.target.wait_ready(running, 5) if running else []
        except DsciError:
            return None
        if not ready:
            return None
        what = f"release {serving.number} of {self.environment}"
        units = f"{len(ready)} {self.target.unit}{'s' if len(ready) > 1 else ''}"
        message = (f"{what} already serves {candidate.image} with these manifests: {units} ready; nothing to "
                   f"deploy (its smoke test passed when it was released)")  # fmt: skip
        self.say(message)
        details = {"release": serving.number, "environment": self.environment, "image": candidate.image,
                   "unchanged": True}  # fmt: skip
        return Check("deploy", Status.PASSED, message, details=details)

    def rollback(self, to: Release, approvals: list[dict[str, str]]) -> Check:
        """Release ``to`` again: its manifests rendered anew from its digests (the branch gives digests,
        never YAML to apply), with the sign-offs the environment asks for today."""
        serving = self.history.serving(self.environment)
        number = self.history.next_number(self.environment)
        documents = self.render(to.candidate, number)
        release = Release(number, self.environment, to.candidate, self.by, _now(), self.commit,
                          signoffs=approvals, rollback_of=to.number)  # fmt: skip
        self._prepare(to.candidate)
        return self._go(release, documents, self.smoke_for(to), serving)

    def _prepare(self, candidate: Candidate) -> None:
        """What must be there before anything that serves is touched: the image, the Secret."""
        namespace = self.env.namespace or self.environment
        self.target.prepare(namespace, self._secret(candidate), self.identity, candidate, self.say)

    def _secret(self, candidate: Candidate) -> str:
        """The identity's Secret, for an encrypted bundle; "" for one that is not."""
        return self.secret if candidate.bundle.endswith(".age") else ""

    def _go(
        self, release: Release, documents: list[dict[str, Any]], smoke: Smoke, serving: Release | None
    ) -> Check:
        clock = time.perf_counter()
        what = f"release {release.number} of {self.environment}"
        try:
            self.say(f"starting {what}: {release.candidate.image}")
            addresses = self.target.wait_ready(self.target.apply(documents), self.cfg.timeout)
            said = [smoke.run(self.target, address) for address in addresses][-1]
        except Exception as failure:  # whatever went wrong, what served before serves again
            said = failure.message if isinstance(failure, DsciError) else f"internal error: {failure!r}"
            self.say(f"{what} failed: {said}")
            now = self._restore(serving, documents)
            release.status, release.note = FAILED, f"{said}; {now}"
            try:
                self.history.record(release, manifests.dump(documents))
            except DsciError as error:
                now += f"; the failed release was not recorded: {error.message}"
            if not isinstance(failure, DsciError):
                raise  # a bug in dsci: its traceback, once the previous release serves again
            kind = SecurityError if isinstance(failure, SecurityError) else CheckFailed
            raise kind(f"{what} failed: {said}; {now}") from None
        took = time.perf_counter() - clock
        release.smoke = {**smoke.record(), "message": said, "seconds": round(took, 1)}
        self.history.record(release, manifests.dump(documents))
        ready = f"{len(addresses)} {self.target.unit}{'s' if len(addresses) > 1 else ''}"
        message = (
            f"{what} serves {release.candidate.image}: {ready} ready and smoke-tested in {took:.1f} s; {said}"
        )
        details = {"release": release.number, "environment": self.environment,
                   "image": release.candidate.image, "seconds": round(took, 1),
                   "rollback_of": release.rollback_of}  # fmt: skip
        self.say(message)
        return Check("deploy", Status.PASSED, message, details=details, duration=took)

    def _restore(self, serving: Release | None, failed: list[dict[str, Any]]) -> str:
        """Bring back the release that served before, rendered anew from its digests; what serves now,
        in words."""
        try:
            if serving is None:
                self.target.remove(failed)
                return "no release served before it, so it was removed and nothing serves"
            self.say(f"rolling back to release {serving.number}: {serving.candidate.image}")
            documents = self.render(serving.candidate, serving.number, write=False)
            addresses = self.target.wait_ready(self.target.apply(documents), self.cfg.timeout)
            said = [self.smoke_for(serving).run(self.target, address) for address in addresses][-1]
        except DsciError as failure:
            back = f"release {serving.number}" if serving else "nothing"
            return f"the rollback to {back} failed too: {failure.message}"
        return (f"rolled back by itself: release {serving.number} ({serving.candidate.image}) serves again: "
                f"{said}")  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
