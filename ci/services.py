"""Real services on loopback for tests and local runs: ``dsci services up|down|status``.

``up`` installs what is missing (as root on Debian: docker.io, docker-registry,
apache2-utils, mmdebstrap), starts dockerd unless an engine answers, a
docker-registry on 127.0.0.1:5000 with htpasswd (bcrypt) authentication and
generated credentials, a moto server for AWS on 127.0.0.1:5001 (where moto is
installed) with a second registry on 127.0.0.1:5002 standing in for ECR's (moto
has none, and its token is fixed: AWS:123456789012-auth-token), and builds the
offline Python base image when it cannot be pulled. It is idempotent. ``down``
stops only what ``up`` started, by pid; ``status`` says what runs.

State, logs and the registry's credentials (``registry.env``, mode 0600) live in
``build/services/`` of the current folder.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ci.core.errors import ConfigError, EnvError

DOCKER_SOCKET = "/var/run/docker.sock"
MOTO_PORT, ECR_PORT = 5001, 5002
ECR_USER, ECR_PASSWORD = "AWS", "123456789012-auth-token"  # what moto's fixed ECR token decodes to
TOOLS = {"dockerd": "docker.io", "docker-registry": "docker-registry", "htpasswd": "apache2-utils",
         "mmdebstrap": "mmdebstrap"}  # fmt: skip
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PODMAN_CONF = """# Written by `dsci services up` for podman kube play (the deploy's local target).
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


@dataclass
class Services:
    """The services of one folder's ``build/services``; ``say`` tells what happens."""

    state: Path
    say: Callable[[str], None] = print
    registry_port: int = 5000
    base_image: str = "dsci/python-base:3.11-bookworm"
    base_packages: Sequence[str] = field(default_factory=list)

    @classmethod
    def from_environment(cls, folder: Path, say: Callable[[str], None] = print) -> Services:
        """Settings from DSCI_REGISTRY_PORT, DSCI_BASE_IMAGE and DSCI_BASE_PACKAGES (comma-separated)."""
        port = os.environ.get("DSCI_REGISTRY_PORT", "5000")
        if not port.isdigit():
            raise ConfigError(f"DSCI_REGISTRY_PORT must be a port number, got {port!r}")
        packages = [p.strip() for p in os.environ.get("DSCI_BASE_PACKAGES", "").split(",") if p.strip()]
        base = os.environ.get("DSCI_BASE_IMAGE") or cls.base_image
        return cls(folder / "build" / "services", say, int(port), base, packages)

    # The verbs -----------------------------------------------------------------

    def up(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.install_missing()
        self.start_docker()
        self.start_registry("registry", self.registry_port, "dsci")
        if self.start_moto():
            self.start_registry("ecr-registry", ECR_PORT, ECR_USER, ECR_PASSWORD)
        self.build_base_image()
        self.set_up_podman()

    def down(self) -> None:
        for name in ("ecr-registry", "moto", "registry", "dockerd"):
            self.stop(name)

    def status(self) -> list[str]:
        lines = [f"docker engine: {'answers' if docker_answers() else 'down'}"]
        lines += [
            f"{name}: {'runs' if self.running(name) else 'down'}"
            for name in ("registry", "moto", "ecr-registry")
        ]
        lines.append(
            f"podman (the deploy's local target): {'there' if shutil.which('podman') else 'missing'}"
        )
        return lines

    # The parts -----------------------------------------------------------------

    def install_missing(self) -> None:
        missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
        if missing:
            self.install(missing)

    def install(self, missing: list[str]) -> None:
        """Debian's packages, as root; else an EnvError that names them."""
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise EnvError(
                f"missing {', '.join(missing)}; install them (Debian: apt-get install {' '.join(missing)}) "
                "or run `dsci services up` as root"
            )
        self.say(f"installing {' '.join(missing)}")
        log = self.state / "apt.log"
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
            with open(log, "ab") as out:
                if subprocess.run(
                    argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=False
                ).returncode:
                    raise EnvError(f"`{' '.join(argv)}` failed; see {log}")

    def start_docker(self) -> None:
        if docker_answers():
            self.say("docker engine answers")
            return
        self.say(f"starting dockerd (log: {self.state / 'dockerd.log'})")
        self.spawn("dockerd", ["dockerd", "--host", f"unix://{DOCKER_SOCKET}"])
        self.wait("dockerd", docker_answers, 60)

    def start_registry(self, name: str, port: int, user: str, password: str = "") -> None:
        """An htpasswd-protected docker-registry on loopback; without a password one is generated and
        written with the user to NAME.env (0600)."""
        if self.running(name):
            self.say(f"{name} runs on 127.0.0.1:{port}")
            return
        self.refuse_taken(port)
        htpasswd = self.state / f"{name}.htpasswd"
        if not htpasswd.is_file():
            if not password:
                password = secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
                settings = {"DSCI_REGISTRY": f"127.0.0.1:{port}", "DSCI_REGISTRY_USER": user,
                            "DSCI_REGISTRY_PASSWORD": password}  # fmt: skip
                _write_private(self.state / f"{name}.env", "".join(f"{k}={v}\n" for k, v in settings.items()))
            made = subprocess.run(
                ["htpasswd", "-Bbc", str(htpasswd), user, password], capture_output=True, check=False
            )
            if made.returncode:
                raise EnvError(f"htpasswd could not write {htpasswd}: {made.stderr.decode().strip()}")
        data = self.state / f"{name}-data"
        data.mkdir(exist_ok=True)
        config = self.state / f"{name}.yml"
        config.write_text(
            "version: 0.1\n"
            f"storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
            f"auth:\n  htpasswd:\n    realm: dsci\n    path: {htpasswd}\n"
        )
        self.say(
            f"starting {name} (docker-registry) on 127.0.0.1:{port} (log: {self.state / (name + '.log')})"
        )
        self.spawn(name, ["docker-registry", "serve", str(config)])
        self.wait(name, lambda: answer(f"http://127.0.0.1:{port}/v2/") == 401, 10)

    def start_moto(self) -> bool:
        """A moto server for the AWS API, where moto is installed; whether one runs."""
        from importlib.util import find_spec

        if find_spec("moto") is None or find_spec("flask") is None:
            self.say("no moto server here (`pip install 'moto[server]'`): AWS left out")
            return False
        if self.running("moto"):
            self.say(f"moto runs on 127.0.0.1:{MOTO_PORT}")
            return True
        self.refuse_taken(MOTO_PORT)
        self.say(f"starting moto on 127.0.0.1:{MOTO_PORT} (log: {self.state / 'moto.log'})")
        self.spawn("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(MOTO_PORT)])
        self.wait("moto", lambda: answer(f"http://127.0.0.1:{MOTO_PORT}/") is not None, 20)
        return True

    def build_base_image(self) -> None:
        """The base image: there already, pulled, or built offline from Debian's packages."""
        if _docker("image", "inspect", self.base_image).returncode == 0:
            self.say(f"base image {self.base_image} is there")
            return
        if _docker("pull", self.base_image).returncode == 0:
            self.say(f"pulled {self.base_image}")
            return
        mirror = debian_mirror()
        self.say(f"building {self.base_image} offline with mmdebstrap from {mirror} (about 40 s)")
        include = ",".join(["python3", "python3-venv", "python3-pip", "ca-certificates", *self.base_packages])
        log = self.state / "mmdebstrap.log"
        with open(log, "wb") as errors:
            strap = subprocess.Popen(
                ["mmdebstrap", "--variant=minbase", "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
                 f"--include={include}", "bookworm", "-", mirror],
                stdout=subprocess.PIPE, stderr=errors,
            )  # fmt: skip
            imported = subprocess.run(["docker", "import", "-", self.base_image], stdin=strap.stdout,
                                      capture_output=True, check=False)  # fmt: skip
            strap.stdout.close()
            if strap.wait() or imported.returncode:
                raise EnvError(f"could not build {self.base_image}; see {log}")

    def set_up_podman(self) -> None:
        """podman for the deploy's local target (``podman kube play``), and a containers.conf that lets it
        run pods in a container like this one (no rlimits to raise, cgroupfs, logs to files); an
        existing containers.conf is left as it is."""
        if shutil.which("podman") is None:
            if os.geteuid() != 0 or shutil.which("apt-get") is None:  # the rest still serves the other stages
                self.say("podman is missing (Debian: apt-get install podman catatonit): the deploy's local "
                         "target will say so")  # fmt: skip
                return
            self.install(["podman", "catatonit"])
        conf = Path("/etc/containers/containers.conf")
        if os.geteuid() != 0:
            conf = Path.home() / ".config" / "containers" / "containers.conf"
        if conf.exists():
            self.say(f"podman is there ({conf} as it is)")
            return
        self.say(f"podman is there; writing {conf}")
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(PODMAN_CONF, encoding="utf-8")

    # Processes -----------------------------------------------------------------

    def spawn(self, name: str, argv: Sequence[str]) -> None:
        """Start a daemon in a session of its own (it outlives this command), its pid in NAME.pid.

        posix_spawn, not Popen: nothing in this process waits for it, or warns that it still runs."""
        log = str(self.state / f"{name}.log")
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        executable = shutil.which(argv[0]) or argv[0]
        pid = os.posix_spawn(executable, list(argv), os.environ, file_actions=actions, setsid=True)
        (self.state / f"{name}.pid").write_text(f"{pid}\n")

    def wait(self, name: str, ready: Callable[[], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            if not self.running(name):
                raise EnvError(f"{name} stopped at start; see {self.state / (name + '.log')}")
            if time.monotonic() > deadline:
                raise EnvError(
                    f"{name} did not answer within {seconds:g} s; see {self.state / (name + '.log')}"
                )
            time.sleep(0.25)

    def running(self, name: str) -> bool:
        pid = self.pid(name)
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return not _zombie(pid)

    def pid(self, name: str) -> int | None:
        text = (
            (self.state / f"{name}.pid").read_text().strip() if (self.state / f"{name}.pid").is_file() else ""
        )
        return int(text) if text.isdigit() else None

    def stop(self, name: str) -> None:
        if self.running(name):
            self.say(f"stopping {name}")
            os.kill(self.pid(name), signal.SIGTERM)  # type: ignore[arg-type]
            deadline = time.monotonic() + 10
            while self.running(name) and time.monotonic() < deadline:
                time.sleep(0.25)
            with contextlib.suppress(ChildProcessError):  # reap it, when this process started it
                os.waitpid(self.pid(name), os.WNOHANG)  # type: ignore[arg-type]
        (self.state / f"{name}.pid").unlink(missing_ok=True)

    def refuse_taken(self, port: int) -> None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise EnvError(
                    f"127.0.0.1:{port} is taken by a process this folder did not start; stop it (another "
                    "checkout's `dsci services down`)"
                )


def docker_answers(path: str = DOCKER_SOCKET) -> bool:
    """Whether a Docker engine answers its API's ping on the socket (no client library needed)."""
    try:
        with socket.socket(socket.AF_UNIX) as engine:
            engine.settimeout(2)
            engine.connect(path)
            engine.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return engine.recv(64).split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


def answer(url: str) -> int | None:
    """The HTTP status ``url`` answers with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def debian_mirror(sources: Path = Path("/etc/apt/sources.list.d/debian.sources")) -> str:
    """The Debian mirror apt uses here (it may be the only one reachable), or Debian's own."""
    if sources.is_file():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and line.split()[1:]:
                return line.split()[1]
    return DEBIAN_MIRROR


def _docker(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", *args], capture_output=True, check=False)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def _write_private(path: Path, text: str) -> None:
    """A file only its owner reads: the registry's credentials."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as f:
        f.write(text)
