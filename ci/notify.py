"""Mail: the summary of a failed run to its recipients, with report.json attached.

SMTP host, port, STARTTLS and the sender come from the settings; the user and
password from environment variables the settings name (never printed). A
dropped connection or a 4xx answer is retried a bounded number of times.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ci.core import settings
from ci.core.errors import ConfigError, EnvError
from ci.core.retries import Transient, with_retries


def recipients(cfg: settings.Notify, extra: str = "") -> list[str]:
    """The configured recipients and the comma-separated ``extra`` ones (a Jenkins job's parameter)."""
    found = [*cfg.recipients, *(part.strip() for part in extra.split(","))]
    return list(dict.fromkeys(address for address in found if address))


def message(
    cfg: settings.Notify, to: Sequence[str], subject: str, body: str,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> EmailMessage:  # fmt: skip
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = cfg.sender, ", ".join(to), subject
    mail["Date"], mail["Message-ID"] = formatdate(localtime=True), make_msgid(domain="dsci")
    mail.set_content(body)
    for name, data, kind in attachments:
        maintype, _, subtype = kind.partition("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail


def send(cfg: settings.Notify, mail: EmailMessage, user: str = "", password: str = "") -> None:
    """Deliver ``mail`` through the configured SMTP server (logging in when given a user); one-line
    errors, no password shown."""
    host, port = cfg.smtp_host, cfg.smtp_port

    def deliver() -> None:
        try:
            with smtplib.SMTP(host, port, timeout=cfg.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if user:
                    smtp.login(user, password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError:
            raise ConfigError(
                f"the SMTP server {host}:{port} refused the login of {user!r}: check "
                f"{cfg.username_env} and {cfg.password_env}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise ConfigError(
                f"ci.notify.starttls: the SMTP server {host}:{port} does not offer STARTTLS"
            ) from None
        except smtplib.SMTPRecipientsRefused as error:
            raise ConfigError(
                f"the SMTP server {host}:{port} refused every recipient: {', '.join(error.recipients)}"
            ) from None
        except smtplib.SMTPResponseException as error:
            said = f"{error.smtp_code} {error.smtp_error.decode(errors='replace')}"
            if 400 <= error.smtp_code < 500:
                raise Transient(said) from None
            raise EnvError(f"the SMTP server {host}:{port} answered {said}") from None
        except (smtplib.SMTPServerDisconnected, ConnectionResetError, TimeoutError) as error:
            raise Transient(type(error).__name__) from None
        except OSError as error:
            raise EnvError(
                f"no SMTP server answers at {host}:{port} ({error.strerror or error}); "
                "check ci.notify.smtp_host and ci.notify.smtp_port"
            ) from None
        if refused:
            raise ConfigError(f"the SMTP server {host}:{port} refused {', '.join(sorted(refused))}")

    with_retries(deliver, tries=cfg.retries, what=f"mail through {host}:{port}")
