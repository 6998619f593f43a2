"""The sign stage, the image's attestation after the push, and `invoke ci.verify`."""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ci import package
from ci.core.errors import ConfigError, SecurityError
from ci.core.files import atomic, sha256_file
from ci.core.results import Check, StageResult, Status
from ci.core.text import display
from ci.security import provenance, trust

# Where the Dockerfile template puts the bundle, its provenance and the trusted keys.
BUNDLE_FOLDER = "/app/bundle"


@dataclass(frozen=True)
class Signing:
    """What a signature needs besides its subjects: the key, and the build's facts for the predicate."""

    key: Any  # cryptography's Ed25519PrivateKey
    keyid: str  # its SSH fingerprint
    git: Mapping[str, Any]
    settings_sha256: str
    run_url: str
    started: datetime
    version: str


def provenance_file(bundle: Path) -> Path:
    """Where a bundle's signed provenance lives: ``<stem>.intoto.jsonl`` beside it."""
    return bundle.with_name(f"{package.stem(bundle)}.intoto.jsonl")


def subjects_of(bundle: Path) -> list[tuple[str, str]]:
    """(name, sha256) of what the package stage made: the plain tar (as it recorded it), the bundle as
    it is now (the ciphertext, when encrypted), its manifest, and the newest wheel and sdist beside it."""
    folder = bundle.parent
    found = [package.plain_digest(bundle)]
    if bundle.name != found[0][0]:
        found.append((bundle.name, sha256_file(bundle)[0]))
    elif sha256_file(bundle)[0] != found[0][1]:
        raise ConfigError(
            f"{display(bundle)} differs from the digest its .sha256 records; run `invoke ci.package` again"
        )
    manifest = folder / f"{package.stem(bundle)}.manifest.json"
    if not manifest.is_file():
        raise ConfigError(f"{display(manifest)}: missing; `invoke ci.package` writes it beside the bundle")
    found.append((manifest.name, sha256_file(manifest)[0]))
    for pattern in ("*.whl", "*.tar.gz"):
        newest = max(folder.glob(pattern), key=lambda p: p.stat().st_mtime, default=None)
        if newest is not None:
            found.append((newest.name, sha256_file(newest)[0]))
    return found


def sign_build(dist: Path, signing: Signing, signers: list[trust.Signer]) -> StageResult:
    """The sign stage: the provenance of the newest bundle, signed, checked against the trusted keys."""
    bundle = package.latest_bundle(dist)
    if bundle is None:
        raise ConfigError(f"no model bundle in {display(dist)} to sign; `invoke ci.package` makes one")
    subjects = subjects_of(bundle)
    envelope = _signed(subjects, signing, stage="sign")
    target = provenance_file(bundle)
    _check_trusted(envelope, signers, signing.keyid, target.name)
    with atomic(target) as f:
        f.write(provenance.line(envelope).encode())
    checks = [
        Check(
            "provenance",
            Status.PASSED,
            f"{target.name}: {len(subjects)} subjects signed by {signing.keyid}",
            details={"subjects": dict(subjects), "keyid": signing.keyid},
        )
    ]
    if not signers:
        unchecked = "ci.security.trusted is empty: nothing checks this signature before the model loads"
        checks.append(Check("trusted", Status.WARNED, unchecked))
    return StageResult("sign", checks, [str(target)])


def attest_image(
    bundle: Path, reference: str, digest: str, signing: Signing, signers: list[trust.Signer]
) -> Check:
    """After the push: the image, by digest, signed beside the bundle (a second line of its provenance)."""
    target = provenance_file(bundle)
    if not target.is_file():
        raise ConfigError(f"{display(target)}: missing; `invoke ci.sign` signs the bundle before the push")
    first = target.read_text(encoding="utf-8").splitlines()[0]
    built = trust.subjects(json.loads(base64.b64decode(json.loads(first)["payload"])))
    ours = f"{package.stem(bundle)}.bundle"
    bundles = [(name, sha) for name, sha in built.items() if name.startswith(ours)]  # plain and encrypted
    envelope = _signed([(reference, digest.removeprefix("sha256:")), *bundles], signing, stage="push")
    _check_trusted(envelope, signers, signing.keyid, target.name)
    with atomic(target) as f:
        f.write((first + "\n" + provenance.line(envelope)).encode())
    return Check(
        "attestation", Status.PASSED, f"{reference}@{digest} signed in {target.name} by {signing.keyid}"
    )


def _signed(subjects: list[tuple[str, str]], signing: Signing, stage: str) -> dict[str, Any]:
    content = provenance.statement(
        subjects, git=signing.git, settings_sha256=signing.settings_sha256, run_url=signing.run_url,
        started=signing.started, version=signing.version, stage=stage,
    )  # fmt: skip
    return provenance.sign(content, signing.key, signing.keyid)


def _check_trusted(envelope: dict[str, Any], signers: list[trust.Signer], keyid: str, name: str) -> None:
    """What serving will check, checked now: a key the trusted keys refuse fails here, not in production."""
    if not signers:
        return
    try:
        trust.verify(envelope, signers, trust.BUILD_ROLE, name)
    except trust.Refused as error:
        raise SecurityError(
            f"the signing key {keyid} is not trusted to sign builds ({error}); add its public key to "
            "ci.security.trusted, or sign with a trusted key"
        ) from None


def verify(
    path: Path, *, signers: list[trust.Signer], identity: list[Any] | None, envelopes: Path | None = None
) -> list[str]:
    """`invoke ci.verify` on a bundle file: what it proved, as lines; SecurityError on any refusal."""
    envelopes = envelopes or provenance_file(path)
    if not signers:
        raise ConfigError(
            "no trusted keys to verify against: set ci.security.trusted, or give --trusted FILE"
        )
    try:
        _, statement, signer = trust.open_bundle(
            path, envelopes=envelopes, signers=signers, identity=identity
        )
        manifest = path.with_name(f"{package.stem(path)}.manifest.json") if _is_bundle(path) else None
        if manifest is not None and manifest.is_file():
            trust.expect(statement, manifest.name, sha256_file(manifest)[0])
        images = [_image_line(e, signers, envelopes.name) for e in trust.read_envelopes(envelopes)[1:]]
    except trust.Refused as error:
        raise SecurityError(str(error)) from None
    lines = [f"{path.name}: signature and digests verified", *provenance.describe(statement, signer)]
    lines += [line for line in images if line]
    if trust.is_encrypted(path):
        opened = "decrypted with the identity given; the plaintext is the one signed" if identity else (
            "encrypted; give --identity FILE to check that it decrypts")  # fmt: skip
        lines.append(opened)
    return lines


def _image_line(envelope: dict[str, Any], signers: list[trust.Signer], source: str) -> str:
    statement, signer = trust.verify(envelope, signers, trust.BUILD_ROLE, source)
    image = next(iter(trust.subjects(statement).items()))
    return f"image {image[0]}@sha256:{image[1]} signed by {signer.name} ({signer.fingerprint})"


def _is_bundle(path: Path) -> bool:
    return any(path.name.endswith(s) for s in package.SUFFIXES)


def verify_image(engine: Any, reference: str, **options: Any) -> list[str]:
    """`invoke ci.verify IMAGE`: the bundle and provenance copied out of the image, then verified.

    The image's own trusted keys are not used: whoever built the image chose those."""
    import io
    import tarfile

    import docker

    try:
        container = engine.containers.create(engine.images.get(reference).id, entrypoint=["true"])
    except docker.errors.ImageNotFound:
        raise ConfigError(
            f"image {reference} is not in the Docker engine; pull it or build it first"
        ) from None
    try:
        stream, _ = container.get_archive(BUNDLE_FOLDER)
        archive = io.BytesIO(b"".join(stream))
    except docker.errors.NotFound:
        raise SecurityError(
            f"{reference}: no {BUNDLE_FOLDER} in it: not a dsci image, or built before signing"
        ) from None
    finally:
        container.remove(force=True)
    with tempfile.TemporaryDirectory(prefix="dsci-verify-") as folder, tarfile.open(fileobj=archive) as tar:
        tar.extractall(folder, filter="data")
        found = Path(folder) / Path(BUNDLE_FOLDER).name
        bundle = next((p for p in found.iterdir() if _is_bundle(p)), None)
        if bundle is None:
            raise SecurityError(f"{reference}: no bundle in {BUNDLE_FOLDER}")
        lines = verify(bundle, **options)
    return [f"{reference}: {lines[0]}", *lines[1:]]
