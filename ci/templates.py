"""The CI templates (Jenkins, Azure Pipelines, GitHub Actions) and copying them into a repository.

The templates live at the top of dsci's repository (``jenkins/``,
``azure-pipelines/``, ``github-actions/``) and ship inside the wheel as
``ci/templates/<provider>/``. They only install dsci, call ``invoke``, and
publish what the stages wrote. Copying never overwrites a file the user
changed unless asked to: it shows the difference instead.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from ci.core import files
from ci.core.errors import ConfigError, EnvError
from ci.core.text import closest, show

# provider: (folder in dsci's repository, [(template, where it goes in a repo)]). In the wheel the
# folder is the package ci.templates.<folder with "_" for "-">.
PROVIDERS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "jenkins": ("jenkins", [("Jenkinsfile", "Jenkinsfile"), ("jobs.yaml", "jenkins/jobs.yaml")]),
    "azure": (
        "azure-pipelines",
        [
            ("azure-pipelines.yml", "azure-pipelines/azure-pipelines.yml"),
            ("templates/stages.yml", "azure-pipelines/templates/stages.yml"),
            ("templates/jobs.yml", "azure-pipelines/templates/jobs.yml"),
            ("templates/steps.yml", "azure-pipelines/templates/steps.yml"),
        ],
    ),
    "github": (
        "github-actions",
        [
            ("action.yml", ".github/actions/dsci/action.yml"),
            ("workflows/dsci.yml", ".github/workflows/dsci.yml"),
            ("workflows/ci.yml", ".github/workflows/ci.yml"),
        ],
    ),
}

TASKS_PY = '''"""This project's tasks: `invoke --list` shows them, `invoke ci.all` runs the dsci pipeline."""

import ci
from invoke import Collection

ns = Collection(ci.namespace(__file__))
'''

INVOKE_YAML = """# dsci settings: `invoke ci.all` runs the pipeline with them. Every key, its
# default and meaning: the settings reference in dsci's README, or the JSON Schema
# shipped at ci/resources/config.schema.json.
ci:
  lint:
    paths: [.]
  test:
    paths: [tests]
"""


@dataclass
class Copied:
    """What happened to one file: created, unchanged, replaced, or kept (with the difference)."""

    path: str
    action: str
    diff: str = ""


def template_folder(provider: str) -> Path:
    """The provider's templates: in the installed package, or in dsci's source checkout."""
    source = PROVIDERS[provider][0]
    here = Path(__file__).resolve().parent
    for folder in (here / "templates" / source.replace("-", "_"), here.parent / source):
        if folder.is_dir():
            return folder
    raise EnvError(f"dsci's {provider} templates are missing from its installation; reinstall dsci")


def check_provider(provider: str) -> str:
    if provider not in PROVIDERS:
        close = closest(provider, list(PROVIDERS))
        hint = f"did you mean {show(close)}? " if close else ""
        raise ConfigError(
            f"--provider: unknown CI provider {show(provider)}; {hint}use one of jenkins, azure, github"
        )
    return provider


def init(provider: str, root: Path, *, force: bool = False) -> list[Copied]:
    """Copy the provider's templates into ``root``, and a tasks.py and invoke.yaml when missing."""
    folder = template_folder(check_provider(provider))
    contents = [
        (folder.joinpath(template).read_bytes(), target) for template, target in PROVIDERS[provider][1]
    ]
    done = [_copy(content, root, target, force) for content, target in contents]  # all read before any write
    for name, text in (("tasks.py", TASKS_PY), ("invoke.yaml", INVOKE_YAML)):
        if not (root / name).exists():
            files.write_text(root / name, text)
            done.append(Copied(name, "created"))
    return done


def _copy(content: bytes, root: Path, target: str, force: bool) -> Copied:
    path = root / target
    if not path.exists():
        files.write_bytes(path, content)
        return Copied(target, "created")
    current = path.read_bytes()
    if current == content:
        return Copied(target, "unchanged")
    if force:
        files.write_bytes(path, content)
        return Copied(target, "replaced")
    diff = difflib.unified_diff(
        current.decode(errors="replace").splitlines(keepends=True),
        content.decode(errors="replace").splitlines(keepends=True),
        fromfile=f"{target} (yours)",
        tofile=f"{target} (dsci's template)",
    )
    return Copied(target, "kept", "".join(diff))
