"""Keys: made by `invoke ci.keys.create`, read from files or the CI's secret store, never from the repository.

A signing key is an OpenSSH Ed25519 private key (a person's, the CI's, or one made
here); who may sign is a list of public keys or allowed_signers files; an encrypted
bundle's recipients are age X25519 (``age1...``) or OpenSSH public keys; an identity
(the private half) lives only where the model runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci.core import secrets
from ci.core.errors import ConfigError, SecurityError
from ci.core.files import atomic
from ci.core.text import display
from ci.security import trust


def expand(path: str, root: Path) -> Path:
    """A key setting's path: ``~`` expanded, relative to the project's root."""
    return root / os.path.expanduser(path)


def create(path: Path, kind: str, comment: str, *, would_commit: bool) -> list[Path]:
    """A new key pair: ``path`` (private, mode 600) and ``path.pub``; refuses to overwrite or to
    write a private key where git would track it."""
    public = path.with_name(path.name + ".pub")
    for target in (path, public):
        if target.exists():
            raise ConfigError(f"{display(target)} exists; dsci never overwrites a key: choose another path")
    if would_commit:
        raise SecurityError(
            f"{display(path)}: git would commit this private key; keep keys outside the repository "
            "(e.g. ~/.config/dsci/) or list the path in .gitignore"
        )
    if kind == "signing":
        private_text, public_text = _ssh_key(comment)
    else:
        private_text, public_text = _age_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path, mode=0o600) as f:
        f.write(private_text.encode())
    with atomic(public) as f:
        f.write(public_text.encode())
    return [path, public]


def _ssh_key(comment: str) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}\n" if comment else f"{public.decode()}\n"


def _age_key() -> tuple[str, str]:
    """An identity file as `age-keygen` writes it, and its recipient."""
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"# created: {created}\n# public key: {recipient}\n{identity}\n", f"{recipient}\n"


def signing_key(text: str, source: str, passphrase: str = "") -> tuple[Any, str]:
    """(the Ed25519 private key, its public fingerprint) from OpenSSH private key text, or its base64
    on one line (`base64 -w0 key`), as a CI whose secrets are single lines holds it."""
    import base64
    import binascii
    import contextlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    secrets.remember(text)  # the key's text is masked wherever dsci shows or writes anything
    if "PRIVATE KEY-----" not in text:
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):  # not base64: refused below
            text = base64.b64decode(text.strip(), validate=True).decode()
        secrets.remember(text)
    try:
        key = serialization.load_ssh_private_key(text.encode(), passphrase.encode() or None)
    except (ValueError, TypeError) as error:
        said = str(error).rstrip(".")
        if "password" in said.lower() or "encrypted" in said.lower():
            raise SecurityError(
                f"{source}: the signing key is protected by a passphrase and {said.lower()}; put the "
                "passphrase in the variable ci.security.passphrase_env names"
            ) from None
        raise SecurityError(f"{source}: not an OpenSSH private key ({said})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SecurityError(
            f"{source}: a {type(key).__name__}; dsci signs with Ed25519 keys (ssh-keygen -t ed25519)"
        )
    blob = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return key, trust.fingerprint(base64.b64decode(blob.split()[1]))


def read_key_file(path: Path, setting: str, *, tracked: bool = False, make: str = "") -> str:
    """A private key file's text; a key that git tracks is refused: it is in the repository's history.

    ``make`` says how to get a key when the file is missing."""
    if tracked:
        raise SecurityError(
            f"{setting}: {display(path)} is committed to the repository; a private key never is: "
            "rotate it, remove it from history, and give it from the CI's secret store instead"
        )
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f"; {make}" if make else ""
        raise ConfigError(f"{setting}: {display(path)}: no such file{hint}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{setting}: {display(path)}: cannot read it ({error})") from None


def signers(
    paths: Iterable[str], root: Path, setting: str = "ci.security.trusted"
) -> tuple[list[trust.Signer], str]:
    """(the trusted keys, the text of them all) from public key and allowed_signers files; errors name
    ``setting``."""
    found, texts = [], []
    for given in paths:
        path = expand(given, root)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"{setting}: {given}: {error.strerror or error}") from None
        try:
            found += trust.read_signers(text, given)
        except trust.Refused as error:
            raise ConfigError(f"{setting}: {error}") from None
        texts.append(f"# {given}\n{text.rstrip()}\n")
    return found, "".join(texts)


def recipients(entries: Iterable[str], root: Path) -> list[Any]:
    """pyrage recipients from ``age1...`` or ``ssh-ed25519 ...`` keys, given inline or as files of them."""
    import pyrage

    found = []
    for given in entries:
        lines, source = [given], given
        if not given.startswith(("age1", "ssh-")):
            path = expand(given, root)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as error:
                raise ConfigError(f"ci.security.recipients: {given}: {error.strerror or error}") from None
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{source}:{number}" if source != line else repr(line[:24] + "…")
            try:
                if line.startswith("age1"):
                    found.append(pyrage.x25519.Recipient.from_str(line))
                elif line.startswith("ssh-"):
                    found.append(pyrage.ssh.Recipient.from_str(line))
                else:
                    raise ValueError("neither age1... nor ssh-ed25519 ...")
            except (pyrage.RecipientError, ValueError) as error:
                raise ConfigError(
                    f"ci.security.recipients: {where}: not an age recipient ({error})"
                ) from None
    return found
