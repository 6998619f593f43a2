"""python-jenkins with dsci's errors: one line for 401/403/404, bounded retries for 5xx and drops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ci.core.errors import ConfigError, EnvError
from ci.core.retries import Transient, with_retries
from ci.core.text import first_line


class Server:
    """python-jenkins with dsci's errors: one line for 401/403/404, bounded retries for 5xx and drops."""

    def __init__(self, url: str, user: str, token: str, *, retries: int = 3, timeout: float = 30) -> None:
        try:
            import jenkins
        except ImportError:
            raise EnvError(
                "python-jenkins is not installed; install it with `pip install 'dsci[jenkins]'`"
            ) from None
        self.url, self.retries = url, retries
        self._jenkins = jenkins
        self.api = _client(jenkins)(url, username=user, password=token, timeout=timeout, retries=0)

    def call(self, what: str, action: Callable[[], Any]) -> Any:
        return with_retries(
            lambda: self._guarded(what, action), tries=self.retries, what=f"{what} on {self.url}"
        )

    def _guarded(self, what: str, action: Callable[[], Any]) -> Any:
        import requests

        try:
            return action()
        except _Refused as error:  # as for registries: fix the credentials' variables
            raise ConfigError(
                f"Jenkins at {self.url} refused {what} ({error}): check the user and API token in "
                "ci.jenkins.user_env and ci.jenkins.token_env, and that the user may configure jobs"
            ) from None
        except (requests.ConnectionError, self._jenkins.TimeoutException) as error:
            raise Transient(f"no answer ({type(error).__name__})") from None
        except self._jenkins.NotFoundException:
            raise EnvError(
                f"Jenkins at {self.url} answered 404 to {what}: is ci.jenkins.url the root URL of a Jenkins?"
            ) from None
        except self._jenkins.JenkinsException as error:
            raise EnvError(f"Jenkins at {self.url}, {what}: {first_line(error)}") from None
        except requests.HTTPError as error:  # another 4xx: say what Jenkins said
            said = (error.response.text or "").strip().splitlines()[:1] or [error.response.reason]
            raise EnvError(
                f"Jenkins at {self.url} answered {error.response.status_code} to {what}: {said[0]}"
            ) from None

    def check(self) -> str:
        """Who we are on Jenkins: proves the URL and the credentials before any change."""
        return self.call("whoAmI", lambda: self.api.get_whoami())["id"]

    def config(self, name: str) -> str | None:
        def get() -> str | None:
            try:
                return self.api.get_job_config(name)
            except self._jenkins.NotFoundException:
                return None

        return self.call(f"reading {name}", get)

    def create(self, name: str, xml: str) -> None:
        folder, _, short = name.rpartition("/")
        url = self.api._build_url(f"{_folder_url(folder)}createItem?name={_quote(short)}")
        self.call(f"creating {name}", lambda: self._post(url, xml))

    def update(self, name: str, xml: str) -> None:
        folder, _, short = name.rpartition("/")
        url = self.api._build_url(f"{_folder_url(folder)}job/{_quote(short)}/config.xml")
        self.call(f"updating {name}", lambda: self._post(url, xml))

    def delete(self, name: str) -> None:
        self.call(f"deleting {name}", lambda: self.api.delete_job(name))

    def jobs(self) -> list[dict[str, Any]]:
        return self.call("listing the jobs", lambda: self.api.get_all_jobs())

    def info(self, name: str) -> dict[str, Any] | None:
        def get() -> dict[str, Any] | None:
            try:
                return self.api.get_job_info(name)
            except self._jenkins.JenkinsException:  # python-jenkins' word for a job that is not there
                return None

        return self.call(f"reading {name}", get)

    def build(self, name: str, number: int) -> dict[str, Any]:
        return self.call(f"reading {name} #{number}", lambda: self.api.get_build_info(name, number))

    def _post(self, url: str, xml: str) -> None:
        import requests

        headers = {"Content-Type": "text/xml; charset=utf-8"}
        self.api.jenkins_open(requests.Request("POST", url, data=xml.encode("utf-8"), headers=headers))


class _Refused(Exception):
    pass


def _client(jenkins: Any) -> type:
    """python-jenkins' client, with answers sorted before it lumps 401, 403 and 500 into one exception."""

    class Client(jenkins.Jenkins):
        def _response_handler(self, response: Any) -> Any:
            status = response.status_code
            if status >= 500:
                raise Transient(f"{status} {response.reason}")
            if status in (401, 403):
                raise _Refused(f"{status} {response.reason}")
            return super()._response_handler(response)

    return Client


def _folder_url(folder: str) -> str:
    return "".join(f"job/{_quote(part)}/" for part in folder.split("/") if part)


def _quote(part: str) -> str:
    from urllib.parse import quote

    return quote(part, safe="")
