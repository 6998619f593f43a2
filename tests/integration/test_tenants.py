"""The example's four clinics as tenants: side by side end to end, isolated, each failure its own.

Real parts throughout: the Docker Engine and the authenticating registry of `dsci services up`,
podman for the deploys, age for the bundles.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import CLINICS, commit, copy_example, registry_env, run_invoke

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="the Docker CLI is missing")


@pytest.fixture(scope="module")
def clinics(tmp_path_factory, keys):
    """The example with `invoke ci.all --tenants all` run once, all four clinics at once:
    (folder, the run, report.json)."""
    folder = copy_example(tmp_path_factory.mktemp("tenants") / "clinic", keys)
    env = {**registry_env(), "INVOKE_CI_TENANTS_JOBS": "4"}  # all four at once, on any machine
    done = run_invoke(folder, "ci.all", "--tenants", "all", env=env, timeout=1200)
    report = json.loads((folder / "build" / "ci" / "report.json").read_text())
    return folder, done, report


def stages(report: dict) -> dict[str, dict]:
    return {stage["name"]: stage for stage in report["stages"]}


def test_four_clinics_run_side_by_side_through_image_parity_and_deploy(clinics):
    folder, done, report = clinics
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    found = stages(report)
    for name in ("git", "lint", "test", "notebooks"):  # the project's own, once
        assert found[name]["status"] == "passed"
    for clinic in CLINICS:
        for stage in (
            "isolation",
            "data",
            "model",
            "onnx",
            "package",
            "sign",
            "image",
            "push",
            "parity",
            "deploy",
        ):
            assert found[f"{clinic}/{stage}"]["status"] == "passed", (clinic, stage)
        own = json.loads((folder / "build" / "ci" / "tenants" / clinic / "report.json").read_text())
        assert own["status"] == "passed" and {s["name"] for s in own["stages"]} >= {"isolation", "parity"}
        image = json.loads(
            (folder / "build" / "ci" / "tenants" / clinic / "image" / "image.json").read_text()
        )
        assert image["tags"][0].startswith(f"clinic-{clinic}:")
        checks = {c["name"]: c for c in found[f"{clinic}/image"]["checks"]}
        assert checks["image"]["status"] == "passed"
        said = r"none of its [0-9]{4,} files is one of the [0-9]+ files of other tenants and the common data"
        assert re.fullmatch(said, checks["image"]["message"])
    # One row per tenant in the overview: its time and its process tree's peak memory.
    overview = {c["name"]: c for c in found["tenants"]["checks"]}
    assert set(overview) == set(CLINICS)
    assert all(
        c["details"]["peak_bytes"] > 50 * 2**20 and c["details"]["seconds"] > 0 for c in overview.values()
    )
    summary = (folder / "build" / "ci" / "summary.md").read_text()
    assert all(f"| {clinic}/parity | ✅ passed" in summary for clinic in CLINICS)
    # They ran at once (ci.tenants.jobs 4): each started before any deployed.
    started = sorted(found[f"{c}/isolation"]["started"] for c in CLINICS)
    ended = min(found[f"{c}/deploy"]["started"] for c in CLINICS)
    assert started[-1] <= ended


def test_each_clinics_log_is_its_own(clinics):
    folder, _, _ = clinics
    for clinic in CLINICS:
        log = (folder / "build" / "ci" / "tenants" / clinic / "ci.log").read_text()
        assert f"tenants/{clinic}/" in log
        others = [other for other in CLINICS if other != clinic]
        assert not any(f"tenants/{other}/model" in log or f"clinic-{other}:" in log for other in others), (
            clinic
        )


def test_a_clinics_bundle_opens_with_its_own_identity_and_no_other(clinics, keys):
    import pyrage

    folder, _, _ = clinics
    for clinic in CLINICS:
        (bundle,) = (folder / "dist" / "tenants" / clinic).glob("*.bundle.tar.age")
        assert bundle.name.startswith(f"clinic-{clinic}-")
        sealed = bundle.read_bytes()
        own = pyrage.x25519.Identity.from_str(_identity(keys / clinic / "model.age"))
        assert pyrage.decrypt(sealed, [own])[:100]  # a tar
        for other in CLINICS:
            if other == clinic:
                continue
            theirs = pyrage.x25519.Identity.from_str(_identity(keys / other / "model.age"))
            with pytest.raises(pyrage.DecryptError):
                pyrage.decrypt(sealed, [theirs])
        common = pyrage.x25519.Identity.from_str(_identity(keys / "model.age"))
        with pytest.raises(pyrage.DecryptError):
            pyrage.decrypt(sealed, [common])


def _identity(path: Path) -> str:
    return next(line for line in path.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))


def test_a_planted_leak_fails_with_exit_4_naming_both_clinics_the_file_and_the_count(example, invoke):
    train = example / "data" / "train.csv"
    lines = train.read_text().splitlines(keepends=True)
    south = next(line for line in lines[1:] if ",south," in line)
    train.write_text("".join(lines) + south.replace(",south,", ",north,"))  # one of south's patients at north
    commit(example, "a leak")
    done = invoke(example, "ci.all", "--tenants", "north,south,east", "--only", "isolation,data")
    assert done.returncode == 4, done.stdout[-3000:] + done.stderr
    said = done.stdout + done.stderr
    assert (
        "tenant north and tenant south share 1 patient_id value(s): north's rows of data/train.csv, "
        "south's rows of data/train.csv"
    ) in said
    patient = south.split(",")[0]
    written = [
        p for p in (example / "build" / "ci").rglob("*") if p.suffix in (".json", ".xml", ".md", ".log")
    ]
    assert (
        len(written) >= 10 and patient not in said
    )  # the count, never the values: on screen, in reports, logs
    assert not [p for p in written if patient in p.read_text()]
    found = stages(json.loads((example / "build" / "ci" / "report.json").read_text()))
    assert found["north/isolation"]["status"] == "failed" and found["north/data"]["status"] == "skipped"
    assert found["south/isolation"]["status"] == "failed"
    assert found["east/isolation"]["status"] == "passed" and found["east/data"]["status"] == "passed"


def test_a_failing_clinic_stops_no_other_and_the_report_says_which(example, invoke):
    settings = example / "invoke.yaml"
    settings.write_text(settings.read_text().replace(
        "settings: {model: {gates: {accuracy: {min: 0.8}, recall: {min: 0.6}}}}",
        "settings: {model: {gates: {accuracy: {min: 0.99}, recall: {min: 0.6}}}}",
    ))  # fmt: skip
    commit(example, "east asks too much")
    done = invoke(example, "ci.all", "--tenants", "all", "--only", "isolation,data,model")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    found = stages(json.loads((example / "build" / "ci" / "report.json").read_text()))
    assert found["east/model"]["status"] == "failed"
    assert all(found[f"{c}/model"]["status"] == "passed" for c in CLINICS if c != "east")
    overview = {c["name"]: c for c in found["tenants"]["checks"]}
    assert overview["east"]["status"] == "failed" and overview["east"]["message"].startswith("failed: model;")
    said = r"tenant east failed \(exit 1\) in [0-9.]+ s, peak [0-9]+ MiB; log: build/ci/tenants/east/ci.log"
    assert re.search(said, done.stdout)


def test_clinics_sharing_a_recipient_are_refused_with_exit_4(example, invoke):
    settings = example / "invoke.yaml"
    text = settings.read_text()
    settings.write_text(re.sub(r"recipients: \[\"[^\"]*\{tenant\}/model.age.pub\"\]",
                               lambda m: m.group(0).replace("{tenant}/", ""), text))  # fmt: skip
    done = invoke(example, "ci.all", "--tenant", "north", "--only", "isolation")
    assert done.returncode == 4, done.stdout[-3000:] + done.stderr
    said = (
        r"error: tenant isolation: tenants north and east share the age recipient age1\w{12}… "
        r"\(\S+model\.age\.pub; \S+model\.age\.pub\) \(and 2 more\): either's identity opens the "
        r"other's bundle"
    )
    assert re.search(said, done.stderr)


def test_an_unknown_clinic_and_a_filter_that_matches_nothing_are_named(example, invoke):
    done = invoke(example, "ci.all", "--tenant", "nrth")
    assert done.returncode == 2
    assert (
        "error: --tenant: unknown tenant 'nrth'; did you mean 'north'? tenants: east, north, south, west"
        in done.stderr
    )
    settings = example / "invoke.yaml"
    settings.write_text(settings.read_text().replace(
        "      - name: west\n", "      - name: west\n        filter: clinic = 'wset'\n"))  # fmt: skip
    done = invoke(example, "ci.data", "--tenant", "west")
    assert done.returncode == 2
    said = (
        "tenant west: clinic = 'wset' matches no row of data/train.csv (ci.tenants.list[3] (west)); "
        "fix its filter, or give it files of its own (data)"
    )
    assert f"error: {said}" in done.stderr
    done = invoke(example, "ci.all", "--tenants", "all", "--only", "isolation,data")  # the others still run
    assert done.returncode == 2
    found = stages(json.loads((example / "build" / "ci" / "report.json").read_text()))
    assert found["west/run"]["error"] == said and found["west/run"]["error_code"] == 2
    assert all(found[f"{c}/data"]["status"] == "passed" for c in CLINICS if c != "west")


def test_tenants_list_prints_the_names_for_a_matrix(example, invoke, tmp_path):
    done = invoke(example, "ci.tenants.list")
    assert done.returncode == 0 and json.loads(done.stdout) == list(CLINICS)
    azure = invoke(example, "ci.tenants.list", "--format", "azure").stdout
    assert (
        azure
        == "##vso[task.setvariable variable=matrix;isOutput=true]"
        + json.dumps({f"t_{clinic}": {"tenant": clinic} for clinic in CLINICS})
        + "\n"
    )
    output = tmp_path / "github-output"
    github = invoke(
        example, "ci.tenants.list", "--format", "github", GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(output)
    )
    assert github.returncode == 0 and output.read_text() == f"names={json.dumps(list(CLINICS))}\n"
    assert invoke(example, "ci.tenants.list", "--format", "lines").stdout == "east\nnorth\nsouth\nwest\n"
    wrong = invoke(example, "ci.tenants.list", "--format", "yaml")
    assert wrong.returncode == 2
    assert "error: --format must be one of json, lines, github, azure; got 'yaml'" in wrong.stderr


def test_tenants_with_only_the_projects_stages_run_no_tenant(example, invoke):
    done = invoke(example, "ci.all", "--tenants", "all", "--only", "lint")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    report = json.loads((example / "build" / "ci" / "report.json").read_text())
    ran = {s["name"]: s["status"] for s in report["stages"]}
    assert ran == {"git": "skipped", "lint": "passed", "test": "skipped", "notebooks": "skipped"}
    assert not (example / "build" / "ci" / "tenants").exists()


def test_a_tenants_report_folder_of_its_own_choosing_is_where_its_report_is_read(example, invoke):
    settings = example / "invoke.yaml"
    every = "    settings:                  # every clinic's; {tenant} is its name\n"
    settings.write_text(settings.read_text().replace(every, every + "      report_dir: reports/{tenant}\n"))
    done = invoke(example, "ci.all", "--tenants", "north", "--only", "isolation")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert json.loads((example / "reports" / "north" / "report.json").read_text())["status"] == "passed"
    found = stages(json.loads((example / "build" / "ci" / "report.json").read_text()))
    assert found["north/isolation"]["status"] == "passed"
    assert "log: reports/north/ci.log" in done.stdout
