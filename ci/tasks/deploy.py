"""ci.deploy, ci.deploy.render, ci.releases, ci.rollback and ci.signoff: the road from the registry to a
running, smoke-tested release, and back."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks._stage import Stage


def environment_of(s: Any, given: str | None) -> tuple[str, Any]:
    """(name, settings) of the environment ``--env`` names (default ci.deploy.environment), or a
    ConfigError that names the closest one."""
    from ci.core.errors import ConfigError
    from ci.core.text import closest

    name = given or s.get("deploy.environment")
    environments = s.get("deploy.environments")
    if name not in environments:
        close = closest(name, environments)
        hint = f"did you mean {close!r}? " if close else ""
        where = "--env" if given else f"{s.where(('deploy', 'environment'))}: ci.deploy.environment"
        known = ", ".join(environments) or "none"
        raise ConfigError(f"{where}: no environment {name!r}; {hint}ci.deploy.environments has: {known}")
    env = environments[name]
    if env.min_replicas > env.max_replicas:
        raise ConfigError(
            f"{s.where(('deploy', 'environments', name))}: ci.deploy.environments.{name}: min_replicas "
            f"{env.min_replicas} is above max_replicas {env.max_replicas}"
        )
    return name, env


def candidate(s: Any) -> Any:
    """The release candidate of this workspace: the image ci.push pushed, and the bundle in it (from
    ci.package's folder when it is there, else as the push recorded it)."""
    import json

    from ci.core.errors import ConfigError
    from ci.core.files import sha256_file
    from ci.core.text import display
    from ci.deploy.releases import Candidate
    from ci.image import project_metadata
    from ci.package import latest_bundle
    from ci.security.signing import provenance_file

    made = s.report_dir / "push" / "push.json"
    if not made.is_file():
        raise ConfigError(
            f"{display(made)}: no pushed image to deploy; `invoke ci.push` pushes the built one"
        )
    pushed = json.loads(made.read_text(encoding="utf-8"))
    name, sha, proof = pushed.get("bundle", ""), pushed.get("bundle_sha256", ""), ""
    bundle = latest_bundle(s.root / s.get("package.out"))
    if bundle is not None:
        digest = sha256_file(bundle)[0]
        if sha and digest != sha:
            raise ConfigError(
                f"{display(bundle)} is not the bundle in the pushed image {pushed['repository']}@"
                f"{pushed['digest']}; run `invoke ci.image` and `invoke ci.push` again"
            )
        name, sha = bundle.name, digest
        provenance = provenance_file(bundle)
        proof = sha256_file(provenance)[0] if provenance.is_file() else ""
    version = project_metadata(s.root).get("version", "")
    return Candidate(pushed["repository"], pushed["digest"], name, sha, proof, version)


def history(s: Any) -> Any:
    from ci.deploy.history import Branch
    from ci.deploy.releases import History

    branch = Branch(s.root, s.get("deploy.releases_branch"), s.get("deploy.remote")).check()
    branch.fetch()
    return History(branch, deployment_name(s))


def deployment_name(s: Any) -> str:
    """ci.deploy.name, else the repository's name the image is pushed to, else the image's, else the
    project's: from the settings alone, so that a release job without the build's files finds the same
    history. ConfigError for a name Kubernetes would refuse (a DNS label)."""
    import re

    from ci.core.errors import ConfigError
    from ci.image import project_metadata

    name = (s.get("deploy.name") or s.get("push.repository").rsplit("/", 1)[-1] or s.get("image.name")
            or project_metadata(s.root).get("name") or s.root.resolve().name)  # fmt: skip
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,45}[a-z0-9])?", name):
        raise ConfigError(
            f"ci.deploy.name: {name!r} cannot name a Deployment (lowercase letters, digits and '-', at most "
            "47, so that its Secret's and pods' names fit); set ci.deploy.name"
        )
    return name


def smoke_rows(s: Any) -> Any:
    """The smoke test of a new release: the golden set's first rows (or the holdout's), and what the
    model of this workspace predicts for them. A deploy without rows to predict would prove nothing."""
    from ci import parity
    from ci.core.errors import ConfigError
    from ci.core.files import sha256_file
    from ci.deploy.rollout import Smoke
    from ci.parity.stage import dev_model

    mcfg, table = s.get("model"), _smoke_table(s)
    if table is None or not mcfg.path:
        raise ConfigError(
            "the deploy's smoke test posts rows to /predict and compares them with development: set "
            "ci.parity.golden (or ci.model.holdout) and ci.model.path"
        )
    model = dev_model(mcfg, s.root)
    rows = parity.golden_rows(table, mcfg, model)[: s.get("deploy.smoke_rows")]
    expected = parity.score_dev(model, rows, table)
    return Smoke(rows, expected, sha256_file(table)[0], s.get("parity.rtol"), s.get("parity.atol"),
                 columns=list(rows[0]) if rows else [])  # fmt: skip


def smoke_again(s: Any, release: Any) -> Any:
    """The smoke test of a release that served before (a rollback, a promotion): the rows it was tested
    with, from the golden set as it is now, and what it answered then. No model needed; when the golden
    set changed since, the answers are checked for their number only."""
    import json

    from ci.core.errors import ConfigError
    from ci.core.files import sha256_file
    from ci.deploy.rollout import Smoke
    from ci.model.loading import read_table
    from ci.parity.record import Scored

    recorded, table = release.smoke or {}, _smoke_table(s)
    if table is None or not recorded.get("columns"):
        raise ConfigError(f"{release.describe()}: no smoke test to repeat (set ci.parity.golden)")
    frame = read_table(table)
    missing = [c for c in recorded["columns"] if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{table.name} lost the column {missing[0]} that release {release.number} predicts from"
        )
    rows = json.loads(json.dumps(frame[recorded["columns"]].head(recorded["rows"]).to_dict(orient="records"),
                                 default=str))  # fmt: skip
    same = recorded.get("golden_sha256") == sha256_file(table)[0] and recorded.get("predictions")
    then = Scored.of(recorded["predictions"]) if same else None
    return Smoke(rows, then, recorded.get("golden_sha256", ""), s.get("parity.rtol"), s.get("parity.atol"),
                 columns=recorded["columns"])  # fmt: skip


def _smoke_table(s: Any) -> Any:
    tables = [s.root / p for p in (s.get("parity.golden"), s.get("model.holdout")) if p]
    return next((t for t in tables if t.is_file()), None)


def rollout(s: Any, environment: str, env: Any, say: Any = print, *, runs: bool = True) -> Any:
    """The Rollout of ``environment``: its target, history, identity and smoke test, from the settings;
    without ``runs``, one that only renders (no target reached, no identity read)."""
    from ci.deploy.rollout import Rollout
    from ci.tasks.security import age_identity

    name = deployment_name(s)
    return Rollout(
        name=name, environment=environment, env=env, cfg=s.get("deploy"), history=history(s),
        target=target(s, env) if runs else None, work=s.report_dir / "deploy",
        secret=s.get("deploy.identity_secret") or f"{name}-identity",
        identity=age_identity(s) if runs and env.target == "local" else "", by=who(),
        commit=s.stamp().get("commit") or "", say=say, smoke_for=lambda release: smoke_again(s, release),
    )  # fmt: skip


def target(s: Any, env: Any) -> Any:
    """Where the environment runs: podman here, logged in to the registry; or a cluster, reached with
    the kubeconfig of KUBECONFIG or of the variable ci.deploy.kubeconfig_env names (a CI's secret)."""
    if env.target == "kubernetes":
        from ci.deploy.cluster import Cluster

        return Cluster(env.context, s.secret("deploy.kubeconfig_env"))
    from ci.deploy.local import Local
    from ci.registry import loopback

    push = s.get("push")
    user, password = s.variable("push.username_env"), s.secret("push.password_env")
    login = {"username": user, "password": password} if user and password else None
    tls = push.scheme == "https" or (push.scheme == "auto" and not loopback(push.registry))
    return Local(push.registry, login, tls)


def who() -> str:
    """Who runs the deploy: the CI's user when a CI started it, else this machine's."""
    import getpass
    import os

    for variable in ("GITHUB_ACTOR", "BUILD_REQUESTEDFOR", "BUILD_USER_ID"):  # GitHub, Azure, Jenkins
        if os.environ.get(variable):
            return os.environ[variable]
    return getpass.getuser()


def deploy_stage(
    s: Any, environment: str | None = None, promote: str | None = None, force: bool = False
) -> Any:
    import sys

    from ci.core.errors import ConfigError
    from ci.core.results import StageResult
    from ci.deploy import signoffs

    if not s.get("deploy.enabled"):
        return StageResult("deploy", skipped="ci.deploy.enabled is false")
    name, env = environment_of(s, environment)
    say = lambda line: print(f"deploy: {line}", file=sys.stdout, flush=True)  # noqa: E731
    plan = rollout(s, name, env, say)
    if promote:
        source = environment_of(s, promote)[0]
        serving = plan.history.serving(source)
        if serving is None:
            raise ConfigError(f"--from {source}: no release of {source} serves; deploy there first")
        release, smoke = serving.candidate, smoke_again(s, serving)
    else:
        release, smoke = candidate(s), None
    approvals = signoffs.check(plan.history.branch, plan.name, release, name, env.signoffs, s.root)
    check = plan.unchanged(release) if not (promote or force) else None
    if check is None:
        check = plan.deploy(release, smoke or smoke_rows(s), approvals)
    return StageResult("deploy", [check], [str(s.report_dir / "deploy" / f"{name}.yaml")])


DEPLOY = Stage("deploy", deploy_stage, quiet=False, after_failure=False)


@task(
    default=True,
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
        "env": "The environment (ci.deploy.environments) to deploy to; default ci.deploy.environment.",
        "from": "Promote the release that serves in this environment (e.g. staging) instead of this "
        "workspace's pushed image: the same digests, and the smoke test it passed there.",
        "force": "Release again even when this build already serves there with these manifests.",
    },
)
def deploy(c, env=None, from_=None, tenant=None, force=False):
    """Deploy the pushed image by digest: manifests, rollout, smoke test, automatic rollback, a release."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [DEPLOY.given(environment=env, promote=from_, force=force)], tenant=tenant)


@task(
    help={
        "env": "The environment to render; default ci.deploy.environment.",
        "tenant": "Run with this tenant's settings (ci.tenants).",
    }
)
def render(c, env=None, tenant=None):
    """Write the kustomize base and overlay and the YAML they render to, validated; deploy nothing."""
    from ci.core.text import display
    from ci.tasks._boundary import Settings, boundary

    with boundary():
        s = Settings(c, tenant).validate()
        name, settings = environment_of(s, env)
        plan = rollout(s, name, settings, say=lambda line: None, runs=False)
        number = plan.history.next_number(name)
        plan.render(candidate(s), number)
        work = s.report_dir / "deploy"
        version = s.get("deploy.kubernetes_version")
        print(f"{display(work / (name + '.yaml'))}: the manifests of {name}, valid for Kubernetes {version}; "
              f"kustomize's tree: {display(work / 'kustomize')}")  # fmt: skip


@task(
    help={
        "env": "Only this environment's releases.",
        "tenant": "Run with this tenant's settings (ci.tenants).",
    }
)
def releases(c, env=None, tenant=None):
    """List the releases, newest last: environment, number, image, who, when, commit, smoke test."""
    from ci.tasks._boundary import Settings, boundary

    with boundary():
        s = Settings(c, tenant).validate()
        found = history(s)
        names = [environment_of(s, env)[0]] if env else found.environments()
        if not any(found.releases(name) for name in names):
            print(f"no releases yet on the branch {s.get('deploy.releases_branch')}")
        for name in names:
            serving = found.serving(name)
            for release in found.releases(name):
                mark = "*" if serving and release.number == serving.number else " "
                print(f"{mark} {release.describe()}")
                if release.note:
                    print(f"    {release.note}")
                for approval in release.signoffs:
                    role, signer, key = approval["role"], approval["signer"], approval["fingerprint"]
                    print(f"    signed off: {role} by {signer} ({key})")


@task(
    help={
        "env": "The environment to roll back.",
        "to": "The release to bring back; default: the one before.",
        "tenant": "Run with this tenant's settings (ci.tenants).",
    }
)
def rollback(c, env=None, to=None, tenant=None):
    """Redeploy an earlier release of an environment by digest, with the same smoke test."""
    from ci.tasks._boundary import run_stages

    run_stages(
        c, [Stage("deploy", _rollback_stage, quiet=False).given(environment=env, to=to)], tenant=tenant
    )


def _rollback_stage(s: Any, environment: str | None, to: str | None) -> Any:
    import sys

    from ci.core.errors import ConfigError
    from ci.core.results import StageResult
    from ci.deploy import signoffs

    name, env = environment_of(s, environment)
    plan = rollout(s, name, env, lambda line: print(f"rollback: {line}", file=sys.stdout, flush=True))
    if to is None:
        served = [r for r in plan.history.releases(name) if r.status == "live"]
        if len(served) < 2:
            raise ConfigError(f"{name} has no earlier release that served; `invoke ci.releases` lists them")
        release = served[-2]
    else:
        if not str(to).isdigit():
            raise ConfigError(f"--to {to}: a release number, as `invoke ci.releases --env {name}` lists them")
        release = plan.history.find(name, int(to))
    approvals = signoffs.check(plan.history.branch, plan.name, release.candidate, name, env.signoffs, s.root)
    return StageResult("deploy", [plan.rollback(release, approvals)])


@task(
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
        "role": "The role you sign off as (one of the environment's ci.deploy.environments.NAME.signoffs).",
        "env": "The environment the release may go to; default ci.deploy.environment.",
        "verdict": "approve (default) or reject.",
        "comment": "Why; kept in the signed statement.",
        "key": "Your OpenSSH Ed25519 private key; default ~/.ssh/id_ed25519.",
        "image": "The candidate image as REPOSITORY@sha256:...; default: the one this workspace pushed.",
        "bundle_sha256": "The candidate bundle's sha256, with --image.",
        "bundle": "The candidate bundle's file name, with --image.",
    }
)
def signoff(c, role, env=None, verdict="approve", comment="", key="~/.ssh/id_ed25519", image=None,
            bundle_sha256=None, bundle=None, tenant=None):  # fmt: skip
    """Sign a release candidate off for an environment with your own key: a signed in-toto statement."""
    from ci.core.errors import ConfigError
    from ci.deploy import signoffs
    from ci.deploy.releases import Candidate
    from ci.security import keys
    from ci.tasks._boundary import Settings, boundary

    with boundary():
        s = Settings(c, tenant).validate()
        name, settings = environment_of(s, env)
        if role not in settings.signoffs:
            roles = ", ".join(settings.signoffs) or "none"
            raise ConfigError(f"--role {role}: {name} requires no such sign-off; its roles: {roles}")
        if verdict not in signoffs.VERDICTS:
            raise ConfigError(f"--verdict {verdict}: approve or reject")
        if image:
            repository, _, digest = image.partition("@")
            if not digest.startswith("sha256:"):
                raise ConfigError(f"--image {image}: give it by digest, REPOSITORY@sha256:...")
            if bool(bundle) != bool(bundle_sha256):
                raise ConfigError("--bundle and --bundle-sha256 go together")
            release = Candidate(repository, digest, bundle or "", bundle_sha256 or "")
        else:
            release = candidate(s)
        path = keys.expand(key, s.root)
        text = keys.read_key_file(path, "--key", make="make one with `ssh-keygen -t ed25519`")
        private, keyid = keys.signing_key(text, str(path), s.secret("security.passphrase_env"))
        found = history(s)
        signoffs.sign(found.branch, found.name, release, name, role, verdict, comment, private, keyid)
        print(f"{role} {verdict}s {release.image} for {name} ({keyid}); recorded on "
              f"{s.get('deploy.releases_branch')}")  # fmt: skip
