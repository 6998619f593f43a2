"""The CI templates: copied by `dsci init` / `invoke ci.init` from a built wheel, checked by real validators.

Validators: check-jsonschema's vendored GitHub workflow, GitHub action and Azure
Pipelines schemas, yamllint, and Debian's groovy for the Jenkinsfile and the
shared library (parse phase only: no Jenkins here to run them).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ci.tasks.pipeline import NAMES
from tests.integration.conftest import REPO

YAMLLINT = (
    "{extends: default, rules: {line-length: {max: 120}, truthy: {check-keys: false}, "
    "document-start: disable, comments: {min-spaces-from-content: 1}}}"
)
BIN = Path(sys.executable).parent
PARSE_GROOVY = """
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases
args.each { name ->
    def unit = new CompilationUnit()
    unit.addSource(new File(name))
    unit.compile(Phases.CONVERSION)
}
"""


def run(*argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)


def java_home():
    java = shutil.which("java")
    return str(Path(os.path.realpath(java)).parents[1]) if java else ""


def groovy_parse(tmp_path, *files):
    script = tmp_path / "parse.groovy"
    script.write_text(PARSE_GROOVY)
    env = {**os.environ, "JAVA_HOME": os.environ.get("JAVA_HOME") or java_home()}
    return run("groovy", str(script), *map(str, files), env=env)


def check_schema(schema, *files):
    extra = ["--regex-variant", "python"] if schema == "vendor.azure-pipelines" else []
    return run(str(BIN / "check-jsonschema"), "--builtin-schema", schema, *extra, *map(str, files))


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    """dsci's sdist, then the wheel built from it (as a release is built: it proves the sdist carries the
    templates), and what the build printed."""
    out = tmp_path_factory.mktemp("wheel")
    # Without PYTHONDONTWRITEBYTECODE, whose "byte-compiling is disabled" note would read as a warning.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    built = run(sys.executable, "-m", "build", "--outdir", str(out), str(REPO), env=env)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return out, built.stdout + built.stderr


def warnings_in(output):
    return [line for line in output.splitlines() if re.search(r"(?i)warning|deprecat|would be ignored", line)]


def test_building_the_sdist_and_the_wheel_prints_no_setuptools_warning(distributions):
    _, output = distributions
    assert "Successfully built dsci-" in output
    assert warnings_in(output) == []


@pytest.fixture(scope="module")
def wheel_site(distributions):
    """dsci's wheel installed alone into a folder: (site folder, environment to use it)."""
    out, _ = distributions
    (wheel,) = out.glob("dsci-*.whl")
    site = out / "site"
    installed = run(sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel))
    assert installed.returncode == 0, installed.stderr
    assert warnings_in(installed.stdout + installed.stderr) == []
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = run(sys.executable, "-c", "import ci; print(ci.__file__)", env=env, cwd=out)
    assert where.stdout.strip().startswith(str(site)), where.stdout  # the wheel, not the source tree
    return site, env


@pytest.mark.tool("check_jsonschema", "yamllint", "groovy", "build")
@pytest.mark.parametrize("provider", ["github", "azure", "jenkins"])
def test_init_from_the_wheel_writes_files_that_pass_the_validators(wheel_site, tmp_path, provider):
    site, env = wheel_site
    repo = tmp_path / "repo"
    repo.mkdir()
    done = run(str(site / "bin" / "dsci"), "init", "--provider", provider, env=env, cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    written = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file())
    expected = {
        "github": [".github/actions/dsci/action.yml", ".github/workflows/ci.yml",
                   ".github/workflows/dsci.yml"],
        "azure": ["azure-pipelines/azure-pipelines.yml", "azure-pipelines/templates/jobs.yml",
                  "azure-pipelines/templates/stages.yml", "azure-pipelines/templates/steps.yml"],
        "jenkins": ["Jenkinsfile", "jenkins/jobs.yaml"],
    }[provider]  # fmt: skip
    assert written == sorted([*expected, "invoke.yaml", "tasks.py"])
    assert all(f"created {name}" in done.stdout for name in expected)
    yamls = [repo / name for name in written if name.endswith((".yml", ".yaml"))]
    linted = run(str(BIN / "yamllint"), "-d", YAMLLINT, *map(str, yamls))
    assert linted.returncode == 0, linted.stdout
    if provider == "github":
        workflows = check_schema(
            "vendor.github-workflows", *sorted((repo / ".github" / "workflows").glob("*.yml"))
        )
        assert workflows.returncode == 0, workflows.stdout + workflows.stderr
        action = check_schema("vendor.github-actions", repo / ".github" / "actions" / "dsci" / "action.yml")
        assert action.returncode == 0, action.stdout + action.stderr
    if provider == "azure":
        checked = check_schema("vendor.azure-pipelines", *sorted((repo / "azure-pipelines").rglob("*.yml")))
        assert checked.returncode == 0, checked.stdout + checked.stderr
    if provider == "jenkins":
        parsed = groovy_parse(tmp_path, repo / "Jenkinsfile")
        assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    listed = run(
        str(BIN / "invoke"), "--list", env=env, cwd=repo
    )  # the starter tasks.py and invoke.yaml work
    assert listed.returncode == 0 and "ci.all" in listed.stdout, listed.stdout + listed.stderr


@pytest.mark.tool("groovy")
def test_the_shared_library_and_the_jenkinsfile_parse_and_a_broken_one_does_not(tmp_path):
    parsed = groovy_parse(
        tmp_path, REPO / "jenkins" / "Jenkinsfile", *sorted((REPO / "jenkins" / "vars").glob("*.groovy"))
    )
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    broken = tmp_path / "Jenkinsfile"
    broken.write_text((REPO / "jenkins" / "Jenkinsfile").read_text().rstrip().removesuffix("}"))
    assert groovy_parse(tmp_path, broken).returncode != 0  # the check can fail


def test_a_changed_file_is_kept_and_its_diff_shown_unless_forced(example, invoke):
    assert invoke(example, "ci.init", "--provider", "github").returncode == 0
    workflow = example / ".github" / "workflows" / "ci.yml"
    workflow.write_text(workflow.read_text().replace('"3.11"', '"3.12"'))
    kept = invoke(example, "ci.init", "--provider", "github")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert (
        "kept .github/workflows/ci.yml: it differs from dsci's template; --force replaces it" in kept.stdout
    )
    assert '-      python-version: "3.12"\n+      python-version: "3.11"' in kept.stdout
    assert "unchanged .github/workflows/dsci.yml" in kept.stdout
    assert '"3.12"' in workflow.read_text()
    forced = invoke(example, "ci.init", "--provider", "github", "--force")
    assert "replaced .github/workflows/ci.yml" in forced.stdout and '"3.12"' not in workflow.read_text()
    assert "tasks.py" not in forced.stdout  # the project's own tasks.py and invoke.yaml are never touched


def test_an_unknown_provider_is_one_line_and_exit_2(example, invoke):
    done = invoke(example, "ci.init", "--provider", "gitlab")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        'error: --provider: unknown CI provider "gitlab"; did you mean "github"? '
        "use one of jenkins, azure, github"
    )


# Structure: the templates run every stage, and do nothing but install dsci and call invoke.


def shell_commands(node):
    """The values of every ``run`` (GitHub) and ``script`` (Azure) key, however deep."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("run", "script") and isinstance(value, str):
                yield value
            else:
                yield from shell_commands(value)
    elif isinstance(node, list):
        for item in node:
            yield from shell_commands(item)


def template_commands():
    """Every shell command of every template, by file."""
    found = {}
    for path in sorted((REPO / "github-actions").rglob("*.yml")) + sorted(
        (REPO / "azure-pipelines").rglob("*.yml")
    ):
        found[path] = list(shell_commands(yaml.safe_load(path.read_text())))
    for path in [REPO / "jenkins" / "Jenkinsfile", *sorted((REPO / "jenkins" / "vars").glob("*.groovy"))]:
        text = path.read_text()
        found[path] = re.findall(r"\bsh '([^']+)'", text) + re.findall(
            r'dsciRun\([^,]+, [^,]+, "([^"]+)"\)', text
        )
    return found


ALLOWED = [
    r"python3? -m venv \.venv && \.venv/bin/python -m pip install --quiet .+",
    r"python -m pip install --quiet .+",
    r"(\.venv/bin/)?invoke ci\.([a-z.]+|\$\{name\})( .*)?",  # ${name}: a stage of the shared library
]


def test_templates_hold_no_logic_beyond_installing_dsci_and_calling_invoke():
    commands = template_commands()
    assert sum(len(c) for c in commands.values()) >= 15  # the check found the commands it judges
    for path, found in commands.items():
        for command in found:
            assert any(re.fullmatch(pattern, command.strip()) for pattern in ALLOWED), (
                f"{path.name}: {command}"
            )


def test_every_stage_of_ci_all_appears_in_every_template():
    texts = {
        "Jenkinsfile": (REPO / "jenkins" / "Jenkinsfile").read_text(),
        "shared library": (REPO / "jenkins" / "vars" / "dsciPipeline.groovy").read_text(),
        "azure steps": (REPO / "azure-pipelines" / "templates" / "steps.yml").read_text(),
        "azure stages": (REPO / "azure-pipelines" / "templates" / "stages.yml").read_text(),
        "github action": (REPO / "github-actions" / "action.yml").read_text(),
        "github workflow": (REPO / "github-actions" / "workflows" / "dsci.yml").read_text(),
    }
    for stage in NAMES:
        assert f"stage('{stage}')" in texts["Jenkinsfile"] and f"invoke ci.{stage}" in texts["Jenkinsfile"], (
            stage
        )
        assert f"'{stage}'" in texts["shared library"], stage
    stages = ",".join(NAMES)
    assert f"default: [{', '.join(NAMES)}]" in texts["azure steps"]
    assert "shipStages" in texts["azure stages"] and f"default: [{', '.join(NAMES)}]" in texts["azure stages"]
    assert f"default: {stages}" in texts["github action"] and f"default: {stages}" in texts["github workflow"]


def test_the_package_lists_every_folder_of_ci_and_the_template_folders():
    import configparser

    from setuptools import find_namespace_packages

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = cfg["options"]["packages"].split()
    found = [p for p in find_namespace_packages(str(REPO), include=["ci", "ci.*"]) if "__pycache__" not in p]
    assert sorted(p for p in listed if not p.startswith("ci.templates.")) == sorted(found)
    mapped = dict(line.split(" = ") for line in cfg["options"]["package_dir"].strip().splitlines())
    assert set(mapped.values()) == {"jenkins", "azure-pipelines", "github-actions"}
    templates = [  # every folder of the templates, or setuptools warns that its files would be ignored
        ".".join([package, *folder.relative_to(REPO / top).parts])
        for package, top in mapped.items()
        for folder in [REPO / top, *(REPO / top).rglob("*")]
        if folder.is_dir() and "__pycache__" not in folder.parts
    ]
    assert sorted(p for p in listed if p.startswith("ci.templates.")) == sorted(templates)


def test_every_template_releases_behind_the_cis_approval_and_dsci_sign_offs():
    """The CI's own approval (a GitHub environment, an Azure environment's approvals, a Jenkins input)
    comes before `invoke ci.deploy --env ... --from ...`, which asks for dsci's signed sign-offs."""
    github = yaml.safe_load((REPO / "github-actions" / "workflows" / "dsci.yml").read_text())
    release = github["jobs"]["release"]
    assert release["environment"] == "${{ inputs.release }}" and release["needs"][0] == "dsci"
    assert (
        release["steps"][-1]["run"]
        == 'invoke ci.deploy --env "$RELEASE" --from "$FROM" ${TENANT:+--tenant "$TENANT"}'
    )
    assert "release: production" in (REPO / "github-actions" / "workflows" / "ci.yml").read_text()
    azure = yaml.safe_load((REPO / "azure-pipelines" / "templates" / "stages.yml").read_text())
    job = next(s for s in azure["stages"] if s["stage"] == "release")["jobs"][0]
    assert job["environment"] == "${{ parameters.release }}"
    steps = job["strategy"]["runOnce"]["deploy"]["steps"]
    assert steps[-1]["template"] == "release.yml"
    promote = yaml.safe_load((REPO / "azure-pipelines" / "templates" / "release.yml").read_text())
    assert promote["steps"][-1]["script"].startswith('invoke ci.deploy --env "$RELEASE" --from "$FROM"')
    jenkinsfile = (REPO / "jenkins" / "Jenkinsfile").read_text()
    stage = jenkinsfile[jenkinsfile.index("stage('release')") :]
    assert stage.index("input {") < stage.index('invoke ci.deploy --env "$DSCI_RELEASE" --from')
    library = (REPO / "jenkins" / "vars" / "dsciPipeline.groovy").read_text()
    assert library.index("input message:") < library.index("invoke ci.deploy --env ${release} --from")


def test_every_template_fans_tenants_out_one_job_each():
    """The tenants of `invoke ci.tenants.list` as a matrix (GitHub, Azure) or parallel branches (Jenkins),
    each job running `invoke ci.all --tenant NAME`, after the project's own stages."""
    github = yaml.safe_load((REPO / "github-actions" / "workflows" / "dsci.yml").read_text())
    listed, tenant = github["jobs"]["tenants"], github["jobs"]["tenant"]
    assert listed["steps"][-1]["run"] == "invoke ci.tenants.list --format github"
    assert listed["outputs"]["names"] == "${{ steps.list.outputs.names }}"
    assert tenant["needs"] == ["dsci", "tenants"] and tenant["strategy"]["fail-fast"] is False
    assert tenant["strategy"]["matrix"]["tenant"] == "${{ fromJSON(needs.tenants.outputs.names) }}"
    assert tenant["steps"][-1]["with"]["tenant"] == "${{ matrix.tenant }}"
    action = yaml.safe_load((REPO / "github-actions" / "action.yml").read_text())
    run = next(step for step in action["runs"]["steps"] if step.get("name") == "dsci")["run"]
    assert run == 'invoke ci.all --only "$STAGES" --skip "$SKIP" ${TENANT:+--tenant "$TENANT"}'

    azure = yaml.safe_load((REPO / "azure-pipelines" / "templates" / "tenant-stages.yml").read_text())
    jobs = {
        job.get("job") or job.get("deployment"): job for stage in azure["stages"] for job in stage["jobs"]
    }
    assert jobs["tenant"]["strategy"]["matrix"] == "$[ dependencies.tenants.outputs['list.matrix'] ]"
    assert jobs["shipTenant"]["strategy"]["matrix"] == "$[ dependencies.ship.outputs['ship.list.matrix'] ]"
    assert jobs["ship"]["environment"] == "${{ parameters.environment }}"
    assert jobs["tenant"]["steps"][0]["parameters"]["tenant"] == "$(tenant)"
    listing = yaml.safe_load((REPO / "azure-pipelines" / "templates" / "tenants.yml").read_text())["steps"][
        -1
    ]
    assert listing == {"script": "invoke ci.tenants.list --format azure", "name": "list",
                       "displayName": "List the tenants"}  # fmt: skip
    steps = yaml.safe_load((REPO / "azure-pipelines" / "templates" / "steps.yml").read_text())["steps"]
    assert any(s.get("script", "").endswith('${TENANT:+--tenant "$TENANT"}') for s in steps)

    jenkinsfile = (REPO / "jenkins" / "Jenkinsfile").read_text()
    assert "invoke ci.tenants.list --format lines" in jenkinsfile and "parallel branches" in jenkinsfile
    assert '.venv/bin/invoke ci.all --tenant "$TENANT" --skip "$SKIP"' in jenkinsfile
    library = (REPO / "jenkins" / "vars" / "dsciPipeline.groovy").read_text()
    assert "parallel branches" in library and "invoke ci.all --tenant ${tenant} --only" in library
