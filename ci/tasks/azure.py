"""ci.azure.sync: the Azure DevOps pipeline that runs the repository's azure-pipelines.yml."""

from __future__ import annotations

from invoke import task


@task(help={"run": "Also queue a run of ci.azure.branch once the pipeline is in place."})
def sync(c, run=False):
    """Create or update the Azure DevOps pipeline for ci.azure.yaml (token from ci.azure.token_env)."""
    from ci import azure
    from ci.tasks._boundary import Settings, boundary

    with boundary() as out:
        s = Settings(c).validate()
        cfg = s.get("azure")
        token = s.secret("azure.token_env", "Azure DevOps needs a personal access token")
        synced = azure.sync(cfg, token, queue=run)
    out.write(synced.message)
    if synced.run:
        out.write(f"queued {synced.run}")
