"""Keys, signed provenance, encrypted bundles and verification, in process (the CLIs' side is in
tests/integration/test_security.py)."""

from __future__ import annotations

import base64
import io
import json
import re
from datetime import UTC, datetime

import pytest

from ci import package
from ci.core import secrets
from ci.core.errors import ConfigError, SecurityError
from ci.security import keys, signing, trust

pytestmark = pytest.mark.tool("pyrage", "securesystemslib", "cryptography")

GIT = {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False, "time": 1700000000}


@pytest.fixture
def made(tmp_path):
    """A signing key pair and an age identity, made as `invoke ci.keys.create` makes them."""
    folder = tmp_path / "keys"
    keys.create(folder / "signing", "signing", "ci@example.com", would_commit=False)
    keys.create(folder / "model.age", "age", "", would_commit=False)
    return folder


def signing_of(folder, **facts):
    key, keyid = keys.signing_key((folder / "signing").read_text(), "test key")
    values = {"git": GIT, "settings_sha256": "ab" * 32, "run_url": "", "started": datetime.now(UTC),
              "version": "0.1.0", **facts}  # fmt: skip
    return signing.Signing(key, keyid, **values)


def signers_of(*folders):
    return [
        s for folder in folders for s in trust.read_signers((folder / "signing.pub").read_text(), "trusted")
    ]


@pytest.fixture
def dist(tmp_path, made):
    """dist/ as the package and sign stages leave it: the encrypted bundle, digests, manifest, provenance."""
    root = tmp_path / "project"
    (root / "models").mkdir(parents=True)
    (root / "models" / "model.joblib").write_bytes(b"weights" * 50000)  # several 64 KiB chunks of age
    recipients = keys.recipients([str(made / "model.age.pub")], root)
    result = package.package(
        package_settings(), run=None, root=root, out=root / "dist", metrics_file=root / "none.json",
        config_digest="cd" * 32, model_path="models/model.joblib", git=GIT, recipients=recipients,
    )  # fmt: skip
    assert result.checks[-1].details["encrypted"]
    signing.sign_build(root / "dist", signing_of(made), signers_of(made))
    return root / "dist"


def package_settings():
    from ci.core.settings import Package

    return Package(wheel="false")


def identity_of(folder):
    return trust.identities((folder / "model.age").read_text(), "model.age")


def flip(path, offset=-40):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def open_it(bundle, made, workdir, **given):
    options = {"envelopes": signing.provenance_file(bundle), "signers": signers_of(made),
               "identity": identity_of(made), "workdir": workdir, **given}  # fmt: skip
    return trust.open_bundle(bundle, **options)


# Keys ------------------------------------------------------------------------------------------


def test_created_keys_are_private_and_their_public_halves_are_trusted_as_ssh_knows_them(made):
    assert oct((made / "signing").stat().st_mode & 0o777) == "0o600"
    assert oct((made / "model.age").stat().st_mode & 0o777) == "0o600"
    assert (made / "signing").read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert (made / "model.age.pub").read_text().startswith("age1")
    _, keyid = keys.signing_key((made / "signing").read_text(), "k")
    (signer,) = signers_of(made)
    assert signer.fingerprint == keyid and keyid.startswith("SHA256:") and signer.name == "ci@example.com"


def test_a_key_is_never_overwritten_nor_written_where_git_would_commit_it(made, tmp_path):
    with pytest.raises(ConfigError, match=r"signing exists; dsci never overwrites a key"):
        keys.create(made / "signing", "signing", "", would_commit=False)
    with pytest.raises(SecurityError, match=r"git would commit this private key"):
        keys.create(tmp_path / "repo" / "ci", "signing", "", would_commit=True)
    assert not (tmp_path / "repo").exists()


def test_a_signing_key_committed_to_the_repository_is_refused(made):
    with pytest.raises(SecurityError, match=r"is committed to the repository; a private key never is"):
        keys.read_key_file(made / "signing", "ci.security.key_file", tracked=True)


def test_allowed_signers_give_roles_and_other_key_types_are_refused():
    blob = "AAAAC3NzaC1lZDI1NTE5AAAAIPgZ02/sEmGGRrTOS9M/Ov0wP/vdMzLaGj/PcND7QLah"
    text = (
        f'# who signs\nci@example.com,ops namespaces="build,release" ssh-ed25519 {blob}\n'
        f"qa@x ssh-ed25519 {blob} qa\n"
    )
    ci, qa = trust.read_signers(text, "allowed_signers")
    assert (ci.name, ci.roles, ci.source) == ("ci@example.com,ops", ("build", "release"), "allowed_signers:2")
    assert qa.may("anything") and ci.may("build") and not ci.may("qa")
    with pytest.raises(trust.Refused, match=r"keys:1: a ssh-rsa key; dsci trusts Ed25519 keys only"):
        trust.read_signers("ssh-rsa AAAAB3NzaC1yc2E user\n", "keys")
    with pytest.raises(trust.Refused, match=r"keys:1: not an OpenSSH public key or allowed_signers line"):
        trust.read_signers("hello world\n", "keys")


def test_a_passphrase_protected_key_without_its_passphrase_says_which_variable_holds_it():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    text = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.BestAvailableEncryption(b"correct horse"),
    ).decode()  # fmt: skip
    with pytest.raises(SecurityError, match=r"protected by a passphrase.*ci.security.passphrase_env"):
        keys.signing_key(text, "DSCI_SIGNING_KEY")
    assert keys.signing_key(text, "DSCI_SIGNING_KEY", "correct horse")[1].startswith("SHA256:")


def test_a_key_given_in_base64_on_one_line_signs_as_the_key_itself(made, clean_secrets):
    text = (made / "signing").read_text()
    one_line = base64.b64encode(text.encode()).decode()
    assert keys.signing_key(one_line, "DSCI_SIGNING_KEY")[1] == keys.signing_key(text, "k")[1]
    assert secrets.mask(f"{one_line} {text.splitlines()[1]}") == "*** ***"
    with pytest.raises(SecurityError, match=r"^DSCI_SIGNING_KEY: not an OpenSSH private key"):
        keys.signing_key("not a key at all", "DSCI_SIGNING_KEY")


def test_an_azure_macro_left_unexpanded_is_an_unset_variable(clean_secrets, monkeypatch):
    monkeypatch.setenv("DSCI_SIGNING_KEY", "$(DSCI_SIGNING_KEY)")
    assert secrets.read("DSCI_SIGNING_KEY", secret=True) == ""


def test_recipients_are_age_or_ssh_keys_inline_or_in_files_and_nonsense_is_named(made, tmp_path):
    ssh = (made / "signing.pub").read_text().strip()
    found = keys.recipients([str(made / "model.age.pub"), ssh], tmp_path)
    assert len(found) == 2
    with pytest.raises(ConfigError, match=r"ci.security.recipients: 'age1nonsense…': not an age recipient"):
        keys.recipients(["age1nonsense"], tmp_path)
    with pytest.raises(ConfigError, match=r"ci.security.recipients: missing.pub: No such file"):
        keys.recipients(["missing.pub"], tmp_path)


# Signing ---------------------------------------------------------------------------------------


def test_the_provenance_is_an_in_toto_statement_with_slsa_provenance_that_securesystemslib_verifies(
    dist, made
):
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    bundle = package.latest_bundle(dist)
    (line,) = signing.provenance_file(bundle).read_text().splitlines()
    envelope = json.loads(line)
    content = json.loads(base64.b64decode(envelope["payload"]))
    assert content["_type"] == "https://in-toto.io/Statement/v1"
    assert content["predicateType"] == "https://slsa.dev/provenance/v1"
    names = {s["name"] for s in content["subject"]}
    assert names == {
        "project-0123456.bundle.tar",
        "project-0123456.bundle.tar.age",
        "project-0123456.manifest.json",
    }
    source = content["predicate"]["buildDefinition"]["externalParameters"]["source"]
    assert source == {"commit": GIT["commit"], "dirty": False}
    assert content["predicate"]["runDetails"]["builder"]["version"] == {"dsci": "0.1.0"}
    key, _ = keys.signing_key((made / "signing").read_text(), "k")
    public = SSlibKey.from_crypto(key.public_key(), keyid=envelope["signatures"][0]["keyid"])
    assert list(Envelope.from_dict(envelope).verify([public], 1)) == [public.keyid]


def test_a_key_the_trusted_keys_refuse_fails_the_sign_stage_not_production(dist, made, tmp_path):
    other = tmp_path / "other"
    keys.create(other / "signing", "signing", "someone", would_commit=False)
    with pytest.raises(SecurityError, match=r"the signing key SHA256:\S+ is not trusted to sign builds"):
        signing.sign_build(dist, signing_of(other), signers_of(made))


def test_the_image_is_attested_by_digest_on_a_second_line(dist, made):
    bundle = package.latest_bundle(dist)
    check = signing.attest_image(
        bundle, "registry/clinic", "sha256:" + "ef" * 32, signing_of(made), signers_of(made)
    )
    assert check.status.value == "passed"
    lines = signing.verify(bundle, signers=signers_of(made), identity=identity_of(made))
    assert any(line.startswith("image registry/clinic@sha256:efef") for line in lines)
    assert lines[-1] == "decrypted with the identity given; the plaintext is the one signed"


# Verify before load: the tamper cases ------------------------------------------------------------


def test_an_untouched_bundle_opens_into_the_workdir_and_says_who_signed(dist, made, tmp_path):
    workdir = tmp_path / "shm"
    workdir.mkdir()
    manifest, statement, signer = open_it(package.latest_bundle(dist), made, workdir)
    assert signer.name == "ci@example.com" and statement["subject"]
    assert [e["path"] for e in manifest["files"]] == ["models/model.joblib"]
    assert sorted(p.name for p in workdir.rglob("*")) == ["model.joblib", "models"]  # the plain tar is gone


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("ciphertext", r"bundle.tar.age: sha256 \w+… but the signature says"),
        (
            "envelope",
            r"the signature of ci@example\.com \(SHA256:\S+\) does not match: the envelope was altered",
        ),
        ("untrusted", r"signed by SHA256:\S+, which is not a trusted key"),
        (
            "another bundle",
            r"project-0123456\.bundle\.tar\.age: not among the signed subjects of .* another build",
        ),
        ("wrong identity", "the identity given is not among its recipients"),
        ("no identity", "encrypted, and no age identity is mounted"),
        ("no provenance", "no provenance beside the bundle; nothing signed it"),
        ("role", "may not sign for 'build'"),
        ("unsigned ciphertext", r"bundle\.tar\.age: cannot be decrypted \(.*\): altered or truncated"),
    ],
)
def test_every_tampering_is_refused_in_one_line_and_leaves_nothing_decrypted(
    dist, made, tmp_path, case, said
):
    bundle = package.latest_bundle(dist)
    envelopes = signing.provenance_file(bundle)
    given = {}
    if case == "ciphertext":
        flip(bundle)
    elif case == "envelope":  # the statement changed under its signature: another digest for the bundle
        envelope = json.loads(envelopes.read_text())
        payload = base64.b64decode(envelope["payload"]).replace(b'"sha256":"', b'"sha256":"0', 1)
        envelopes.write_text(json.dumps({**envelope, "payload": base64.b64encode(payload).decode()}))
    elif case == "untrusted":
        other = tmp_path / "other"
        keys.create(other / "signing", "signing", "", would_commit=False)
        given["signers"] = signers_of(other)
    elif case == "another bundle":  # a valid signature, by a trusted key, over another build's bundle
        other = tmp_path / "other"
        (other / "models").mkdir(parents=True)
        (other / "models" / "model.joblib").write_bytes(b"other weights")
        package.package(
            package_settings(), run=None, root=other, out=other / "dist", metrics_file=other / "x",
            config_digest="", model_path="models/model.joblib", git={**GIT, "commit": "f" * 40},
            recipients=keys.recipients([str(made / "model.age.pub")], other),
        )  # fmt: skip
        signing.sign_build(other / "dist", signing_of(made), signers_of(made))
        envelopes.write_bytes(signing.provenance_file(package.latest_bundle(other / "dist")).read_bytes())
    elif case == "wrong identity":
        import pyrage

        given["identity"] = [pyrage.x25519.Identity.generate()]
    elif case == "no identity":
        given["identity"] = None
    elif case == "no provenance":
        envelopes.unlink()
    elif case == "unsigned ciphertext":  # nothing checks its digest first: age's own authentication does,
        flip(bundle)  # in the last chunk, after the first ones were written: they are removed again
        given["envelopes"] = None
    elif case == "role":
        public = (made / "signing.pub").read_text().split()
        given["signers"] = trust.read_signers(f'qa namespaces="qa" {public[0]} {public[1]}\n', "allowed")
    workdir = tmp_path / "shm"
    workdir.mkdir()
    with pytest.raises(trust.Refused, match=said) as refused:
        open_it(bundle, made, workdir, **given)
    assert "\n" not in str(refused.value)
    assert list(workdir.iterdir()) == []


def test_a_flipped_byte_in_the_plain_bundle_or_its_manifest_is_refused(tmp_path, made):
    root = tmp_path / "project"
    (root / "models").mkdir(parents=True)
    (root / "models" / "model.joblib").write_bytes(b"weights" * 5000)
    package.package(package_settings(), run=None, root=root, out=root / "dist", metrics_file=root / "none",
                    config_digest="", model_path="models/model.joblib", git=GIT)  # fmt: skip
    signing.sign_build(root / "dist", signing_of(made), signers_of(made))
    bundle = package.latest_bundle(root / "dist")
    assert bundle.name.endswith(".bundle.tar")
    manifest = root / "dist" / f"{package.stem(bundle)}.manifest.json"
    manifest.write_text(manifest.read_text().replace('"python"', '"pythoN"'))
    with pytest.raises(SecurityError, match=r"manifest.json: sha256 \w+… but the signature says"):
        signing.verify(bundle, signers=signers_of(made), identity=None)
    flip(bundle, 700)
    with pytest.raises(SecurityError, match=r"bundle.tar: sha256 \w+… but the signature says"):
        signing.verify(bundle, signers=signers_of(made), identity=None)


def test_a_bundle_whose_file_differs_from_its_manifest_is_refused_even_unsigned(tmp_path):
    import tarfile

    tar_path = tmp_path / "x.bundle.tar"
    manifest = {"files": [{"path": "model.bin", "sha256": "0" * 64, "size": 3}]}
    with tarfile.open(tar_path, "w") as tar:
        for name, data in (("manifest.json", json.dumps(manifest).encode()), ("model.bin", b"abc")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(trust.Refused, match=r"model.bin: does not match the manifest of x.bundle.tar"):
        trust.open_bundle(tar_path, envelopes=None, signers=[], workdir=workdir)
    assert list(workdir.iterdir()) == []


# Secrets ---------------------------------------------------------------------------------------


@pytest.fixture
def clean_secrets(monkeypatch):
    monkeypatch.setattr(secrets, "_read", set())
    monkeypatch.setattr(secrets, "announce", None)


def test_a_secret_is_masked_as_json_and_xml_escape_it_too(clean_secrets):
    secrets.remember('p"w&<é\\x-secret')
    assert (
        secrets.mask(json.dumps({"message": 'login p"w&<é\\x-secret failed'}))
        == '{"message": "login *** failed"}'
    )
    assert secrets.mask("<failure message='p&quot;w&amp;&lt;é\\x-secret'/>") == "<failure message='***'/>"


def test_a_secret_split_across_writes_is_still_masked_and_a_key_is_masked_line_by_line(clean_secrets, made):
    out = io.StringIO()
    stream = secrets._Masking(out)
    secrets.remember("s3cr3t-token-value")
    stream.write("the token is s3cr3t-to")
    stream.write("ken-value, see?\nnext")
    stream.flush()
    assert out.getvalue() == "the token is ***, see?\nnext"
    text = (made / "signing").read_text()
    keys.signing_key(text, "k")
    body = text.splitlines()[1]
    assert secrets.mask(f"oops: {body}") == "oops: ***"


def test_secrets_are_registered_with_the_ci_as_they_are_read(clean_secrets, monkeypatch):
    from ci.core.environment import AzurePipelines, GitHubActions

    said = []
    monkeypatch.setattr(
        secrets, "announce", lambda value: said.append(GitHubActions({}).secret_command(value))
    )
    monkeypatch.setenv("DSCI_TOKEN_FOR_TEST", "tok%en-1234")
    secrets.read("DSCI_TOKEN_FOR_TEST", secret=True)
    secrets.read("DSCI_TOKEN_FOR_TEST", secret=True)  # once is enough
    assert said == ["::add-mask::tok%25en-1234"]
    azure = AzurePipelines({}).secret_command("ab;c]d%")
    assert re.fullmatch(
        r"##vso\[task\.setvariable variable=DSCI_MASKED_\d+;issecret=true\]ab;c]d%AZP25", azure
    )


def test_every_variable_a_setting_names_as_secret_is_known():
    from ci.core import config

    assert set(config.secret_settings()) == {
        "security.key_env", "security.passphrase_env", "security.identity_env", "image.index_url_env",
        "push.password_env", "notify.password_env", "jenkins.token_env", "azure.token_env",
        "report.github_token_env", "report.azure_token_env", "deploy.kubeconfig_env",
    }  # fmt: skip
