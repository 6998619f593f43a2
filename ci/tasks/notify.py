"""ci.notify: mail the summary of a failed run, report.json attached."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks._stage import Stage


def notify_stage(s: Any) -> Any:
    from ci import notify
    from ci.core import reports
    from ci.core.results import Check, StageResult, Status
    from ci.core.text import display

    cfg = s.get("notify")
    to = notify.recipients(cfg, s.variable("notify.recipients_env"))
    if not to:
        return StageResult("notify", skipped=f"no recipients (ci.notify.recipients, ${cfg.recipients_env})")
    report = s.report_dir / "report.json"
    if not report.is_file():
        return StageResult("notify", skipped=f"no report in {display(s.report_dir)}: no run to tell of")
    run = reports.load(s.report_dir)
    if run.status is not Status.FAILED:
        return StageResult("notify", skipped=f"the last run {run.status}: nothing to mail")
    subject = f"dsci: {s.root.resolve().name} failed ({run.tally()})"
    summary = (s.report_dir / "summary.md").read_text(encoding="utf-8")
    mail = notify.message(
        cfg, to, subject, summary, [("report.json", report.read_bytes(), "application/json")]
    )
    notify.send(cfg, mail, *mail_login(s))
    said = f"mailed {', '.join(to)}: {subject}"
    return StageResult("notify", [Check("mail", Status.PASSED, said)], summary=f"M{said[1:]}.")


def mail_login(s: Any) -> tuple[str, str]:
    """(user, password) for the SMTP server, from the variables the settings name; no user, no login."""
    user = s.variable("notify.username_env")
    why = f"{s.get('notify.username_env')} is set, so the SMTP login needs its password"
    return user, s.secret("notify.password_env", why) if user else ""


NOTIFY = Stage("notify", notify_stage)


@task
def notify(c):
    """When the last run failed, mail its summary to ci.notify.recipients with report.json attached."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [NOTIFY])
