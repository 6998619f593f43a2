"""dsci's comment on an Azure Repos pull request: a thread of its own, through the azure-devops SDK.

dsci's thread is found again by the marker in its first comment, whose text is
replaced; when there is none, a thread is created. Plots are the pull request's
own attachments (private to the project), named by their content, so a plot
that did not change is not sent again. A call that gets no answer (a 5xx, a
dropped connection) is tried again with backoff, a bounded number of times; the
token is sent, never shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ci.azure import Clients
from ci.core.errors import EnvError
from ci.core.files import sha256_file
from ci.core.retries import Transient, with_retries
from ci.pullrequest.find import PullRequest


class AzureRepos:
    def __init__(self, pr: PullRequest, token: str, *, token_env: str, retries: int) -> None:
        check = (
            f"check {token_env} (in a pipeline, map SYSTEM_ACCESSTOKEN: $(System.AccessToken)) and that the "
            "build service may contribute to pull requests"
        )
        self.pr, self.retries = pr, retries
        self.clients = Clients(pr.api, token, credential="token", check=check)
        self.git = self.call("connecting", lambda: self.clients.git)
        self.address = ""  # the pull request's page, once read

    def call(self, what: str, action: Callable[[], Any], *, once: bool = False) -> Any:
        """``action()``; no answer or a 5xx is tried again (``once``: raised as Transient, for a caller that
        must look again before it writes again)."""

        def attempt() -> Any:
            try:
                return self.clients.call(what, action)
            except EnvError as error:
                raise Transient(error.message) from None

        return attempt() if once else with_retries(attempt, tries=self.retries, what=self._on(what))

    def _on(self, what: str) -> str:
        return f"Azure DevOps, {what} on {self.pr.describe()},"

    def state(self) -> str:
        """The pull request's status as "open", or as Azure DevOps words it (completed, abandoned)."""
        pr = self.pr
        found = self.call(
            "reading the pull request",
            lambda: self.git.get_pull_request(pr.repository, pr.number, pr.project),
        )
        self.address = f"{pr.api}/{pr.project}/_git/{found.repository.name}/pullrequest/{pr.number}"
        return "open" if found.status == "active" else found.status

    def attach(self, images: Mapping[str, Path]) -> dict[str, str]:
        """Each image as an attachment of the pull request: {its path in the summary: its URL}. Named by
        content, listed before each try: an upload that got no answer but was stored is not sent again."""
        pr = self.pr
        names = {shown: f"{f.stem}-{sha256_file(f)[0][:12]}{f.suffix}" for shown, f in images.items()}

        def attempt() -> dict[str, str]:
            listed = self.git.get_attachments(pr.repository, pr.number, pr.project)
            present = {a.display_name: a.url for a in listed or []}
            for shown, file in images.items():
                if names[shown] not in present:
                    made = self.call(
                        "attaching a plot", lambda f=file, n=names[shown]: self._upload(f, n), once=True
                    )
                    present[names[shown]] = made.url
            return {shown: present[names[shown]] for shown in images}

        return with_retries(lambda: self.call("listing the attachments", attempt, once=True),
                            tries=self.retries, what=self._on("attaching the plots"))  # fmt: skip

    def _upload(self, file: Path, name: str) -> Any:
        with open(file, "rb") as stream:
            return self.git.create_attachment(
                stream, name, self.pr.repository, self.pr.number, self.pr.project
            )

    def publish(self, body: str, marker: str) -> tuple[str, str]:
        """("created" | "updated", the thread's URL): dsci's thread edited, or made when there is none.
        The threads are listed before each try: a thread stored without an answer is edited, not doubled."""
        from azure.devops.v7_1.git.models import Comment, GitPullRequestCommentThread

        repository, number, project = self.pr.repository, self.pr.number, self.pr.project

        def attempt() -> tuple[str, str]:
            threads = self.call(
                "listing the comment threads", lambda: self.git.get_threads(repository, number, project)
            )
            ours = next((t for t in threads or [] if _opens_with(t, marker)), None)
            if ours is not None:
                first, edited = ours.comments[0], Comment(content=body)
                self.call(
                    "editing the comment",
                    lambda: self.git.update_comment(edited, repository, number, ours.id, first.id, project),
                )
                return "updated", f"{self.address}?discussionId={ours.id}"
            thread = GitPullRequestCommentThread(comments=[Comment(content=body, comment_type="text")])
            made = self.call(
                "commenting", lambda: self.git.create_thread(thread, repository, number, project), once=True
            )
            return "created", f"{self.address}?discussionId={made.id}"

        return with_retries(attempt, tries=self.retries, what=self._on("commenting"))


def _opens_with(thread: Any, marker: str) -> bool:
    """Whether the thread's first comment is dsci's: not deleted, and holding the marker."""
    first = (thread.comments or [None])[0]
    return first is not None and not first.is_deleted and (first.content or "").startswith(marker)
