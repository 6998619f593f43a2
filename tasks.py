"""dsci's own tasks: the pack runs its own pipeline (`invoke ci.all`) on itself."""

import re
from pathlib import Path

from invoke import Collection, task

import ci

REFERENCE = re.compile(r"(<!-- settings reference: .*? -->\n).*?(<!-- end of settings reference -->)", re.S)


@task
def schema(c):
    """Regenerate the JSON Schema and the README's settings reference from the declared settings."""
    from ci.core import config, files

    print(f"wrote {files.write_text('ci/resources/config.schema.json', config.schema_text())}")
    readme = Path("README.md").read_text(encoding="utf-8")
    updated = REFERENCE.sub(lambda m: m[1] + config.reference() + m[2], readme)
    print(f"wrote {files.write_text('README.md', updated)}")


ns = Collection(schema, ci.namespace(__file__))
