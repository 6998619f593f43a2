"""ci.notify against a real SMTP server (aiosmtpd): a failed run's summary mailed, report.json attached."""

import json

import pytest

from tests.servers.smtp import Login, SmtpServer, free_port

pytestmark = pytest.mark.tool("invoke", "ruff", "aiosmtpd")


def smtp_env(box, **more):
    return {"INVOKE_CI_NOTIFY_SMTP_HOST": box.host, "INVOKE_CI_NOTIFY_SMTP_PORT": str(box.port), **more}


def fail_lint(example, invoke):
    (example / "clinic" / "extra.py").write_text("import os\n")
    done = invoke(example, "ci.all", "--only", "lint")
    assert done.returncode == 1, done.stdout + done.stderr


def test_a_failed_run_is_mailed_with_its_summary_and_report(example, invoke):
    fail_lint(example, invoke)
    summary = (example / "build" / "ci" / "summary.md").read_text()
    report = (example / "build" / "ci" / "report.json").read_bytes()
    with SmtpServer() as box:
        done = invoke(example, "ci.notify", **smtp_env(box, DSCI_MAIL_TO="ds@example.com, ops@example.com"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(box.messages) == 1
    recipients, mail = box.messages[0]
    assert recipients == ["ds@example.com", "ops@example.com"]
    assert mail["To"] == "ds@example.com, ops@example.com" and mail["From"] == "dsci@localhost"
    assert mail["Subject"] == "dsci: clinic failed (1 passed, 1 failed, 12 skipped)"
    body, attachment = mail.get_body(("plain",)), next(mail.iter_attachments())
    assert body.get_content().replace("\r\n", "\n").strip() == summary.strip()  # SMTP sends CRLF
    assert attachment.get_filename() == "report.json" and attachment.get_content() == report
    assert json.loads(attachment.get_content())["status"] == "failed"
    assert "Mailed ds@example.com, ops@example.com" in done.stdout


def test_a_passing_run_mails_no_one(example, invoke):
    assert invoke(example, "ci.lint").returncode == 0
    with SmtpServer() as box:
        done = invoke(example, "ci.notify", **smtp_env(box, DSCI_MAIL_TO="ds@example.com"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert box.messages == []
    assert "the last run passed: nothing to mail" in done.stdout


def test_login_with_credentials_from_the_environment_and_a_wrong_password_said_once(example, invoke):
    fail_lint(example, invoke)
    with SmtpServer(Login("mailer", "right-pass")) as box:
        good = invoke(example, "ci.notify", **smtp_env(box, DSCI_MAIL_TO="ds@example.com",
                      DSCI_SMTP_USER="mailer", DSCI_SMTP_PASSWORD="right-pass"))  # fmt: skip
        bad = invoke(example, "ci.notify", **smtp_env(box, DSCI_MAIL_TO="ds@example.com",
                     DSCI_SMTP_USER="mailer", DSCI_SMTP_PASSWORD="wrong-pass"))  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr
    assert len(box.messages) == 1
    assert bad.returncode == 2
    assert "refused the login of 'mailer': check DSCI_SMTP_USER and DSCI_SMTP_PASSWORD" in bad.stderr
    assert "wrong-pass" not in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr


def test_an_smtp_server_that_does_not_answer_is_an_environment_error(example, invoke):
    fail_lint(example, invoke)
    port = free_port()
    unanswered = {"INVOKE_CI_NOTIFY_SMTP_HOST": "127.0.0.1", "INVOKE_CI_NOTIFY_SMTP_PORT": str(port)}
    done = invoke(example, "ci.notify", DSCI_MAIL_TO="ds@example.com", **unanswered)
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"no SMTP server answers at 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_starttls_on_a_server_without_it_is_refused_before_any_login(example, invoke):
    fail_lint(example, invoke)
    with SmtpServer(Login("mailer", "right-pass")) as box:
        login = {"DSCI_SMTP_USER": "mailer", "DSCI_SMTP_PASSWORD": "right-pass"}
        env = smtp_env(box, DSCI_MAIL_TO="ds@example.com", INVOKE_CI_NOTIFY_STARTTLS="1", **login)
        done = invoke(example, "ci.notify", **env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"ci.notify.starttls: the SMTP server {box.host}:{box.port} does not offer STARTTLS" in done.stderr
    assert box.messages == []  # the password never went over the plain connection
