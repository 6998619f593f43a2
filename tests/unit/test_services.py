"""dsci services: its settings from the environment, the mirror it builds the base image from."""

import pytest

from ci.core.errors import ConfigError, EnvError
from ci.services import DEBIAN_MIRROR, Services, debian_mirror


def test_settings_come_from_the_environment_with_defaults(project, monkeypatch):
    monkeypatch.delenv("DSCI_REGISTRY_PORT", raising=False)
    monkeypatch.delenv("DSCI_BASE_IMAGE", raising=False)
    monkeypatch.setenv("DSCI_BASE_PACKAGES", "libgomp1, curl")
    local = Services.from_environment(project)
    assert local.state == project / "build" / "services"
    assert (local.registry_port, local.base_image) == (5000, "dsci/python-base:3.11-bookworm")
    assert local.base_packages == ["libgomp1", "curl"]


def test_a_port_that_is_no_number_is_refused(project, monkeypatch):
    monkeypatch.setenv("DSCI_REGISTRY_PORT", "five thousand")
    with pytest.raises(ConfigError, match=r"^DSCI_REGISTRY_PORT must be a port number, got 'five thousand'$"):
        Services.from_environment(project)


def test_the_base_image_comes_from_the_mirror_apt_uses(tmp_path):
    sources = tmp_path / "debian.sources"
    sources.write_text("Types: deb\nURIs: http://mirror.internal/debian\nSuites: bookworm\n")
    assert debian_mirror(sources) == "http://mirror.internal/debian"
    assert debian_mirror(tmp_path / "missing.sources") == DEBIAN_MIRROR


def test_missing_tools_without_root_name_the_packages(project, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None if name == "mmdebstrap" else "/usr/bin/" + name)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(EnvError) as caught:
        Services(project, say=lambda line: None).install_missing()
    assert str(caught.value) == (
        "missing mmdebstrap; install them (Debian: apt-get install mmdebstrap) "
        "or run `dsci services up` as root"
    )
