"""``invoke ci.notebooks.setup``: a repository whose commits hold stripped notebooks and whose notebook
diffs read cell by cell.

nbstripout becomes git's clean filter for ``*.ipynb`` (the commit is stripped,
the file on disk keeps its outputs), nbdime its diff and merge driver. The
drivers run this Python, so they work without an activated environment; the
settings go to the repository's own ``.git/config``, the attributes to
``.gitattributes`` to commit, so a teammate's clone asks for the same.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ci.core import files
from ci.core.errors import ConfigError, EnvError
from ci.core.process import Runner
from ci.notebooks import NOTEBOOKS_EXTRA

ATTRIBUTES = ("filter=nbstripout", "diff=jupyternotebook", "merge=jupyternotebook")


def configure(root: Path, run: Runner, keep_metadata: Sequence[str]) -> list[str]:
    """Set the filter and the drivers; returns what changed, in words."""
    import importlib.util

    for module in ("nbstripout", "nbdime"):
        if importlib.util.find_spec(module) is None:
            raise EnvError(f"{module} is not installed; install it with `{NOTEBOOKS_EXTRA}`")
    if not run(["git", "rev-parse", "--git-dir"]).ok:
        raise ConfigError(f"{root}: not a git repository; run `git init` first")
    python = f'"{sys.executable}"'
    wanted = {
        "filter.nbstripout.clean": f"{python} -m nbstripout",
        "filter.nbstripout.smudge": "cat",
        "filter.nbstripout.required": "true",
        "diff.jupyternotebook.command": f"{python} -m nbdime.vcs.git.diffdriver diff",
        "merge.jupyternotebook.driver": f"{python} -m nbdime.vcs.git.mergedriver merge %O %A %B %L %P",
        "merge.jupyternotebook.name": "jupyter notebook merge driver",
    }
    if keep_metadata:  # the filter keeps what the notebooks stage allows
        wanted["filter.nbstripout.keepmetadatakeys"] = " ".join(keep_metadata)
    done = []
    for key, value in wanted.items():
        if run(["git", "config", "--local", "--get", key]).stdout.strip() != value:
            if not run(["git", "config", "--local", key, value]).ok:
                raise ConfigError(f"git config --local {key} failed; is .git/config writable?")
            done.append(f"git config {key}")
    if not keep_metadata:
        run(["git", "config", "--local", "--unset-all", "filter.nbstripout.keepmetadatakeys"])
    if _add_attributes(root / ".gitattributes"):
        done.append(".gitattributes: *.ipynb " + " ".join(ATTRIBUTES) + " (commit it)")
    return done


def _add_attributes(path: Path) -> bool:
    """Add the notebook line to .gitattributes unless a line gives ``*.ipynb`` all three already."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["*.ipynb"] and set(ATTRIBUTES) <= set(fields[1:]):
            return False
    lead = "" if not text or text.endswith("\n") else "\n"
    files.write_text(path, f"{text}{lead}*.ipynb {' '.join(ATTRIBUTES)}\n")
    return True
