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


def path_of(name: str, environment: str, role: str, keyid: str, candidate: Candidate) -> str:
    """One file per environment, role, candidate and key: a person's newer verdict on a candidate
    replaces their older one, and a sign-off of an earlier release stays for its rollback."""
    image = candidate.digest.removeprefix("sha256:")[:16]
    key = hashlib.sha256(keyid.encode()).hexdigest()[:16]
    return f"{folder(name, environment)}/{role}/{image}/{key}.intoto.json"


def sign(branch: Branch, name: str, candidate: Candidate, environment: str, role: str, verdict: str,
         comment: str, key: Any, keyid: str) -> str:  # fmt: skip
    """Sign and record; the path on the branch."""
    envelope = provenance.sign(statement(candidate, environment, role, verdict, comment), key, keyid)
    path = path_of(name, environment, role, keyid, candidate)
    content = provenance.line(envelope).encode()
    branch.record(lambda read: {path: content}, f"{environment}: {role} {verdict}s {candidate.image}")
    return path


def check(branch: Branch, name: str, candidate: Candidate, environment: str,
          required: Mapping[str, list[str]], root: Path) -> list[dict[str, str]]:  # fmt: skip
    """The approving sign-off of each required role, or SecurityError saying what is missing and why.
    A trusted person's rejection of this very candidate stands against any approval."""
    approvals, problems = [], []
    for role, key_files in required.items():
        signers, _ = keys.signers(key_files, root, f"ci.deploy.environments.{environment}.signoffs.{role}")
        found: dict[str, list[Any]] = {"approve": [], "reject": [], "elsewhere": [], "refused": []}
        for path in branch.list(f"{folder(name, environment)}/{role}"):
            raw = branch.read(path) or b""
            try:
                envelope = json.loads(raw)
            except ValueError:
                found["refused"].append(f"{path.rpartition('/')[2]} is not a DSSE envelope")
                continue
            kind, said = _judge(envelope, signers, role, candidate, environment, path)
            if kind == "approve":
                said = {**said, "sha256": hashlib.sha256(raw).hexdigest()}
            found[kind].append(said)
        if found["reject"]:
            problems.append(f"{role}: {found['reject'][0]}")
        elif found["approve"]:
            approvals.append(found["approve"][0])
        else:
            why = found["refused"][:2] + found["elsewhere"][:1]
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


def _judge(envelope: Any, signers: list[trust.Signer], role: str, candidate: Candidate,
           environment: str, path: str) -> tuple[str, Any]:  # fmt: skip
    """("approve", the approval) of a sign-off that gives one; ("reject", why) for a trusted rejection of
    this candidate; ("elsewhere", ...) for one of other digests; ("refused", why) for anything else."""
    if not isinstance(envelope, dict):
        return "refused", f"{path.rpartition('/')[2]} is not a DSSE envelope"
    try:
        content, signer = trust.verify(envelope, signers, role, path.rpartition("/")[2])
    except trust.Refused as refused:
        return "refused", str(refused)
    predicate = content.get("predicate") if isinstance(content.get("predicate"), dict) else {}
    subjects = trust.subjects(content)
    wanted = {candidate.repository: candidate.digest.removeprefix("sha256:")}
    if candidate.bundle:
        wanted[candidate.bundle] = candidate.bundle_sha256
    if content.get("predicateType") != PREDICATE or predicate.get("role") != role:
        return "refused", f"{signer.name}'s statement is no {role} sign-off"
    if predicate.get("environment") != environment:
        return "refused", f"{signer.name} signed off {predicate.get('environment')}, not {environment}"
    if any(subjects.get(name) != digest for name, digest in wanted.items()):
        signed = ", ".join(f"{n} sha256:{d[:12]}" for n, d in subjects.items())
        return "elsewhere", f"{signer.name} signed off other digests ({signed})"
    if predicate.get("verdict") != "approve":
        return "reject", f"{signer.name} rejected it: {predicate.get('comment') or 'no comment'}"
    return "approve", {"role": role, "signer": signer.name, "fingerprint": signer.fingerprint,
                       "at": predicate.get("signedOn", "")}  # fmt: skip
