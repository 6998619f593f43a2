"""dsci's own tasks: the pack runs its own pipeline (`invoke ci.all`) on itself."""

from invoke import Collection, task

import ci


@task
def schema(c):
    """Regenerate ci/resources/config.schema.json from the declared settings."""
    from ci.core import config, files

    path = files.write_text("ci/resources/config.schema.json", config.schema_text())
    print(f"wrote {path}")


ns = Collection(schema, ci.namespace(__file__))
