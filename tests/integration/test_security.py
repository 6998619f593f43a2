"""Signed and encrypted bundles through the real CLIs: `invoke ci.verify`, Debian's age, the image's app
refusing what it cannot verify, and secrets that never show."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ci import image as image_module
from ci.core.files import sha256_file
from ci.package import latest_bundle, plain_digest, stem
from ci.security import signing, trust
from tests.integration.conftest import REPO, commit, git, make_keys, run_with
from tests.integration.test_parity import derived

pytestmark = pytest.mark.tool("invoke", "git", "sklearn", "pyrage", "securesystemslib", "docker-engine")


def flip(path: Path, offset: int = -40) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def copied(built, tmp_path):
    """The built example's dist/, copied: a tampering test spoils its own copy."""
    folder, _ = built
    shutil.copytree(folder / "dist", tmp_path / "dist")
    return latest_bundle(tmp_path / "dist")


def test_verify_says_who_signed_what_from_which_commit_and_that_it_decrypts(built, invoke, keys):
    folder, _ = built
    bundle = latest_bundle(folder / "dist")
    assert bundle.name.endswith(".bundle.tar.age")
    done = invoke(folder, "ci.verify", str(bundle), "--identity", str(keys / "model.age"))
    assert done.returncode == 0, done.stdout + done.stderr
    head = git(folder, "rev-parse", "HEAD").strip()
    lines = done.stdout.splitlines()
    assert lines[0] == f"{bundle.name}: signature and digests verified"
    assert re.fullmatch(r"signed by ci@clinic\.example \(SHA256:\S+, trusted by .*signing\.pub:1\)", lines[1])
    assert re.fullmatch(rf"built \S+ from commit {head} by dsci \S+", lines[2])
    assert f"  {bundle.name}  sha256 {sha256_file(bundle)[0]}" in lines
    assert "  {}  sha256 {}".format(*plain_digest(bundle)) in lines
    assert lines[-1] == "decrypted with the identity given; the plaintext is the one signed"


@pytest.mark.tool("age", "age-keygen")
@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("ciphertext", r"bundle\.tar\.age: sha256 \w+… but the signature says \w+…"),
        ("manifest", r"manifest\.json: sha256 \w+… but the signature says \w+…"),
        ("envelope", r"intoto\.jsonl(:1)?: (the signature of ci@clinic\.example .* does not match|not a)"),
        ("untrusted key", r"intoto\.jsonl(:1)?: signed by SHA256:\S+, which is not a trusted key"),
        ("another bundle", r"bundle\.tar\.age: sha256 \w+… but the signature says \w+…"),
        ("wrong identity", r"bundle\.tar\.age: the identity given is not among its recipients"),
    ],
)
def test_verify_refuses_every_tampering_with_exit_4_and_one_line(
    built, invoke, keys, copied, tmp_path, case, said
):
    folder, _ = built
    arguments = ["--identity", str(keys / "model.age")]
    if case == "ciphertext":
        flip(copied)
    elif case == "manifest":
        manifest = copied.with_name(f"{stem(copied)}.manifest.json")
        manifest.write_text(manifest.read_text().replace('"python"', '"pythoN"'))
    elif case == "envelope":
        flip(signing.provenance_file(copied), 200)
    elif case == "untrusted key":
        make_keys(tmp_path / "other")
        arguments += ["--trusted", str(tmp_path / "other" / "signing.pub")]
    elif case == "another bundle":  # the same plaintext encrypted again: a valid signature, over other bytes
        plain = subprocess.run(["age", "-d", "-i", str(keys / "model.age"), str(copied)], capture_output=True,
                               check=True)  # fmt: skip
        recipient = (keys / "model.age.pub").read_text().strip()
        again = subprocess.run(
            ["age", "-e", "-r", recipient], input=plain.stdout, capture_output=True, check=True
        )
        copied.write_bytes(again.stdout)
    elif case == "wrong identity":
        subprocess.run(["age-keygen", "-o", str(tmp_path / "other.age")], check=True, capture_output=True)
        arguments = ["--identity", str(tmp_path / "other.age")]
    done = invoke(folder, "ci.verify", str(copied), *arguments)
    assert done.returncode == 4, done.stdout + done.stderr
    (line,) = done.stderr.splitlines()
    assert re.search(said, line), line
    assert not list(tmp_path.glob("**/*.bundle.tar"))  # nothing decrypted was written


@pytest.mark.tool("age")
def test_bundles_interoperate_with_the_age_command_both_ways(built, keys, tmp_path):
    folder, _ = built
    bundle = latest_bundle(folder / "dist")
    _, signed_plain = plain_digest(bundle)
    ours = subprocess.run(
        ["age", "-d", "-i", str(keys / "model.age"), str(bundle)], capture_output=True, check=True
    )
    import hashlib

    assert hashlib.sha256(ours.stdout).hexdigest() == signed_plain  # dsci (pyrage) encrypted, age decrypts
    recipient = (keys / "model.age.pub").read_text().strip()
    theirs = tmp_path / "theirs.age"
    subprocess.run(["age", "-e", "-r", recipient, "-o", str(theirs)], input=ours.stdout, check=True)
    identity = trust.identities((keys / "model.age").read_text(), "model.age")
    assert trust.decrypted_digest(theirs, identity)[0] == signed_plain  # age encrypted, dsci decrypts
    trust.decrypt(theirs, identity, tmp_path / "plain.tar")
    assert (tmp_path / "plain.tar").read_bytes() == ours.stdout


# The image's app -----------------------------------------------------------------------------------


def ask(container, path, deadline=60.0):
    """(exit code, JSON answer) of GET path inside the container, once the server answers at all."""
    clock = time.monotonic()
    while True:
        code, output = container.exec_run([image_module.IMAGE_PYTHON, "-c", image_module._PROBE, path])
        if code in (0, 1) or time.monotonic() - clock > deadline:
            return code, json.loads(output) if code in (0, 1) else output.decode()
        time.sleep(0.3)


def readable(path: Path, tmp_path: Path) -> Path:
    """A copy the image's user (not root) may read, as a Kubernetes Secret is mounted."""
    copy = tmp_path / f"mounted-{path.name}"
    shutil.copy(path, copy)
    copy.chmod(0o444)
    return copy


APP_CASES = {
    "ciphertext": r"bundle\.tar\.age: sha256 \w+… but the signature says",
    "ciphertext, no identity": r"bundle\.tar\.age: sha256 \w+… but the signature says",  # checked first
    "envelope": r"intoto\.jsonl: the signature of ci@clinic\.example \(SHA256:\S+\) does not match",
    "untrusted key": r"intoto\.jsonl: signed by SHA256:\S+, which is not a trusted key",
    "no identity": r"encrypted, and no age identity is mounted to decrypt it \(DSCI_IDENTITY is not set\)",
    "wrong identity": "the identity given is not among its recipients",
}


@pytest.mark.parametrize("case", ["good", *APP_CASES])
def test_the_app_verifies_and_decrypts_into_memory_or_stays_unready_saying_why(built, keys, tmp_path, case):
    import docker

    folder, image = built
    bundle = latest_bundle(folder / "dist")
    volumes = {}
    if "no identity" not in case:
        identity = keys / "model.age"
        if case == "wrong identity":
            identity = tmp_path / "other.age"
            subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
        volumes[str(readable(identity, tmp_path))] = image_module.IDENTITY_MOUNT
    if case.startswith("ciphertext"):
        altered = readable(bundle, tmp_path)
        flip(altered)
        volumes[str(altered)] = f"/app/bundle/{bundle.name}"
    if case == "envelope":  # a subject's digest changed under the signature
        envelope = json.loads(signing.provenance_file(bundle).read_text().splitlines()[0])
        payload = base64.b64decode(envelope["payload"]).replace(b'"sha256":"', b'"sha256":"0', 1)
        changed = tmp_path / "changed.intoto.jsonl"
        changed.write_text(json.dumps({**envelope, "payload": base64.b64encode(payload).decode()}) + "\n")
        volumes[str(readable(changed, tmp_path))] = f"/app/bundle/{signing.provenance_file(bundle).name}"
    if case == "untrusted key":
        make_keys(tmp_path / "other")
        volumes[str(readable(tmp_path / "other" / "signing.pub", tmp_path))] = "/app/bundle/trusted_signers"
    environment = {"DSCI_IDENTITY": image_module.IDENTITY_MOUNT} if "no identity" not in case else {}
    container = docker.from_env().containers.run(
        image["tags"][0], detach=True, network_mode="none", environment=environment,
        volumes={host: {"bind": inside, "mode": "ro"} for host, inside in volumes.items()},
    )  # fmt: skip
    try:
        assert ask(container, "/health")[0] == 0  # the process answers: liveness holds either way
        code, answer = ask(container, "/ready")
        logs = container.logs().decode()
        in_memory = container.exec_run(["find", "/dev/shm", "-type", "f"])[1].decode().split()
        changed_files = [change["Path"] for change in container.diff() or []]
    finally:
        container.remove(force=True)
    assert not [path for path in changed_files if "model" in path or path.endswith(".tar")], changed_files
    if case == "good":
        assert code == 0 and answer["status"] == "ready", answer
        assert re.search(r"dsci: \S+\.bundle\.tar\.age verified, signed by ci@clinic\.example", logs)
        assert [Path(p).name for p in in_memory] == ["model.joblib"]  # decrypted into memory, the tar gone
        return
    assert code == 1 and answer["status"] == "refused", answer
    assert re.search(APP_CASES[case], answer["reason"]), answer["reason"]
    assert "\n" not in answer["reason"] and f"dsci: {answer['reason']}" in logs
    assert in_memory == []  # nothing decrypted stays, even in memory


@pytest.mark.tool("registry")
def test_parity_refuses_an_image_whose_bundle_was_altered_with_exit_4(built, invoke):
    folder, image = built
    bundle = latest_bundle(folder / "dist")
    flip_in_image = (
        f"RUN /opt/venv/bin/python -c \"p='/app/bundle/{bundle.name}'; b=bytearray(open(p,'rb').read()); "
        "b[-40]^=1; open(p,'wb').write(b)\""
    )
    tag = derived(image["tags"][0], "clinic:altered", "USER root", flip_in_image, "USER serve")
    done = invoke(folder, "ci.parity", "--image", tag)
    assert done.returncode == 4, done.stdout + done.stderr
    assert re.search(
        rf"error: {tag} refusing to load the model: {re.escape(bundle.name)}: sha256 \w+… but the signature",
        done.stderr,
    )


def test_an_image_whose_trusted_keys_refuse_the_signer_fails_its_stage_with_exit_4(built, invoke, tmp_path):
    import docker

    shared, image = built
    folder = tmp_path / "clinic"  # a copy: the shared project's image context stays as it was built
    shutil.copytree(shared, folder, symlinks=True, ignore=shutil.ignore_patterns("context"))
    make_keys(tmp_path / "other")
    try:
        done = run_with(
            folder, invoke, "trusted: [", f"trusted: [{tmp_path}/other/signing.pub]  # was: [", "ci.image"
        )
    finally:  # the same commit gives the same tag: the session's image back under it
        docker.from_env().images.get(image["id"]).tag(*image["tags"][0].split(":", 1))
    assert done.returncode == 4, done.stdout + done.stderr
    refused = r"error: clinic:\S+ refuses its bundle: refusing to load the model: \S+\.intoto\.jsonl(:1)?: "
    assert re.search(refused + r"signed by SHA256:\S+, which is not a trusted key", done.stderr)
    assert not (folder / "build" / "ci" / "image" / "image.json").exists()  # push and parity find no image


# Secrets ------------------------------------------------------------------------------------------------


@pytest.mark.tool("registry")
@pytest.mark.tool("ssh-keygen")
def test_no_secret_shows_in_output_reports_artifacts_or_the_image(example, invoke, keys, tmp_path):
    """Every secret a setting names, set to a unique value, is nowhere: stdout, stderr, build/, dist/,
    `docker save` of the image. A training command that prints two of them proves the masking works."""
    import docker

    passphrase = "passphrase-marker-e2a91c"  # a key of the CI's own, protected by a passphrase
    made = ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "ci", "-f", str(tmp_path / "ci")]
    subprocess.run(made, check=True)
    settings = example / "invoke.yaml"
    text = settings.read_text()
    text = re.sub(r"\n    (key_file|identity_file): .*", "", text)  # from the CI's secret store instead
    text = re.sub(r"trusted: \[\S+\]", f"trusted: [{tmp_path}/ci.pub]", text)
    text = text.replace("train: invoke train", "train: \"sh -c 'echo leaked=$DSCI_SMTP_PASSWORD; "
                        "printenv DSCI_SIGNING_KEY; invoke train'\"")  # fmt: skip
    settings.write_text(text)
    commit(example, "keys from the environment")
    registry = dict(line.split("=", 1) for line in (REPO / "build/services/registry.env").read_text().split())
    markers = {
        "DSCI_SMTP_PASSWORD": "smtp-marker-5b1e0c", "GITHUB_TOKEN": "ghp_marker9f3a7d",
        "SYSTEM_ACCESSTOKEN": "azure-marker-c4d2e8", "JENKINS_TOKEN": "jenkins-marker-7a6b",
        "AZURE_DEVOPS_PAT": "pat-marker-31f0aa", "DSCI_SIGNING_PASSPHRASE": passphrase,
        "DSCI_SIGNING_KEY": (tmp_path / "ci").read_text(),
        "DSCI_AGE_IDENTITY": (keys / "model.age").read_text(),
        "DSCI_REGISTRY_USER": registry["DSCI_REGISTRY_USER"],
        "DSCI_REGISTRY_PASSWORD": registry["DSCI_REGISTRY_PASSWORD"],
    }  # fmt: skip
    done = invoke(example, "ci.all", GITHUB_ACTIONS="true", **markers)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Every line of every secret, but a key file's armour and comments (masked by no CI either).
    secret = [line.strip() for name, value in markers.items() if name != "DSCI_REGISTRY_USER"
              for line in value.splitlines() if len(line.strip()) >= 4
              and not line.startswith(("-----", "#"))]  # fmt: skip
    registered = {
        line.removeprefix("::add-mask::")
        for line in done.stdout.splitlines()
        if line.startswith("::add-mask::")
    }
    assert set(secret) <= registered  # the CI masks them in the rest of its log too
    shown = "\n".join(line for line in done.stdout.splitlines() if not line.startswith("::add-mask::"))
    assert "leaked=***" in shown  # the command did print it: masked on its way out
    places = {"stdout": shown, "stderr": done.stderr}
    for folder in ("build", "dist"):
        for path in (example / folder).rglob("*"):
            if path.is_file():
                places[str(path.relative_to(example))] = path.read_bytes().decode("latin-1")
    found = [(where, value[:12]) for where, content in places.items() for value in secret if value in content]
    assert found == []
    tag = json.loads((example / "build" / "ci" / "image" / "image.json").read_text())["tags"][0]
    saved = docker.from_env().images.get(tag).save()
    tail, hits = b"", []
    wanted = [value.encode() for value in secret]
    for chunk in saved:
        window = tail + chunk
        hits += [value[:12] for value in wanted if value in window]
        tail = window[-256:]
    assert hits == []


# Keys and bad input -------------------------------------------------------------------------------


def test_keys_create_makes_keys_ssh_keygen_and_age_read_and_refuses_to_overwrite_or_commit(
    example, invoke, tmp_path
):
    done = invoke(example, "ci.keys.create", str(tmp_path / "ci"), "--comment", "ci@example.com")
    assert done.returncode == 0, done.stderr
    assert oct((tmp_path / "ci").stat().st_mode & 0o777) == "0o600"
    if shutil.which("ssh-keygen"):
        derived_public = subprocess.run(["ssh-keygen", "-y", "-f", str(tmp_path / "ci")], capture_output=True,
                                        text=True, check=True).stdout.split()[:2]  # fmt: skip
        assert derived_public == (tmp_path / "ci.pub").read_text().split()[:2]
    assert invoke(example, "ci.keys.create", str(tmp_path / "model.age"), "--kind", "age").returncode == 0
    if shutil.which("age-keygen"):
        recipient = subprocess.run(["age-keygen", "-y", str(tmp_path / "model.age")], capture_output=True,
                                   text=True, check=True).stdout  # fmt: skip
        assert recipient == (tmp_path / "model.age.pub").read_text()
    again = invoke(example, "ci.keys.create", str(tmp_path / "ci"))
    assert again.returncode == 2 and again.stderr.strip() == (
        f"error: {tmp_path}/ci exists; dsci never overwrites a key: choose another path"
    )
    inside = invoke(example, "ci.keys.create", "signing")
    assert inside.returncode == 4 and "signing: git would commit this private key" in inside.stderr
    assert not (example / "signing").exists()


def test_a_missing_key_file_names_the_setting_and_how_to_make_one(built, invoke):
    folder, _ = built
    done = run_with(folder, invoke, "key_file: ", "key_file: /nowhere/signing  # was: ", "ci.sign")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == (
        "error: ci.security.key_file: /nowhere/signing: no such file; make a key with `invoke ci.keys.create "
        "/nowhere/signing`, or give one in the variable DSCI_SIGNING_KEY (ci.security.key_env)"
    )


def test_a_signing_key_committed_to_the_repository_is_refused_with_exit_4(example, invoke, keys):
    shutil.copy(keys / "signing", example / "signing")
    commit(example, "a key where no key belongs")
    settings = example / "invoke.yaml"
    settings.write_text(re.sub(r"key_file: \S+", "key_file: signing", settings.read_text()))
    done = invoke(example, "ci.sign")
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.strip().startswith(
        "error: ci.security.key_file: signing is committed to the repository; a private key never is"
    )


def test_parity_without_an_identity_for_an_encrypted_image_says_what_to_give(built, invoke):
    folder, _ = built
    done = run_with(folder, invoke, "identity_file: ", "# identity_file: ", "ci.parity")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "carries an encrypted bundle, and parity runs its model: give an age identity" in done.stderr


def test_without_an_identity_an_altered_bundle_is_still_refused_by_the_smoke_test(built):
    """No identity (CI holds none) stops nothing short: the signature and the ciphertext are checked first."""
    import docker

    from ci.core.errors import SecurityError

    _, image = built
    flip_in_image = (
        "RUN /opt/venv/bin/python -c \"import glob; p=glob.glob('/app/bundle/*.age')[0]; "
        "b=bytearray(open(p,'rb').read()); b[-40]^=1; open(p,'wb').write(b)\""
    )
    tag = derived(image["tags"][0], "clinic:altered-no-identity", "USER root", flip_in_image, "USER serve")
    engine = docker.from_env()
    with image_module.mounted("") as options, pytest.raises(SecurityError) as refused:
        image_module.smoke_test(engine, tag, tag, [], None, 60, options)
    said = r"refuses its bundle: refusing to load the model: \S+\.bundle\.tar\.age: sha256 \w+… but"
    assert re.search(said, str(refused.value))


def test_the_smoke_test_without_an_identity_warns_after_the_signature_checks(built):
    """CI holds no identity: the image stage proves that the image verifies its bundle, and says where it
    stopped."""
    import docker

    _, image = built
    engine = docker.from_env()
    with image_module.mounted("") as options:
        check = image_module.smoke_test(engine, image["id"], image["tags"][0], [], None, 60, options)
    assert check.status.value == "warned"
    assert "verified its bundle and stops short of decrypting it: no identity here" in check.message


def test_on_azure_pipelines_each_secret_becomes_a_secret_variable_and_shows_nowhere_else(example, invoke):
    done = invoke(
        example, "ci.lint", TF_BUILD="True", DSCI_SMTP_PASSWORD="azure-marker-0c9d", JENKINS_TOKEN="jt-55a1"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    registered = [line for line in done.stdout.splitlines() if "issecret=true" in line]  # the registry's too
    ours = [line for line in registered if line.endswith(("]azure-marker-0c9d", "]jt-55a1"))]
    assert sorted(re.sub(r"DSCI_MASKED_\d+", "DSCI_MASKED_n", line) for line in ours) == [
        "##vso[task.setvariable variable=DSCI_MASKED_n;issecret=true]azure-marker-0c9d",
        "##vso[task.setvariable variable=DSCI_MASKED_n;issecret=true]jt-55a1",
    ]
    names = [re.search(r"variable=(\w+);", line)[1] for line in registered]
    assert len(set(names)) == len(names)  # a variable of its own for each: the agent masks every one
    others = "\n".join(line for line in done.stdout.splitlines() if line not in registered) + done.stderr
    assert "azure-marker-0c9d" not in others and "jt-55a1" not in others
