"""ci.all: every stage that exists, in DESIGN.md's order, into one report; per tenant with --tenants."""

from __future__ import annotations

from invoke import task

from ci.core.errors import ConfigError
from ci.tasks import data, deploy, git, image, model, notebooks, package, parity, push, quality, security
from ci.tasks._stage import Stage
from ci.tasks.tenants import ISOLATION, Fanout

# The stages that exist, in pipeline order. A stage joins when it is built, not before.
STAGES: tuple[Stage, ...] = (
    git.GIT, quality.LINT, quality.TEST, notebooks.NOTEBOOKS, ISOLATION, data.DATA, model.MODEL,
    model.ONNX, package.PACKAGE, security.SIGN, image.IMAGE, push.PUSH, parity.PARITY, deploy.DEPLOY,
)  # fmt: skip
NAMES = tuple(stage.name for stage in STAGES)
# Stages of the project as a whole: with tenants, they run once, before the tenants' own.
COMMON = ("git", "lint", "test", "notebooks")


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
        "tenants": "all, or tenants' names comma-separated: the project's stages once, then each "
        "tenant's pipeline in a process of its own, side by side (ci.tenants.jobs at once).",
        "tenant": "Only this tenant's pipeline, with its settings (as one job of a CI's matrix).",
        "cache": "--no-cache runs every stage, restoring none from the stage cache, and stores each anew "
        "(ci.cache.enabled: false neither restores nor stores).",
        "jobs": "Stages that depend on none before them (lint, test, notebooks, data) run this many at "
        "once (ci.all.jobs; 0: one per core, 1: one after another).",
    },
)
def all_(c, only=None, skip=None, keep_going=None, tenants=None, tenant=None, cache=True, jobs=None):
    """Run the whole pipeline: lint, test, ... Reports go to ci.report_dir."""
    from ci.tasks._boundary import Settings, boundary, run_stages

    more = None
    with boundary():
        if tenants and tenant:
            raise ConfigError("--tenants and --tenant: give one; --tenants north,south runs several")
        settings = Settings(c, tenant).validate()
        only, skip, configured = _names(only), _names(skip), settings.get("all.skip")
        check_names("--only", only)
        check_names("--skip", skip)
        check_names(f"{settings.where(('all', 'skip'))}: ci.all.skip", configured)
        chosen, left_out = select(only, skip + configured)
        keep_going = settings.get("all.keep_going", keep_going)
        if not (tenant or tenants):  # isolation is between tenants: a run of the project as one has none
            chosen = [stage for stage in chosen if stage.name != ISOLATION.name]
            left_out.pop(ISOLATION.name, None)
        elif tenant:  # the project's own stages are not the tenant's: they run once, without --tenant
            chosen = [stage for stage in chosen if stage.name not in COMMON]
            left_out = {name: why for name, why in left_out.items() if name not in COMMON}
        elif tenants:
            names = settings.roster().choose(tenants)
            own = [stage.name for stage in chosen if stage.name not in COMMON]
            chosen = [stage for stage in chosen if stage.name in COMMON]
            left_out = {name: why for name, why in left_out.items() if name in COMMON}
            if own:  # the tenants' rows written once, before their processes read them
                settings.roster().prepare(names, tolerant=True)
                fanout = Fanout(names, own, keep_going, cache and settings.get("cache.enabled"))
                chosen.append(Stage("tenants", fanout.stage, quiet=False))
                more = fanout.results
    from ci.core.parallel import cores

    jobs = cores(settings.get("all.jobs", jobs, "--jobs"))
    run_stages(c, chosen, settings=settings, fresh=True, keep_going=keep_going, left_out=left_out, more=more,
               cache="use" if cache else "store", jobs=jobs)  # fmt: skip
