"""dsci's comment on a GitHub pull request, through the REST API with requests.

Comments are listed page by page (the Link header), dsci's is found by its
marker and edited, or created when there is none; a comment whose marker a
person removed is theirs and left alone. 5xx answers and dropped connections
are retried with backoff, an exhausted rate limit is waited out when the wait
is short; the token is sent, never shown.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci.core.errors import ConfigError, EnvError
from ci.core.retries import Transient, with_retries
from ci.pullrequest.find import PullRequest

LONGEST_WAIT = 60.0  # seconds: a rate limit that resets later than this fails the step instead
SCOPE = (
    "give it `pull-requests: write` (the workflow's permissions) or, for a personal token, "
    "the `repo` scope (`public_repo` for a public repository)"
)


class GitHub:
    def __init__(self, pr: PullRequest, token: str, *, token_env: str, retries: int) -> None:
        import requests

        self.pr, self.token_env, self.retries = pr, token_env, retries
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        })  # fmt: skip
        self.repo = f"{pr.api.rstrip('/')}/repos/{pr.repository}"

    def state(self) -> str:
        """The pull request's state: "open", or "closed"."""
        return self.call("GET", f"{self.repo}/pulls/{self.pr.number}", "reading the pull request")["state"]

    def attach(self, images: Mapping[str, Path]) -> dict[str, str]:
        """GitHub's API takes no images for a comment: the plots stay in the run's artifacts, linked."""
        return {}

    def publish(self, body: str, marker: str) -> tuple[str, str]:
        """("created" | "updated", the comment's URL): dsci's comment edited, or made when there is none.

        A create that got no answer may still have been stored: it is not sent again blindly, the
        comments are listed again first, so a retry edits the comment instead of adding a second."""

        def attempt() -> tuple[str, str]:
            ours = next((c for c in self.comments() if (c.get("body") or "").startswith(marker)), None)
            if ours is None:
                url = f"{self.repo}/issues/{self.pr.number}/comments"
                made = self.call("POST", url, "commenting", body=body, once=True)
                return "created", made.get("html_url", "")
            url = f"{self.repo}/issues/comments/{ours['id']}"
            edited = self.call("PATCH", url, "editing the comment", body=body)
            return "updated", edited.get("html_url", "")

        return with_retries(attempt, tries=self.retries, what=f"GitHub, commenting on {self.pr.describe()},")

    def comments(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        url: str | None = f"{self.repo}/issues/{self.pr.number}/comments?per_page=100"
        while url:
            page, url = self.call("GET", url, "listing the comments", paged=True)
            found += page
        return found

    def call(
        self, method: str, url: str, what: str, *, body: str | None = None, paged: bool = False,
        once: bool = False,
    ) -> Any:  # fmt: skip
        """The answer's JSON; 5xx, dropped connections and rate limits are tried again (``once``: raised as
        Transient, for the caller to decide), other refusals are one ConfigError naming the fix."""
        import requests

        def attempt() -> requests.Response:
            try:
                sent = None if body is None else {"body": body}
                answer = self.session.request(method, url, json=sent, timeout=30)
            except requests.RequestException as error:
                raise Transient(f"{type(error).__name__}") from None
            if answer.status_code >= 500:
                raise Transient(f"HTTP {answer.status_code}")
            if answer.status_code in (403, 429) and _rate_limited(answer):
                wait = _wait(answer)
                if wait > LONGEST_WAIT:
                    raise EnvError(
                        f"GitHub, {what}: rate limit exhausted for {wait:.0f} s more; run the step later"
                    )
                time.sleep(wait)
                raise Transient("rate limit exhausted")
            return answer

        where = f"GitHub, {what} on {self.pr.describe()},"
        answer = attempt() if once else with_retries(attempt, tries=self.retries, what=where)
        said = "" if answer.ok else _message(answer)
        if answer.status_code == 401:
            raise ConfigError(f"GitHub refused the token in {self.token_env} while {what}: is it valid?")
        if answer.status_code == 403 and "locked" in said.lower():
            raise ConfigError(f"{self.pr.describe()} is locked: GitHub takes no comments on it ({said})")
        if answer.status_code == 403:
            raise ConfigError(
                f"the token in {self.token_env} may not comment on {self.pr.describe()}: {SCOPE}"
            )
        if answer.status_code == 404:
            raise ConfigError(
                f"GitHub has no {self.pr.describe()} at {self.pr.api}, or the token in {self.token_env} "
                "may not see it"
            )
        if answer.status_code == 422:
            raise ConfigError(f"GitHub refused the comment while {what}: {said}")
        if not answer.ok:
            raise EnvError(f"GitHub, {what}: HTTP {answer.status_code}: {said}")
        data = answer.json()
        return (data, answer.links.get("next", {}).get("url")) if paged else data


def _message(answer: Any) -> str:
    """GitHub's own words for a refusal: the JSON's message, else the body's start."""
    try:
        data = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(data.get("message", "") if isinstance(data, dict) else "")[:200]


def _rate_limited(answer: Any) -> bool:
    """The primary limit (no calls left), or a secondary one (too many at once: GitHub says so)."""
    secondary = "secondary rate limit" in _message(answer).lower()
    return answer.headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in answer.headers or secondary


def _wait(answer: Any) -> float:
    """Seconds until GitHub takes calls again: Retry-After, else the primary limit's reset time, else the
    minute GitHub asks to wait after a secondary limit."""
    if "Retry-After" in answer.headers:
        return float(answer.headers["Retry-After"])
    if answer.headers.get("X-RateLimit-Remaining") == "0":
        return max(float(answer.headers.get("X-RateLimit-Reset", time.time())) - time.time(), 0.0) + 0.5
    return 60.0
