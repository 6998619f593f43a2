"""Signed provenance: an in-toto Statement v1 with a SLSA Provenance v1 predicate, in a DSSE envelope.

The statement's subjects are what the build made (the bundle, encrypted and plain, its
manifest, the wheel and sdist; after the push, the image by digest); the predicate says
how: dsci and its version, the git commit and whether the tree was dirty, the digest of
the effective settings, the CI run. ``securesystemslib`` signs; the envelope is one line of
a ``.intoto.jsonl`` file beside the bundle, the layout SLSA's generators use, so that
``in-toto`` or any DSSE verifier reads it.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ci.security import trust

BUILD_TYPE = "urn:dsci:build:v1"  # what a dsci build is: the stages of ci.all (README, "Security")
BUILDER = "urn:dsci:builder:local"  # a build outside CI; in CI the builder is the CI run


def statement(
    subjects: Iterable[tuple[str, str]], *, git: Mapping[str, Any], settings_sha256: str, run_url: str,
    started: datetime, version: str, stage: str,
) -> dict[str, Any]:  # fmt: skip
    """The in-toto Statement v1 over ``subjects`` ((name, sha256) pairs)."""
    resolved = []
    if git.get("commit"):
        resolved.append({"uri": "git+file:.", "digest": {"gitCommit": git["commit"]}})
    metadata = {
        "startedOn": _time(started),
        "finishedOn": _time(datetime.now(UTC)),
    }
    if run_url:
        metadata["invocationId"] = run_url
    return {
        "_type": trust.STATEMENT,
        "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in subjects],
        "predicateType": trust.PROVENANCE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "stage": stage,
                    "source": {"commit": git.get("commit"), "dirty": git.get("dirty")},
                    "settings_sha256": settings_sha256,
                },
                "internalParameters": {"python": platform.python_version()},
                "resolvedDependencies": resolved,
            },
            "runDetails": {
                "builder": {"id": run_url or BUILDER, "version": {"dsci": version}},
                "metadata": metadata,
            },
        },
    }


def sign(content: Mapping[str, Any], key: Any, keyid: str) -> dict[str, Any]:
    """The statement in a DSSE envelope signed by the Ed25519 ``key``; ``keyid`` is its SSH fingerprint."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner, SSlibKey

    payload = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    signer = CryptoSigner(key, SSlibKey.from_crypto(key.public_key(), keyid=keyid))
    envelope = Envelope(payload=payload, payload_type=trust.PAYLOAD_TYPE, signatures={})
    envelope.sign(signer)
    return envelope.to_dict()


def line(envelope: Mapping[str, Any]) -> str:
    """The envelope as one line of a .intoto.jsonl file."""
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")) + "\n"


def describe(content: Mapping[str, Any], signer: trust.Signer) -> list[str]:
    """Who signed what, when, from which commit: the lines `invoke ci.verify` prints."""
    predicate = content.get("predicate", {})
    source = predicate.get("buildDefinition", {}).get("externalParameters", {}).get("source", {})
    run = predicate.get("runDetails", {})
    when = run.get("metadata", {}).get("finishedOn", "an unknown time")
    commit = source.get("commit") or "no commit"
    dirty = " (with uncommitted changes)" if source.get("dirty") else ""
    version = run.get("builder", {}).get("version", {}).get("dsci", "?")
    lines = [
        f"signed by {signer.name} ({signer.fingerprint}, trusted by {signer.source})",
        f"built {when} from commit {commit}{dirty} by dsci {version}",
    ]
    if run.get("metadata", {}).get("invocationId"):
        lines.append(f"in the CI run {run['metadata']['invocationId']}")
    lines += [f"  {s['name']}  sha256 {s['digest']['sha256']}" for s in content.get("subject", [])]
    return lines


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
