"""One exception hierarchy; each class carries the exit code of DESIGN.md's table.

| code | meaning                                                   |
| ---- | --------------------------------------------------------- |
| 0    | passed (warnings allowed)                                 |
| 1    | a check or gate failed                                    |
| 2    | configuration or usage error                              |
| 3    | environment error: a tool or service is missing           |
| 4    | security error: signature, decryption, sign-off, tenancy  |

The task boundary turns these into one line on stderr and the exit code;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

PASSED = 0
CHECK_FAILED = 1
CONFIG_ERROR = 2
ENVIRONMENT_ERROR = 3
SECURITY_ERROR = 4


class DsciError(Exception):
    """An expected failure: its message is the whole story, no traceback needed."""

    exit_code = CHECK_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class CheckFailed(DsciError):
    """A check or gate failed."""

    exit_code = CHECK_FAILED


class ConfigError(DsciError):
    """The configuration or the command line is wrong: the user must edit it."""

    exit_code = CONFIG_ERROR


class EnvError(DsciError):
    """A tool or service the stage needs is missing or unreachable."""

    exit_code = ENVIRONMENT_ERROR


class SecurityError(DsciError):
    """A signature, decryption, sign-off or tenant-isolation check refused."""

    exit_code = SECURITY_ERROR
