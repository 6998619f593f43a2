"""ci.sign, ci.verify and ci.keys.create; and the keys every other stage takes from the settings.

Keys and identities are read here, at the boundary, and handed to domain code as objects:
the signing key from ci.security.key_file or the variable key_env names, the trusted keys
and the recipients from their files, an identity only where dsci runs the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from invoke import task

from ci.tasks import _inputs
from ci.tasks._stage import Stage

NO_KEY = "no signing key (ci.security.key_file, or the variable ci.security.key_env names)"


def signing_setup(s: Any) -> Any:
    """The run's Signing (key and the build's facts), or None when no key is given."""
    import ci
    from ci.core.environment import detect
    from ci.security import keys
    from ci.security.signing import Signing

    cfg = s.get("security")
    make = (f"make a key with `invoke ci.keys.create {cfg.key_file}`, or give one in the variable "
            f"{cfg.key_env} (ci.security.key_env)")  # fmt: skip
    text, source = _private(s, "key", make)
    if not text:
        return None
    key, keyid = keys.signing_key(text, source, s.secret("security.passphrase_env"))
    return Signing(key, keyid, git=s.stamp(), settings_sha256=settings_digest(s), run_url=detect().run_url(),
                   started=s.started, version=ci.__version__)  # fmt: skip


def settings_digest(s: Any) -> str:
    """The sha256 of the effective settings: the manifest and the provenance carry it."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(s.tree, sort_keys=True, default=str).encode()).hexdigest()


def trusted_keys(s: Any) -> tuple[list[Any], str]:
    """(the trusted keys, their text for the image) of ci.security.trusted."""
    from ci.security import keys

    return keys.signers(s.get("security.trusted"), s.root)


def age_recipients(s: Any) -> list[Any]:
    from ci.security import keys

    return keys.recipients(s.get("security.recipients"), s.root)


def age_identity(s: Any) -> str:
    """The text of the age identity that opens the bundle where dsci runs the model; "" when none."""
    cfg = s.get("security")
    make = (f"make one with `invoke ci.keys.create {cfg.identity_file} --kind age` (and encrypt to its "
            f".pub), or give one in the variable {cfg.identity_env} (ci.security.identity_env)")  # fmt: skip
    return _private(s, "identity", make)[0]


def _private(s: Any, name: str, make: str) -> tuple[str, str]:
    """(text, where it came from) of a private key: the file ``ci.security.<name>_file`` names, else
    the variable ``<name>_env`` names ("" when neither gives one). Masked from now on, either way."""
    from ci.core import secrets
    from ci.security import keys

    given = s.get(f"security.{name}_file")
    if not given:
        variable = s.get(f"security.{name}_env")
        return s.secret(f"security.{name}_env"), f"the variable {variable} (ci.security.{name}_env)"
    path = keys.expand(given, s.root)
    setting = f"ci.security.{name}_file"
    text = keys.read_key_file(path, setting, tracked=_tracked(s, path), make=make)
    secrets.remember(text)
    return text, f"{setting}: {given}"


def _tracked(s: Any, path: Path) -> bool:
    """Whether git tracks ``path`` (a key there is in the repository's history)."""
    if not path.resolve().is_relative_to(s.root.resolve()):
        return False
    done = s.runner()(["git", "ls-files", "--", str(path.resolve().relative_to(s.root.resolve()))])
    return done.ok and bool(done.stdout.strip())


def sign_stage(s: Any) -> Any:
    from ci.core.errors import ConfigError
    from ci.core.results import StageResult
    from ci.security import signing as domain

    key = signing_setup(s)
    if key is None:
        if s.get("security.trusted"):
            raise ConfigError(
                f"ci.security.trusted names who must sign the model, but there is {NO_KEY}; give the key, "
                "or make one with `invoke ci.keys.create`"
            )
        return StageResult("sign", skipped=NO_KEY)
    return domain.sign_build(s.root / s.get("package.out"), key, trusted_keys(s)[0])


SIGN = Stage("sign", sign_stage, inputs=_inputs.sign, needs=("package",))


@task(
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
    }
)
def sign(c, tenant=None):
    """Sign the bundle's provenance (in-toto, SLSA, DSSE) with the key of ci.security."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [SIGN], tenant=tenant)


@task(
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
        "path": "A bundle (.bundle.tar or .bundle.tar.age, its .intoto.jsonl beside it) or an image.",
        "identity": "An age identity file: also check that the bundle decrypts to what was signed.",
        "trusted": "Public key or allowed_signers files to trust instead of ci.security.trusted.",
        "envelope": "The provenance file, when it is not beside the bundle.",
    },
    iterable=["trusted"],
)
def verify(c, path, identity=None, trusted=None, envelope=None, tenant=None):
    """Check a bundle or an image offline: who signed it, from which commit, and every digest."""
    from ci.core import secrets
    from ci.core.errors import ConfigError
    from ci.security import keys, trust
    from ci.security import signing as domain
    from ci.tasks._boundary import Settings, boundary

    with boundary() as provider:
        s = Settings(c, tenant).validate()
        signers = keys.signers(trusted, Path.cwd())[0] if trusted else trusted_keys(s)[0]
        found = None
        if identity:
            text = keys.read_key_file(Path(identity), "--identity", make="give the file of an age identity")
            secrets.remember(text)
            try:
                found = trust.identities(text, identity)
            except trust.Refused as error:
                raise ConfigError(f"--identity: {error}") from None
        options = {"signers": signers, "identity": found, "envelopes": Path(envelope) if envelope else None}
        target = Path(path)
        if target.is_file():
            lines = domain.verify(target, **options)
        else:
            from ci import image

            lines = domain.verify_image(image.client(), path, **options)
        for line in lines:
            provider.write(line)


@task(
    help={
        "path": "Where the private key goes; the public one goes beside it, with .pub added.",
        "kind": "signing (an OpenSSH Ed25519 key pair) or age (an age X25519 identity and its recipient).",
        "comment": "The signing key's comment: who it is (e.g. ci@example.com).",
    }
)
def create(c, path, kind="signing", comment=""):
    """Make a key pair: a signing key for ci.security.key_file, or an age identity for recipients."""
    from ci.core.errors import ConfigError
    from ci.security import keys
    from ci.tasks._boundary import boundary
    from ci.tasks._invoke import project_root

    with boundary() as provider:
        if kind not in ("signing", "age"):
            raise ConfigError(f"--kind: {kind!r}; use signing or age")
        root = project_root(c.config)
        target = Path(path).expanduser()
        target = target if target.is_absolute() else Path.cwd() / target
        made = keys.create(target, kind, comment, would_commit=_would_commit(c, root, target))
        provider.write(f"wrote {made[0]} (private: keep it out of the repository) and {made[1]}")


def _would_commit(c: Any, root: Path, path: Path) -> bool:
    """Whether a file at ``path`` would be committed: inside the repository, and not ignored."""
    if not path.resolve().parent.is_relative_to(root.resolve()):
        return False
    import shlex

    argv = ["git", "-C", str(root), "check-ignore", "-q", str(path)]
    done = c.run(shlex.join(argv), hide=True, warn=True, in_stream=False)
    return done.exited == 1  # 0: ignored; 128: no repository here
