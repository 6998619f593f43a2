"""dsci services: the local Docker engine, registry, moto server and offline base image."""

from __future__ import annotations

from invoke import task

ACTIONS = ("up", "down", "status")


@task(positional=["action"], help={"action": "up, down or status."})
def services(c, action):
    """Start (up), stop (down) or show (status) the local services of the image, push and parity stages."""
    from pathlib import Path

    from ci.core.errors import ConfigError
    from ci.services import Services
    from ci.tasks._boundary import boundary

    with boundary() as out:
        if action not in ACTIONS:
            raise ConfigError(f"dsci services: unknown action {action!r}; use up, down or status")
        local = Services.from_environment(Path.cwd(), say=lambda line: out.write(f"services: {line}"))
        if action == "status":
            for line in local.status():
                out.write(f"services: {line}")
        else:
            getattr(local, action)()
