"""ci.init: copy a CI provider's templates into the repository."""

from __future__ import annotations

from invoke import task


@task(
    help={
        "provider": "jenkins, azure or github.",
        "force": "Replace files that differ from the templates; otherwise they stay and the diff is shown.",
    }
)
def init(c, provider, force=False):
    """Copy a CI provider's templates into this repository, and a tasks.py and invoke.yaml when missing."""
    from pathlib import Path

    from ci import templates
    from ci.tasks._boundary import boundary
    from ci.tasks._invoke import project_root

    root = project_root(c.config) if Path("tasks.py").exists() else Path.cwd()
    with boundary() as out:
        copied = templates.init(provider, root, force=force)
    for item in copied:
        if item.action == "kept":
            out.write(f"kept {item.path}: it differs from dsci's template; --force replaces it")
            out.write(item.diff.rstrip())
        else:
            out.write(f"{item.action} {item.path}")
