"""Deploy in process: the manifests, the local target's view of them, releases and sign-offs (the branch
they live on is tested with real git in tests/integration/test_history.py, the rollout with podman in
tests/integration/test_deploy.py)."""

from __future__ import annotations

import json

import pytest

from ci.core import config
from ci.core.errors import ConfigError, SecurityError
from ci.core.settings import Environment
from ci.deploy import local, manifests, signoffs
from ci.deploy.releases import FAILED, Candidate, History, Release
from ci.security import keys

DIGEST = "sha256:" + "d" * 64
CANDIDATE = Candidate("127.0.0.1:5000/clinic", DIGEST, "clinic.bundle.tar.age", "b" * 64, "c" * 64, "0.1.0")


def plan(secret: str = "clinic-identity", **env: object) -> manifests.Plan:
    return manifests.Plan("clinic", "127.0.0.1:5000/clinic", DIGEST, "staging", Environment(**env), secret,
                          {"dsci.dev/release": "3"})  # fmt: skip


class MemoryBranch:
    """The releases branch as a dict: what History and the sign-offs read and write."""

    name = "dsci/releases"

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.commits: list[str] = []

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def list(self, folder: str) -> list[str]:
        return sorted(p for p in self.files if p.startswith(folder.rstrip("/") + "/"))

    def commit(self, make, message: str) -> str:
        self.files.update(make(self.read))
        self.commits.append(message)
        return str(len(self.commits))

    def record(self, make, message: str) -> None:
        self.commit(make, message)


# Manifests -------------------------------------------------------------------------------------


@pytest.mark.tool("kubernetes_validate")
def test_the_rendered_release_runs_the_image_by_digest_hardened_and_validates():
    documents = manifests.render(plan(replicas=3, memory="2Gi", max_replicas=9))
    manifests.validate(documents, "1.33.0", "ci.deploy.environments.staging")
    kinds = [d["kind"] for d in documents]
    assert kinds == [
        "Service",
        "Deployment",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
    ]
    assert {d["metadata"]["namespace"] for d in documents} == {"staging"}
    deployment = documents[1]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"127.0.0.1:5000/clinic@{DIGEST}"
    assert "replicas" not in deployment["spec"]  # the autoscaler's to set: an apply would reset them
    assert container["resources"]["requests"]["memory"] == "2Gi"
    assert container["securityContext"] == {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                            "capabilities": {"drop": ["ALL"]}}  # fmt: skip
    assert "ports" not in container  # podman would publish a declared port on the host
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {"dsci.dev/release": "3"}
    assert documents[3]["spec"]["maxReplicas"] == 9
    assert documents[4]["spec"]["egress"] == []  # the model calls no one
    fixed = manifests.render(plan(autoscale=False, replicas=3))
    assert [d["kind"] for d in fixed] == ["Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy"]
    assert fixed[1]["spec"]["replicas"] == 3


def test_a_bundle_that_is_not_encrypted_gets_no_identity():
    deployment = manifests.render(plan(secret=""))[1]
    pod = deployment["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]
    assert "DSCI_IDENTITY" not in {e["name"] for e in pod["containers"][0]["env"]}


@pytest.mark.tool("kubernetes_validate")
def test_an_invalid_manifest_names_the_document_and_the_field():
    documents = manifests.render(plan())
    documents[1]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/x"
    with pytest.raises(ConfigError) as raised:
        manifests.validate(documents, "1.33.0", "ci.deploy.environments.staging")
    message = raised.value.message
    assert message.startswith(
        "ci.deploy.environments.staging: Deployment clinic is not valid for Kubernetes 1.33.0"
    )
    assert "livenessProbe.httpGet" in message and "paht" in message
    with pytest.raises(ConfigError, match=r"ci.deploy.kubernetes_version: 0.1.0 is not a version"):
        manifests.validate(documents, "0.1.0", "x")


def test_settings_refuse_a_quantity_kubernetes_would_not_take(invoke_config):
    from ci.tasks._boundary import Settings

    class C:
        def __init__(self, cfg):
            self.config = cfg

    bad = "ci:\n  deploy:\n    environments:\n      staging: {memory: lots}\n"
    with pytest.raises(
        ConfigError, match=r'ci.deploy.environments.staging.memory must be a Kubernetes quantity.*"lots"'
    ):
        Settings(C(invoke_config(bad))).validate()
    assert config.validate(
        {"deploy": {"environments": {"s": {"cpu": "1.5", "memory": "512Mi"}}}}, lambda p: "x"
    )


def test_the_local_target_names_pods_volumes_and_secrets_by_namespace():
    (played,) = local.local_documents(manifests.render(plan(min_replicas=2)))
    assert played["kind"] == "Deployment" and played["metadata"]["name"] == "staging-clinic"
    assert played["spec"]["replicas"] == 2  # as many pods as the autoscaler would start with
    pod = played["spec"]["template"]["spec"]
    assert {v["name"] for v in pod["volumes"]} == {"staging-clinic-identity", "staging-clinic-tmp"}
    secret = next(v["secret"] for v in pod["volumes"] if "secret" in v)
    assert secret["secretName"] == "staging-clinic-identity"
    assert {m["name"] for m in pod["containers"][0]["volumeMounts"]} == {v["name"] for v in pod["volumes"]}


# Releases --------------------------------------------------------------------------------------


def release(number: int, status: str = "live") -> Release:
    return Release(number, "staging", CANDIDATE, "ana", "2026-12-02T10:00:00Z", "f" * 40, status=status,
                   note="" if status == "live" else "it answered wrongly")  # fmt: skip


def test_the_serving_release_is_the_newest_that_served_and_rollback_targets_are_checked():
    history = History(MemoryBranch(), "clinic")
    for number, status in ((1, "live"), (2, "live"), (3, FAILED)):
        history.record(release(number, status), f"# release {number}\n")
    assert history.serving("staging").number == 2 and history.next_number("staging") == 4
    assert history.branch.read("clinic/staging/1.yaml") == b"# release 1\n"
    assert history.environments() == ["staging"]
    never = r"--to 3: release 3 of staging never served \(it answered wrongly\); releases that served: 1, 2"
    with pytest.raises(ConfigError, match=never):
        history.find("staging", 3)
    with pytest.raises(ConfigError, match=r"--to 7: staging has no release 7; releases that served: 1, 2"):
        history.find("staging", 7)
    line = json.loads(history.branch.read("clinic/staging/releases.jsonl").decode().splitlines()[0])
    assert line["candidate"]["digest"] == DIGEST and line["by"] == "ana"


# Sign-offs -------------------------------------------------------------------------------------


@pytest.fixture
def people(tmp_path):
    for person in ("qa", "product", "stranger"):
        keys.create(tmp_path / person, "signing", f"{person}@clinic.example", would_commit=False)
    return tmp_path


def sign(branch, people, person, role="qa", verdict="approve", candidate=CANDIDATE, environment="production"):
    key, keyid = keys.signing_key((people / person).read_text(), person)
    signoffs.sign(branch, "clinic", candidate, environment, role, verdict, "a comment", key, keyid)


def required(people, **roles):
    return {role: [str(people / f"{person}.pub")] for role, person in roles.items()}


@pytest.mark.tool("securesystemslib", "cryptography")
def test_deploy_needs_an_approving_sign_off_per_role_by_a_trusted_key_for_this_candidate(people):
    branch = MemoryBranch()
    need = required(people, qa="qa", product="product")

    def refusal() -> str:
        with pytest.raises(SecurityError) as raised:
            signoffs.check(branch, "clinic", CANDIDATE, "production", need, people)
        return raised.value.message

    said = refusal()
    assert said.startswith(f"production needs sign-offs for 127.0.0.1:5000/clinic@{DIGEST}: ")
    assert "qa: no sign-off | product: no sign-off" in said
    assert f"`invoke ci.signoff --env production --role ROLE --image 127.0.0.1:5000/clinic@{DIGEST} " in said
    sign(branch, people, "stranger")
    assert "qa: " in refusal() and "which is not a trusted key" in refusal()
    sign(branch, people, "qa", candidate=Candidate(CANDIDATE.repository, "sha256:" + "e" * 64,
                                                   CANDIDATE.bundle, CANDIDATE.bundle_sha256))  # fmt: skip
    assert (
        "qa@clinic.example signed off other digests (127.0.0.1:5000/clinic sha256:eeeeeeeeeeee" in refusal()
    )
    sign(branch, people, "qa", environment="staging")  # the right digests, for another environment
    sign(branch, people, "qa", verdict="reject")
    assert "qa@clinic.example rejected it: a comment" in refusal()
    sign(branch, people, "qa")
    sign(branch, people, "product", role="product")
    approvals = signoffs.check(branch, "clinic", CANDIDATE, "production", need, people)
    signed = [(a["role"], a["signer"]) for a in approvals]
    assert signed == [("qa", "qa@clinic.example"), ("product", "product@clinic.example")]
    # The other environment's sign-off does not count for production, nor production's for staging.
    with pytest.raises(SecurityError, match="staging needs sign-offs"):
        signoffs.check(branch, "clinic", CANDIDATE, "staging", required(people, product="product"), people)


@pytest.mark.tool("securesystemslib", "cryptography")
def test_a_key_allowed_only_for_another_role_does_not_sign_off(people, tmp_path):
    branch = MemoryBranch()
    public = (people / "qa.pub").read_text().split()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'qa@clinic.example namespaces="product" {public[0]} {public[1]}\n')
    sign(branch, people, "qa")
    with pytest.raises(SecurityError, match="who may not sign for 'qa'"):
        signoffs.check(branch, "clinic", CANDIDATE, "production", {"qa": [str(allowed)]}, people)


@pytest.mark.tool("securesystemslib", "cryptography")
def test_a_sign_off_statement_is_in_toto_over_both_digests(people):
    branch = MemoryBranch()
    sign(branch, people, "qa")
    (path,) = branch.list("clinic/signoffs/production/qa")
    envelope = json.loads(branch.read(path))
    import base64

    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == signoffs.PREDICATE
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == {
        "127.0.0.1:5000/clinic": "d" * 64, "clinic.bundle.tar.age": "b" * 64
    }  # fmt: skip
    assert statement["predicate"]["role"] == "qa" and statement["predicate"]["verdict"] == "approve"


@pytest.mark.tool("securesystemslib", "cryptography")
def test_a_sign_off_moved_to_another_environment_or_role_counts_for_nothing(people):
    branch = MemoryBranch()
    sign(branch, people, "qa", environment="staging")
    (staging,) = branch.list("clinic/signoffs/staging/qa")
    branch.files[staging.replace("/staging/", "/production/")] = branch.files[staging]
    need = required(people, qa="qa")
    with pytest.raises(SecurityError, match=r"qa: qa@clinic.example signed off staging, not production"):
        signoffs.check(branch, "clinic", CANDIDATE, "production", need, people)
    sign(branch, people, "qa", role="product")
    (product,) = branch.list("clinic/signoffs/production/product")
    branch.files[product.replace("/product/", "/qa/")] = branch.files.pop(product)
    with pytest.raises(SecurityError, match=r"qa@clinic.example's statement is no qa sign-off"):
        signoffs.check(branch, "clinic", CANDIDATE, "production", need, people)
    branch.files[product.replace("/product/", "/qa/")] = b"not json"
    with pytest.raises(SecurityError, match="is not a DSSE envelope"):
        signoffs.check(branch, "clinic", CANDIDATE, "production", need, people)


@pytest.mark.tool("securesystemslib", "cryptography")
def test_one_trusted_rejection_stands_against_an_approval(people):
    branch = MemoryBranch()
    need = {"qa": [str(people / "qa.pub"), str(people / "product.pub")]}
    sign(branch, people, "qa")
    sign(branch, people, "product", verdict="reject")
    with pytest.raises(SecurityError, match=r"qa: product@clinic.example rejected it: a comment"):
        signoffs.check(branch, "clinic", CANDIDATE, "production", need, people)


def test_a_release_number_another_run_took_meanwhile_becomes_the_next():
    history = History(MemoryBranch(), "clinic")
    history.record(release(1), "")
    late = release(1)  # numbered before the other run's record landed
    history.record(late, "")
    assert late.number == 2 and [r.number for r in history.releases("staging")] == [1, 2]
    assert history.branch.read("clinic/staging/2.yaml") == b""


def test_a_broken_line_on_the_branch_is_named_not_a_traceback():
    history = History(MemoryBranch(), "clinic")
    history.record(release(1), "")
    history.branch.files["clinic/staging/releases.jsonl"] += b'{"number": 2}\n'
    with pytest.raises(
        ConfigError, match=r"dsci/releases:clinic/staging/releases.jsonl:2: not a release dsci wrote"
    ):
        history.releases("staging")
