"""ci.push: the built image to a registry, with its digest read back."""

from __future__ import annotations

import sys
from typing import Any

from invoke import task

from ci.tasks._stage import Stage


def push_stage(s: Any) -> Any:
    from ci import image, registry
    from ci.core.results import StageResult

    cfg = s.get("push")
    if not cfg.registry and cfg.kind != "ecr":
        return StageResult("push", skipped="no registry configured (ci.push.registry)")
    built = image.built(s.report_dir / "image")
    tag = built["tags"][0]
    user, password = s.variable("push.username_env"), s.secret("push.password_env")
    login = {"username": user, "password": password} if user and password else None
    result = registry.push(cfg, engine=image.client(), image_tag=tag, credentials=login, stream=sys.stdout)
    _remember(s, result, built)
    return attest(s, result)


def _remember(s: Any, result: Any, built: dict[str, Any]) -> None:
    """push.json: what was pushed, by digest, for the deploy (the release candidate)."""
    import json

    from ci.core import files
    from ci.core.results import Status

    made = s.report_dir / "push" / "push.json"
    if result.status is Status.PASSED:
        bundle = {key: built.get(key, "") for key in ("bundle", "bundle_sha256")}
        pushed = {**result.checks[0].details, **bundle}
        files.write_text(made, json.dumps(pushed, indent=2) + "\n")
        result.artifacts.append(str(made))


def attest(s: Any, result: Any) -> Any:
    """A pushed image, by digest, signed beside its bundle when the build is signed."""
    from ci.core.results import Status
    from ci.package import latest_bundle
    from ci.security.signing import attest_image, provenance_file
    from ci.tasks.security import signing_setup, trusted_keys

    bundle = latest_bundle(s.root / s.get("package.out"))
    if result.status is Status.FAILED or bundle is None or not provenance_file(bundle).is_file():
        return result
    signing = signing_setup(s)
    if signing is None:
        return result
    pushed = result.checks[0].details
    check = attest_image(bundle, pushed["repository"], pushed["digest"], signing, trusted_keys(s)[0])
    result.checks.append(check)
    return result


PUSH = Stage("push", push_stage, quiet=False)


@task(help={"tenant": "Run with this tenant's settings (ci.tenants)."})
def push(c, tenant=None):
    """Push the built image to ci.push.registry, and check the digest the registry serves."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [PUSH], tenant=tenant)
