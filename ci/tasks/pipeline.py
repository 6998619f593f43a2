"""ci.all: every stage that exists, in DESIGN.md's order, into one report."""

from __future__ import annotations

from invoke import task

from ci.core.errors import ConfigError
from ci.tasks import data, deploy, git, image, model, notebooks, package, parity, push, quality, security
from ci.tasks._stage import Stage

# The stages that exist, in pipeline order. A stage joins when it is built, not before.
STAGES: tuple[Stage, ...] = (
    git.GIT, quality.LINT, quality.TEST, notebooks.NOTEBOOKS, data.DATA, model.MODEL, model.ONNX,
    package.PACKAGE, security.SIGN, image.IMAGE, push.PUSH, parity.PARITY, deploy.DEPLOY,
)  # fmt: skip
NAMES = tuple(stage.name for stage in STAGES)


def check_names(source: str, names: list[str]) -> None:
    """ConfigError for a name that is no stage, naming where it came from and the closest stage."""
    from ci.core.text import closest

    for name in names:
        if name not in NAMES:
            close = closest(name, NAMES)
            hint = f"did you mean {close!r}? " if close else ""
            raise ConfigError(f"{source}: unknown stage {name!r}; {hint}stages: {', '.join(NAMES)}")


def select(only: list[str], skip: list[str]) -> tuple[list[Stage], dict[str, str]]:
    """The stages to run, and the reason each other stage is left out."""
    chosen, left_out = [], {}
    for stage in STAGES:
        if only and stage.name not in only:
            left_out[stage.name] = "not in --only"
        elif stage.name in skip:
            left_out[stage.name] = "left out by --skip"
        else:
            chosen.append(stage)
    return chosen, left_out


def _names(values: list[str] | None) -> list[str]:
    """Stage names from repeated and comma-separated flags: --only lint,test --only data."""
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


@task(
    name="all",
    iterable=["only", "skip"],
    optional=["keep_going"],
    help={
        "only": "Run only these stages (comma-separated or repeated).",
        "skip": "Leave these stages out (comma-separated or repeated; adds to ci.all.skip).",
        "keep_going": "Go on after a failed stage (ci.all.keep_going; --keep-going=false stops).",
    },
)
def all_(c, only=None, skip=None, keep_going=None):
    """Run the whole pipeline: lint, test, ... Reports go to ci.report_dir."""
    from ci.tasks._boundary import Settings, boundary, run_stages

    with boundary():
        settings = Settings(c).validate()
        only, skip, configured = _names(only), _names(skip), settings.get("all.skip")
        check_names("--only", only)
        check_names("--skip", skip)
        check_names(f"{settings.where(('all', 'skip'))}: ci.all.skip", configured)
        chosen, left_out = select(only, skip + configured)
    run_stages(
        c,
        chosen,
        settings=settings,
        fresh=True,
        keep_going=settings.get("all.keep_going", keep_going),
        left_out=left_out,
    )
