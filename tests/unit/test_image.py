from importlib import metadata, resources

import pytest

from ci import image
from ci.core.errors import ConfigError, EnvError
from ci.core.settings import Image, Model


@pytest.mark.tool("docker.errors")  # the Python SDK (a `docker` program alone does not count)
def test_no_engine_is_an_environment_error_that_says_how_to_start_one(monkeypatch):
    import docker

    def no_engine(*args, **kwargs):
        raise docker.errors.DockerException("Error while fetching server API version")

    monkeypatch.setattr(docker, "from_env", no_engine)
    with pytest.raises(EnvError) as caught:
        image.client()
    assert str(caught.value) == (
        "no Docker engine answers at unix:///var/run/docker.sock; start one with `dsci services up`, "
        "or leave the stages that need one out (ci.all.skip: [image, push, parity])"
    )


def test_pins_follow_requirements_to_the_installed_versions():
    pinned = image.pins(["PyYAML", "invoke"])
    assert f"invoke=={metadata.version('invoke')}" in pinned
    assert [p.split("==")[0].lower() for p in pinned] == sorted(p.split("==")[0].lower() for p in pinned)


def test_pins_include_what_a_requirement_needs_and_skip_markers_that_do_not_apply():
    pinned = image.pins(["requests"])
    names = {line.split("==")[0].lower() for line in pinned}
    assert {"requests", "urllib3", "idna", "certifi", "charset-normalizer"} <= names
    assert not any(name.startswith("pysocks") for name in names)  # only with requests[socks]


def test_a_requirement_not_installed_here_is_a_config_error_naming_where_it_was_declared():
    with pytest.raises(ConfigError) as caught:
        image.pins([("no-such-distribution-here", "requirements.txt:3")])
    assert str(caught.value).startswith(
        "requirements.txt:3: no-such-distribution-here is needed in the image but not installed here"
    )


def test_a_pin_other_than_the_installed_version_is_refused():
    installed = metadata.version("invoke")
    with pytest.raises(ConfigError) as caught:
        image.pins([("invoke==0.0.1", "requirements.txt:1")])
    assert str(caught.value).startswith(
        f"requirements.txt:1: invoke==0.0.1 asks for another version than the {installed} installed here"
    )
    assert image.pins([(f"invoke>={installed}", "requirements.txt:1")])[0] == f"invoke=={installed}"


def test_a_requirements_file_is_read_with_its_includes_and_without_pip_options(project):
    (project / "base.txt").write_text("pandas  # the frames\n")
    (project / "requirements.txt").write_text(
        "--index-url https://pypi.internal/simple\n# models\nscikit-learn>=1.4\n\n-r base.txt\njoblib\n"
    )
    found = image.read_requirements(project / "requirements.txt")
    assert found == [
        ("scikit-learn>=1.4", "requirements.txt:3"),
        ("pandas", "requirements.txt:5: base.txt:1"),
        ("joblib", "requirements.txt:6"),
    ]


@pytest.mark.parametrize("line", ["-e .", "./vendor/lib.whl", "https://example.com/x.whl"])
def test_paths_and_urls_in_a_requirements_file_are_refused(project, line):
    (project / "requirements.txt").write_text(f"pandas\n{line}\n")
    with pytest.raises(ConfigError, match=r"^requirements\.txt:2: .*name the distribution instead$"):
        image.read_requirements(project / "requirements.txt")


def test_a_project_that_is_no_package_takes_its_requirements_txt(project):
    (project / "requirements.txt").write_text("pandas\n")
    settings = Image(requirements=["joblib"])
    assert image.requirements_of(settings, project, packaged=False) == [
        ("pandas", "requirements.txt:1"), ("joblib", "ci.image.requirements"),
        ("gunicorn", ""), ("pandas", ""),
    ]  # fmt: skip
    (project / "pyproject.toml").write_text('[project]\nname = "p"\ndependencies = ["numpy"]\n')
    assert image.requirements_of(settings, project, packaged=True)[0] == (
        "numpy", "pyproject.toml: project.dependencies"
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"^ci\.image\.requirements_file: reqs/ml\.txt: no such file$"):
        image.requirements_of(Image(requirements_file="reqs/ml.txt"), project, packaged=False)


def test_no_bundle_says_which_task_makes_one(project):
    with pytest.raises(ConfigError) as caught:
        image.build_image(
            Image(base="x"),
            Model(),
            run=None,
            root=project,
            dist=project / "dist",
            work=project / "w",
            git={},
        )
    assert str(caught.value) == "no model bundle in dist; `invoke ci.package` makes one"


def test_the_dockerfile_template_renders_with_every_value():
    template = resources.files("ci").joinpath("resources/image/Dockerfile").read_text()
    rendered = image.render(
        template, base="python:3.11-slim", code=image.CODE_LAYER, revision="abc", source="", version="1.0",
        created="2026-01-01T00:00:00Z", bundle_sha256="f" * 64, server="--workers 3",
    )  # fmt: skip
    lines = rendered.splitlines()
    assert lines.count("FROM python:3.11-slim AS dependencies") == 1
    order = [
        next(i for i, line in enumerate(lines) if needle in line)
        for needle in ("COPY wheelhouse", "COPY code", "COPY bundle /app/bundle")
    ]
    assert order == sorted(order)  # dependencies, then code, then the model
    # What changes with every build (the app's settings, the bundle, the labels) comes last: a new bundle
    # makes no more than these layers anew.
    assert [
        line.split()[0] for line in lines[lines.index("COPY app /app") :] if not line.startswith(" ")
    ] == [
        "COPY",
        "COPY",
        "LABEL",
    ]
    assert "USER serve" in lines and any(line.startswith("HEALTHCHECK") for line in lines)
    assert (
        'ENV GUNICORN_CMD_ARGS="--workers 3"' in lines
    )  # the server's settings, which a deploy may override


@pytest.mark.parametrize(
    ("created_by", "step"),
    [
        ("", "the base image"),
        ("COPY dir:4c1d0f9de909e8a63322b9119086e781a5 in /opt/venv ", "COPY /opt/venv"),
        ("/bin/sh -c #(nop)  LABEL a=b", "LABEL a=b"),
        ("/bin/sh -c useradd --system serve", "RUN useradd --system serve"),
    ],
)
def test_a_layer_is_named_by_its_step(created_by, step):
    assert image._step(created_by) == step


@pytest.mark.parametrize("text", ["3 gigs", "", "1.5 TB", "-1MB"])
def test_a_size_that_is_no_size_is_refused_naming_the_setting(text):
    with pytest.raises(ConfigError) as caught:
        image.parse_size(text, "ci.image.max_body")
    assert (
        str(caught.value) == f"ci.image.max_body: {text!r} is not a size; write it as 800MB, 1.5GB or 700MiB"
    )


def test_sizes_read_as_people_write_them():
    assert [image.parse_size(t) for t in ("800MB", "1.5 GB", "700MiB", "2", "10kB")] == [
        800_000_000,
        1_500_000_000,
        700 * 2**20,
        2_000_000,
        10_000,
    ]


def test_a_private_index_is_used_on_the_host_and_never_echoed(tmp_path):
    from ci.core.process import Completed

    calls = []

    def run(argv, *, quiet=True):
        calls.append((list(argv), quiet))
        return Completed(tuple(argv), 0)

    image.wheelhouse(["pandas==3.1.1"], tmp_path, run, "https://user:s3cret@pypi.internal/simple")
    argv, quiet = calls[0]
    assert argv[argv.index("--index-url") + 1] == "https://user:s3cret@pypi.internal/simple"
    assert quiet is True  # a probe: hidden, so the URL with its credentials is not echoed
    assert not list(tmp_path.iterdir())  # nothing was written but what pip fetches


def test_a_wheelhouse_holding_each_pinned_wheel_for_this_python_asks_no_index(tmp_path):
    from ci.core.process import Completed

    calls = []

    def run(argv, *, quiet=True):
        calls.append(list(argv))
        return Completed(tuple(argv), 0)

    for name in ("numpy-2.4.6-py3-none-any.whl", "scikit_learn-1.9.1-py3-none-any.whl", "not-a-wheel.whl"):
        (tmp_path / name).touch()
    image.wheelhouse(["numpy==2.4.6", "scikit-learn==1.9.1"], tmp_path, run)
    assert calls == []
    image.wheelhouse(["numpy==2.4.6", "scikit-learn==1.9.2"], tmp_path, run)  # another version
    (tmp_path / "pandas-3.1.1-cp27-cp27m-win32.whl").touch()  # another interpreter's
    image.wheelhouse(["pandas==3.1.1"], tmp_path, run)
    assert [argv[-1] for argv in calls] == ["scikit-learn==1.9.2", "pandas==3.1.1"]
