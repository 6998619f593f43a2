"""ci.report.publish: the last run's summary as one comment on the build's pull request, updated in place."""

from __future__ import annotations

from typing import Any

from invoke import task


@task(help={"dry_run": "Print the comment it would post, and post nothing."})
def publish(c, dry_run=False):
    """Comment the last run's report on the build's pull request; a later run edits that same comment."""
    from ci.core.errors import ConfigError
    from ci.core.text import display
    from ci.pullrequest import comment, find
    from ci.tasks._boundary import Settings, boundary

    with boundary() as out:
        s = Settings(c).validate()
        file = s.report_dir / "summary.md"
        if not file.is_file():
            raise ConfigError(f"no report in {display(s.report_dir)}: run `invoke ci.all` first")
        summary = file.read_text(encoding="utf-8")
        pr = find.find(out.environ)
        if dry_run:
            out.write(comment.render(summary, pr or find.PullRequest("github", 0, "", "", "")))
            return
        if pr is None:
            out.write(f"dsci: this build runs for no pull request ({out.name}): nothing to publish")
            return
        host = _host(s, pr)
        state = host.state()
        if state != "open":
            out.write(f"dsci: {pr.describe()} is {state}: nothing published")
            return
        plots = {p: s.report_dir / p for p in comment.images(summary) if (s.report_dir / p).is_file()}
        body = comment.render(summary, pr, host.attach(plots))
        posted, where = host.publish(body, comment.marker(pr))
    out.write(f"dsci: {posted} the report on {pr.describe()}: {where}")


def _host(s: Any, pr: Any) -> Any:
    """A client of the pull request's host, with the token the settings name."""
    from ci.pullrequest.azure import AzureRepos
    from ci.pullrequest.github import GitHub

    key = f"report.{pr.host}_token_env"
    token = s.secret(key, f"commenting on {pr.describe()} needs a token")
    client = GitHub if pr.host == "github" else AzureRepos
    return client(pr, token, token_env=s.get(key), retries=s.get("report.retries"))
