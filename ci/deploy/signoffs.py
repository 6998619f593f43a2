"""Sign-offs: a person's signed verdict on a release candidate, before it may go to an environment.

A sign-off is an in-toto Statement v1 in a DSSE envelope, signed with the person's own OpenSSH Ed25519
key (the format of the build's provenance, so a security team checks both alike). Its subjects are
the image and the bundle by digest; its predicate says the environment, the role, the verdict
(approve or reject) and a comment. An environment lists the roles it requires and the keys trusted
for each (ci.deploy.environments.NAME.signoffs); deploy refuses, with exit 4, while a role has no
approving sign-off by one of its keys for exactly this candidate, and says which and why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci.core.errors import SecurityError
from ci.deploy.history import Branch
from ci.deploy.releases import Candidate
from ci.security import keys, provenance, trust

PREDICATE = "https://dsci.dev/signoff/v1"
VERDICTS = ("approve", "reject")


def statement(
    candidate: Candidate, environment: str, role: str, verdict: str, comment: str
) -> dict[str, Any]:
    subjects = [
        {"name": candidate.repository, "digest": {"sha256": candidate.digest.removeprefix("sha256:")}}
    ]
    if candidate.bundle:
        subjects.append({"name": candidate.bundle, "digest": {"sha256": candidate.bundle_sha256}})
    return {
        "_type": trust.STATEMENT,
        "subject": subjects,
        "predicateType": PREDICATE,
        "predicate": {
            "environment": environment,
            "role": role,
            "verdict": verdict,
            "comment": comment,
            "signedOn": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }


def folder(name: str, environment: str) -> str:
    return f"{name}/signoffs/{environment}"


def path_of(name: str, environment: str, role: str, keyid: str) -> str:
    """One file per environment, role and key: a person's newer sign-off replaces their older one."""
    return f"{folder(name, environment)}/{role}/{hashlib.sha256(keyid.encode()).hexdigest()[:16]}.intoto.json"


def sign(branch: Branch, name: str, candidate: Candidate, environment: str, role: str, verdict: str,
         comment: str, key: Any, keyid: str) -> str:  # fmt: skip
    """Sign and record; the path on the branch."""
    envelope = provenance.sign(statement(candidate, environment, role, verdict, comment), key, keyid)
    path = path_of(name, environment, role, keyid)
    content = provenance.line(envelope).encode()
    branch.commit(lambda read: {path: content}, f"{environment}: {role} {verdict}s {candidate.image}")
    branch.push()
    return path


def check(branch: Branch, name: str, candidate: Candidate, environment: str,
          required: Mapping[str, list[str]], root: Path) -> list[dict[str, str]]:  # fmt: skip
    """The approving sign-off of each required role, or SecurityError saying what is missing and why."""
    approvals, problems = [], []
    for role, key_files in required.items():
        signers, _ = keys.signers(key_files, root, f"ci.deploy.environments.{environment}.signoffs.{role}")
        paths = [p for p in branch.list(f"{folder(name, environment)}/{role}") if p.endswith(".intoto.json")]
        found, why = None, []
        for path in paths:
            raw = branch.read(path) or b""
            verdict = _judge(json.loads(raw), signers, role, candidate, environment, path)
            if isinstance(verdict, dict):
                found = {**verdict, "sha256": hashlib.sha256(raw).hexdigest()}
                break
            why.append(verdict)
        if found:
            approvals.append(found)
        else:
            problems.append(f"{role}: " + ("; ".join(why) if why else "no sign-off"))
    if problems:
        command = f"invoke ci.signoff --env {environment} --role ROLE --image {candidate.image}"
        if candidate.bundle:
            command += f" --bundle {candidate.bundle} --bundle-sha256 {candidate.bundle_sha256}"
        raise SecurityError(
            f"{environment} needs sign-offs for {candidate.image}: {' | '.join(problems)}; "
            f"a trusted person signs off with `{command}`"
        )
    return approvals


def _judge(envelope: dict[str, Any], signers: list[trust.Signer], role: str, candidate: Candidate,
           environment: str, path: str) -> dict[str, str] | str:  # fmt: skip
    """The approval this sign-off gives, or why it gives none."""
    try:
        content, signer = trust.verify(envelope, signers, role, path.rpartition("/")[2])
    except trust.Refused as refused:
        return str(refused)
    predicate = content.get("predicate", {})
    subjects = trust.subjects(content)
    wanted = {candidate.repository: candidate.digest.removeprefix("sha256:")}
    if candidate.bundle:
        wanted[candidate.bundle] = candidate.bundle_sha256
    if content.get("predicateType") != PREDICATE or predicate.get("role") != role:
        return f"{signer.name}'s statement is no {role} sign-off"
    if predicate.get("environment") != environment:
        return f"{signer.name} signed off {predicate.get('environment')}, not {environment}"
    if any(subjects.get(name) != digest for name, digest in wanted.items()):
        signed = ", ".join(f"{n} sha256:{d[:12]}" for n, d in subjects.items())
        return f"{signer.name} signed off other digests ({signed})"
    if predicate.get("verdict") != "approve":
        return f"{signer.name} rejected it: {predicate.get('comment') or 'no comment'}"
    return {"role": role, "signer": signer.name, "fingerprint": signer.fingerprint,
            "at": predicate.get("signedOn", "")}  # fmt: skip
