"""Verify before load: who signed a build, and that every file is the file they signed.

Standalone on purpose (the standard library, ``cryptography``, and ``pyrage`` for an
encrypted bundle): dsci copies this file into every image as ``dsci_trust.py``, so the
serving app and `invoke ci.verify` run the very same checks. The formats are the
ecosystem's own, so a security team can check without dsci: DSSE envelopes holding
in-toto Statements (one per line of a ``.intoto.jsonl`` file), OpenSSH Ed25519 public
keys and ``allowed_signers`` files (``ssh-keygen -Y``), age encryption.

Every refusal is a ``Refused`` whose message is one line naming the file and what differed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT = "https://in-toto.io/Statement/v1"
PROVENANCE = "https://slsa.dev/provenance/v1"
MANIFEST = "manifest.json"
AGE_HEADER = b"age-encryption.org/v1\n"
BUILD_ROLE = "build"
CHUNK = 1 << 20


class Refused(Exception):
    """A signature, digest or decryption check refused: nothing may be loaded."""


@dataclass(frozen=True)
class Signer:
    """A trusted public key: who it is, the roles it may sign for (none listed: every role)."""

    name: str
    roles: tuple[str, ...]
    key: Any  # cryptography's Ed25519PublicKey
    fingerprint: str  # SHA256:..., as `ssh-keygen -l` prints it
    source: str  # file:line

    def may(self, role: str) -> bool:
        return not self.roles or role in self.roles


def fingerprint(blob: bytes) -> str:
    """An OpenSSH key's fingerprint from its wire-format blob: ``SHA256:`` and unpadded base64."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


_KEY = re.compile(r"(?:^|\s)(ssh-ed25519|ssh-rsa|ecdsa-sha2-\S+|sk-\S+)\s+([A-Za-z0-9+/=]+)(?:\s+(.*))?$")
_NAMESPACES = re.compile(r'namespaces="([^"]*)"')


def read_signers(text: str, source: str) -> list[Signer]:
    """The keys of a public key file (``ssh-ed25519 AAAA... comment``) or an allowed_signers file
    (``principals [namespaces="build,qa"] ssh-ed25519 AAAA...``: the namespaces are the roles)."""
    try:
        from cryptography.hazmat.primitives.serialization import load_ssh_public_key
    except ImportError:  # an image built without signatures: it cannot check one, so it loads nothing
        raise Refused(
            f"{source}: cryptography is not installed here, so no signature can be checked"
        ) from None

    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        match = _KEY.search(line)
        if match is None:
            raise Refused(f"{where}: not an OpenSSH public key or allowed_signers line")
        kind, blob64, comment = match.group(1), match.group(2), (match.group(3) or "").strip()
        if kind != "ssh-ed25519":
            raise Refused(f"{where}: a {kind} key; dsci trusts Ed25519 keys only (ssh-keygen -t ed25519)")
        before = line[: match.start(1)].strip()
        principals = before.split()[0] if before else ""
        roles = _NAMESPACES.search(before)
        try:
            key = load_ssh_public_key(f"{kind} {blob64}".encode())
            blob = base64.b64decode(blob64)
        except ValueError as error:
            raise Refused(f"{where}: not a valid Ed25519 public key ({error})") from None
        listed = tuple(r.strip() for r in roles.group(1).split(",") if r.strip()) if roles else ()
        found.append(
            Signer(principals or comment or fingerprint(blob), listed, key, fingerprint(blob), where)
        )
    return found


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a signature signs."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def read_envelopes(path: Path) -> list[dict[str, Any]]:
    """The DSSE envelopes of a ``.intoto.jsonl`` file, one per line."""
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        envelopes = [json.loads(line) for line in lines]
    except FileNotFoundError:
        raise Refused(f"{path.name}: no provenance beside the bundle; nothing signed it") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise Refused(f"{path.name}: not a DSSE envelope file ({error})") from None
    if not envelopes or not all(isinstance(e, dict) for e in envelopes):
        raise Refused(f"{path.name}: not a DSSE envelope file (no envelope in it)")
    return envelopes


def verify(envelope: dict[str, Any], signers: list[Signer], role: str, source: str) -> tuple[dict, Signer]:
    """(the in-toto Statement, who signed it) once a trusted key with ``role`` signed the envelope."""
    from cryptography.exceptions import InvalidSignature

    try:
        kind, payload = envelope["payloadType"], base64.b64decode(envelope["payload"], validate=True)
        signatures = [(s.get("keyid", ""), base64.b64decode(s["sig"], validate=True))
                      for s in envelope["signatures"]]  # fmt: skip
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise Refused(f"{source}: not a DSSE envelope ({type(error).__name__}: {error})") from None
    if kind != PAYLOAD_TYPE:
        raise Refused(f"{source}: payload type {kind!r}, not an in-toto statement ({PAYLOAD_TYPE})")
    if not signatures:
        raise Refused(f"{source}: the envelope carries no signature")
    message, unknown = pae(kind, payload), []
    for keyid, signature in signatures:
        for signer in signers:
            try:
                signer.key.verify(signature, message)
            except InvalidSignature:
                continue
            if not signer.may(role):
                raise Refused(
                    f"{source}: signed by {signer.name} ({signer.fingerprint}), who may not sign for "
                    f"{role!r} ({signer.source} lists {', '.join(signer.roles)})"
                )
            try:
                statement = json.loads(payload)
            except ValueError as error:
                raise Refused(f"{source}: the signed payload is not JSON ({error})") from None
            if not isinstance(statement, dict) or statement.get("_type") != STATEMENT:
                raise Refused(f"{source}: the signed payload is not an in-toto Statement v1")
            return statement, signer
        unknown.append(keyid or "a key without id")
    known = {s.fingerprint: s for s in signers}
    for keyid in unknown:
        if keyid in known:
            raise Refused(
                f"{source}: the signature of {known[keyid].name} ({keyid}) does not match: "
                "the envelope was altered after signing"
            )
    if not signers:
        raise Refused(f"{source}: no trusted keys to check the signature of {unknown[0]} against")
    raise Refused(f"{source}: signed by {', '.join(unknown)}, which is not a trusted key")


def subjects(statement: dict[str, Any]) -> dict[str, str]:
    """{name: sha256} of the statement's subjects."""
    found = {}
    for subject in statement.get("subject") or []:
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict):
            found[str(subject.get("name"))] = str(subject["digest"].get("sha256", ""))
    return found


def signed_for(envelopes: list[dict], signers: list[Signer], role: str, name: str, source: str) -> tuple:
    """(statement, signer) of the first envelope that names ``name`` among its subjects, verified."""
    checked = []
    for number, envelope in enumerate(envelopes, start=1):
        statement, signer = verify(
            envelope, signers, role, f"{source}:{number}" if len(envelopes) > 1 else source
        )
        if name in subjects(statement):
            return statement, signer
        checked.append(statement)
    names = ", ".join(sorted({n for s in checked for n in subjects(s)})) or "nothing"
    raise Refused(
        f"{name}: not among the signed subjects of {source} (it signs {names}): signed for another build"
    )


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex digest, size) of a file, streamed: ci.core.files' own, written again because the image
    has this module and not the ci package."""
    digest, size, buffer = hashlib.sha256(), 0, bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while read := f.readinto(buffer):
            digest.update(view[:read])
            size += read
    return digest.hexdigest(), size


def expect(statement: dict[str, Any], name: str, digest: str, what: str = "") -> None:
    """Refused unless the statement signs ``name`` with this sha256."""
    signed = subjects(statement).get(name)
    if signed is None:
        raise Refused(f"{name}: not among the signed subjects; signed for another build")
    if signed != digest:
        raise Refused(f"{name}{what}: sha256 {digest[:16]}… but the signature says {signed[:16]}…")


def is_encrypted(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(AGE_HEADER)) == AGE_HEADER


def identities(text: str, source: str) -> list[Any]:
    """pyrage identities from an age identity file (AGE-SECRET-KEY-1... lines) or an OpenSSH private key."""
    import pyrage

    try:
        if "-----BEGIN OPENSSH PRIVATE KEY-----" in text:
            return [pyrage.ssh.Identity.from_buffer(text.encode())]
        keys = [line.strip() for line in text.splitlines() if line.strip().startswith("AGE-SECRET-KEY-")]
        found = [pyrage.x25519.Identity.from_str(key) for key in keys]
    except (pyrage.IdentityError, ValueError) as error:
        raise Refused(f"{source}: not an age identity ({error})") from None
    if not found:
        raise Refused(f"{source}: no age identity in it (an AGE-SECRET-KEY-1... line, or an OpenSSH key)")
    return found


class _Hashing:
    """A writer that only hashes what it is given."""

    def __init__(self) -> None:
        self.digest, self.size = hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def decrypt(ciphertext: Path, keys: list[Any], target: Path) -> None:
    """The age file decrypted to ``target``, streamed (by pyrage, in Rust, at the age command's speed).

    Age authenticates every 64 KiB chunk and the end: a failure removes ``target``, so nothing
    half-decrypted stays."""
    import pyrage

    try:
        pyrage.decrypt_file(str(ciphertext), str(target), keys)
    except (pyrage.DecryptError, OSError) as error:
        target.unlink(missing_ok=True)
        raise _refusal(ciphertext, error) from None


def decrypted_digest(ciphertext: Path, keys: list[Any]) -> tuple[str, int]:
    """(sha256, size) of the age file's plaintext, streamed through a hash: nothing is written."""
    import pyrage

    sink = _Hashing()
    try:
        with open(ciphertext, "rb") as source:
            pyrage.decrypt_io(source, sink, keys)
    except (pyrage.DecryptError, OSError) as error:
        raise _refusal(ciphertext, error) from None
    return sink.digest.hexdigest(), sink.size


def _refusal(ciphertext: Path, error: Exception) -> Exception:
    """What a failed decryption says: a Refused for a wrong identity or altered bytes; any other
    error (a full disk, a missing folder) as it is. pyrage raises a bare OSError for a chunk that
    fails its authentication."""
    said = str(error)
    if isinstance(error, OSError) and (type(error) is not OSError or said != "decryption error"):
        return error
    if "No matching keys" in said:
        return Refused(f"{ciphertext.name}: the identity given is not among its recipients")
    return Refused(f"{ciphertext.name}: cannot be decrypted ({said}): altered or truncated")


def open_bundle(
    bundle: Path, *, envelopes: Path | None, signers: list[Signer], role: str = BUILD_ROLE,
    identity: list[Any] | None = None, workdir: Path | None = None, no_identity: str = "",
) -> tuple[dict[str, Any], dict[str, Any] | None, Any]:  # fmt: skip
    """(the manifest, the statement or None, who signed or None), every check passed first.

    With ``envelopes``, a trusted key must have signed the bundle, and its manifest inside. An
    encrypted bundle is decrypted with ``identity``: into ``workdir``, or, without one, only hashed
    and compared with the signed plaintext; without an identity and a ``workdir``, its ciphertext
    is all that is checked. The checked files land in ``workdir`` when given; without one nothing is
    written. A refusal leaves ``workdir`` empty."""
    statement = signer = None
    if envelopes is not None:
        statement, signer = signed_for(read_envelopes(envelopes), signers, role, bundle.name, envelopes.name)
        expect(statement, bundle.name, sha256_file(bundle)[0])
    try:
        plain = bundle
        if is_encrypted(bundle):
            if not identity and workdir is None:  # checked as far as one can without the identity
                return {}, statement, signer
            if not identity:
                why = f" ({no_identity})" if no_identity else ""
                raise Refused(f"{bundle.name}: encrypted, and no age identity is mounted to decrypt it{why}")
            if workdir is None:  # decryptable, to the very plaintext signed: hashed, never written
                digest, _ = decrypted_digest(bundle, identity)
                if statement is not None:
                    expect(statement, bundle.name.removesuffix(".age"), digest, " (decrypted)")
                return {}, statement, signer
            # The signed ciphertext, authenticated by age chunk by chunk, gives the signed plaintext;
            # its manifest and every file are checked against the signature below.
            plain = workdir / bundle.name.removesuffix(".age")
            decrypt(bundle, identity, plain)
        manifest = _check_contents(plain, statement, workdir)
    except Exception:
        if workdir is not None:
            _empty(workdir)
        raise
    finally:
        if plain is not bundle:
            plain.unlink(missing_ok=True)
    return manifest, statement, signer


def _check_contents(tar_path: Path, statement: dict[str, Any] | None, workdir: Path | None) -> dict[str, Any]:
    """The manifest, after every file of it matched its sha256 and size (written to ``workdir``)."""
    with tarfile.open(tar_path) as tar:
        try:
            raw = tar.extractfile(MANIFEST).read()
            manifest = json.loads(raw)
        except (KeyError, AttributeError, ValueError):
            raise Refused(f"{tar_path.name}: no readable {MANIFEST} in it") from None
        if statement is not None:
            names = [n for n in subjects(statement) if n.endswith(".manifest.json")]
            if names:
                expect(statement, names[0], hashlib.sha256(raw).hexdigest(), f" ({MANIFEST} in the bundle)")
        for entry in manifest.get("files", []):
            try:
                data = tar.extractfile(entry["path"]).read()
            except (KeyError, AttributeError):
                raise Refused(
                    f"{entry['path']}: in the manifest of {tar_path.name} but not in the bundle"
                ) from None
            if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise Refused(f"{entry['path']}: does not match the manifest of {tar_path.name}")
            if workdir is not None:
                target = workdir / entry["path"]
                if not target.resolve().is_relative_to(workdir.resolve()):
                    raise Refused(f"{entry['path']}: a path outside the bundle")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    return manifest


def _empty(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)


def in_memory(folder: Path) -> bool:
    """Whether ``folder`` is on a tmpfs (or ramfs): decrypted files never touch a disk there."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    best, kind = "", ""
    resolved = str(folder.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3:
            point = parts[1].replace("\\040", " ")
            if (resolved == point or resolved.startswith(point.rstrip("/") + "/")) and len(point) >= len(
                best
            ):
                best, kind = point, parts[2]
    return kind in ("tmpfs", "ramfs")


def environment_identity(variable: str = "DSCI_IDENTITY") -> tuple[list[Any] | None, str]:
    """(identities, where) from the file an environment variable names; (None, why) when none is mounted."""
    path = os.environ.get(variable, "")
    if not path:
        return None, f"{variable} is not set"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        return None, f"{variable}={path}: {error.strerror or error}"
    return identities(text, path), path
