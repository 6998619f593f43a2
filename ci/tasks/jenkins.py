"""ci.jenkins.seed and ci.jenkins.failures: the jobs of a jobs file on Jenkins, and mail on failing ones."""

from __future__ import annotations

from typing import Any

from invoke import task


def _setup(c: Any, jobs: str | None) -> tuple[Any, Any, list[Any], Any]:
    """(settings, ci.jenkins, the jobs of the jobs file, a checked Server): the file before the server."""
    from ci import jenkins
    from ci.core.errors import ConfigError
    from ci.tasks._boundary import Settings

    s = Settings(c).validate()
    cfg = s.get("jenkins")
    listed = jenkins.read_jobs(s.root / (jobs or cfg.jobs))
    if not cfg.url:
        raise ConfigError("ci.jenkins.url is not set: name the Jenkins to seed")
    why = "Jenkins needs a user and an API token"
    user, token = s.variable("jenkins.user_env", why), s.secret("jenkins.token_env", why)
    server = jenkins.Server(cfg.url, user, token, retries=cfg.retries, timeout=cfg.timeout)
    server.check()
    return s, cfg, listed, server


@task(
    help={
        "plan": "Say what would change, and change nothing.",
        "prune": "Also delete jobs dsci manages (marked in their description) that left the jobs file.",
        "jobs": "The jobs file (ci.jenkins.jobs).",
    }
)
def seed(c, plan=False, prune=False, jobs=None):
    """Create and update Jenkins jobs to match the jobs file (--prune deletes); unchanged ones stay."""
    from ci import jenkins
    from ci.tasks._boundary import boundary

    with boundary() as out:
        _, _, listed, server = _setup(c, jobs)
        planned, rendered = jenkins.plan(server, listed, prune=prune)
        if plan:
            for verb, names in (("create folder", planned.folders), ("create", planned.create),
                                ("update", planned.update), ("delete", planned.delete)):  # fmt: skip
                for name in names:
                    out.write(f"would {verb} {name}")
        else:
            jenkins.apply(server, planned, rendered, out.write)
    counts = (len(planned.folders) + len(planned.create), len(planned.update), len(planned.delete))
    verbs = ("to create", "to update", "to delete") if plan else ("created", "updated", "deleted")
    tally = ", ".join(f"{n} {verb}" for n, verb in zip(counts, verbs, strict=True))
    out.write(f"{'plan' if plan else 'seeded'}: {tally}, {len(planned.unchanged)} unchanged")


@task(help={"jobs": "The jobs file (ci.jenkins.jobs)."})
def failures(c, jobs=None):
    """Mail one digest of the managed Jenkins jobs whose last build failed: build, link, and for how long."""
    import time

    from ci import jenkins, notify
    from ci.core.errors import ConfigError
    from ci.tasks._boundary import boundary
    from ci.tasks.notify import mail_login

    with boundary() as out:
        s, cfg, listed, server = _setup(c, jobs)
        found, missing = jenkins.failing(server, listed)
        for name in missing:
            out.write(f"{name} is in the jobs file but not on Jenkins: `invoke ci.jenkins.seed` creates it")
        if not found:
            out.write(f"none of the {len(listed)} managed jobs is failing: no mail")
            return
        mail_cfg = s.get("notify")
        failing_jobs = {f.job for f in found}
        owners = [r for job in listed if job.full_name in failing_jobs for r in job.recipients]
        to = list(dict.fromkeys([*notify.recipients(mail_cfg, s.variable("notify.recipients_env")), *owners]))
        if not to:
            raise ConfigError("no one to mail: set ci.notify.recipients, or recipients in the jobs file")
        subject = f"dsci: {len(found)} failing Jenkins job{'s' if len(found) > 1 else ''}"
        body = jenkins.digest(found, len(listed), cfg.url, time.time())
        notify.send(mail_cfg, notify.message(mail_cfg, to, subject, body), *mail_login(s))
    for f in found:
        out.write(f"failing: {f.job} #{f.number} since #{f.since_number}")
    out.write(f"mailed {', '.join(to)}: {subject}")
