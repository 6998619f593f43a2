"""The task boundary: settings in, stages run, reports out, one exit code.

Every stage task goes through ``run_stages``; any other task wraps its body in
``boundary()``. ``run_stages`` validates the ``ci:`` settings, runs each stage
with timing, turns dsci's errors into a one-line message and the exit code of
DESIGN.md, writes report.json, junit.xml and summary.md, and lets the CI
provider present it all. Task bodies import it when they run, so that loading
the collection (`invoke --list`) stays light.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from invoke import Exit

from ci.core import config, reports, secrets
from ci.core.environment import Provider, detect
from ci.core.errors import ConfigError, DsciError
from ci.core.process import Runner, context_runner
from ci.core.results import Run, StageResult, Status
from ci.core.text import display
from ci.tasks._invoke import layers, project_root
from ci.tasks._stage import ORDER, Stage

_MISSING = object()


class Settings:
    """The ``ci:`` settings of an Invoke config, typed once validated, and where each value came from."""

    def __init__(self, c: Any, tenant: str | None = None) -> None:
        self._context = c
        self._config = c.config
        # Declared defaults under the settings: Invoke has them already, except for an empty `ci:`.
        self.tree = config.merged(config.defaults(), _plain(c.config.get("ci") or {}))
        self.root = project_root(c.config)
        self.values: Any = None  # the ci/core/settings.Settings Struct, once validated
        self.tenant = tenant or ""  # whose settings, laid over the common ones (ci/tenants/roster.py)
        self.started = datetime.now(UTC)  # when the run began: the provenance says so
        self._stamp: dict[str, Any] | None = None
        self._roster: Any = None

    def validate(self) -> Settings:
        self.values = config.validate(self.tree, self.where)
        if self.tenant:
            self._lay_tenant()
        for key in config.secret_settings():  # masked from the start, whether a stage reads it or not
            secrets.read(self.get(key), secret=True)
        why = _unwritable(self.report_dir)
        if why:
            raise ConfigError(
                f"{self.where(('report_dir',))}: ci.report_dir: {display(self.report_dir)} {why}; "
                "set ci.report_dir to a folder dsci may write"
            )
        return self

    def roster(self) -> Any:
        """The project's tenants (ci/tenants/roster.py), from the common settings: made before a
        tenant's settings take their place."""
        if self._roster is None:
            from ci.tenants.roster import Roster

            self._roster = Roster(self.tree, self.values, self.root)
        return self._roster

    def _lay_tenant(self) -> None:
        """The tenant's settings in place of the common ones, its rows of the data written."""
        roster = self.roster()
        tenant = roster.get(self.tenant)
        roster.check_rows(tenant.name, roster.prepare([tenant.name]))
        self.tree = tenant.tree
        try:
            self.values = config.validate(self.tree, self.where)
        except ConfigError as error:
            raise ConfigError(f"tenant {tenant.name}: {error.message}") from None

    def get(self, key: str, given: Any = None, flag: str | None = None) -> Any:
        """The command line's value when given (text parsed as the setting's kind), else the config's.

        A section's key (``"model"``) gives its Struct."""
        if given is not None:
            if isinstance(given, str):
                return config.from_command_line(key, flag or f"--{key.rpartition('.')[2]}", given)
            return given
        if self.values is None:
            raise RuntimeError("Settings.get before Settings.validate")
        node = self.values
        for part in key.split("."):
            node = getattr(node, part)
        return node

    def variable(self, key: str, why: str | None = None) -> str:
        """The value of the environment variable that the setting ``key`` (``notify.username_env``) names.

        Every variable a setting names is read here and nowhere else. With ``why``, the value must be
        there: the one ConfigError names the setting, the variable and why it is needed."""
        return self._read(key, why, secret=False)

    def secret(self, key: str, why: str | None = None) -> str:
        """Like ``variable``, for a password or token: its value is masked in every message dsci shows."""
        return self._read(key, why, secret=True)

    def _read(self, key: str, why: str | None, *, secret: bool) -> str:
        named = self.get(key)
        value = secrets.read(named, secret=secret)
        if not value and why is not None:
            because = f": {why}" if why else ""
            if not named:
                raise ConfigError(f"ci.{key} is empty: name the environment variable that holds it{because}")
            raise ConfigError(f"ci.{key}: the environment variable {named} is not set{because}")
        return value

    @property
    def runtime_file(self) -> str:
        """The settings file given with `invoke -f`, or ""."""
        return layers(self._config)[0][1] or ""

    @property
    def report_dir(self) -> Path:
        return self.root / self.get("report_dir")

    def runner(self) -> Runner:
        return context_runner(self._context, self.root)

    def stamp(self) -> dict[str, Any]:
        """The run's build stamp (commit, dirty, time): read from git once, so every artifact of one run
        carries the same; the git stage, first in ci.all, reads it before any stage writes a file."""
        if self._stamp is None:
            from ci.core.git import git_state

            self._stamp = git_state(self.runner())
        return self._stamp

    def section(self, name: str, **given: Any) -> Any:
        """The Struct of ``ci.<name>`` with the command line's values (those not None) laid over it."""
        import msgspec

        flags = {
            key: self.get(f"{name}.{key}", value, f"--{key.replace('_', '-')}")
            for key, value in given.items()
            if value is not None
        }
        return msgspec.structs.replace(self.get(name), **flags)

    def where(self, path: tuple[str, ...]) -> str:
        """Name the file (with line) or environment variable that set ``ci.<path>``."""
        keys = ("ci", *path)
        for data, filename, environment in layers(self._config):
            if config.value_at(data, keys, _MISSING) is not _MISSING:
                if environment:
                    return "environment variable INVOKE_" + "_".join(keys).upper()
                if filename:
                    return config.locate(filename, keys)
        return "the ci settings"


def _unwritable(folder: Path) -> str:
    """Why ``folder`` cannot be the report folder, or ""; looks, creates nothing."""
    if folder.exists():
        return "" if folder.is_dir() else "is a file, not a folder"
    parent = next(p for p in folder.parents if p.exists())
    if not parent.is_dir():
        return f"cannot be created: {display(parent)} is a file"
    return "" if os.access(parent, os.W_OK) else f"cannot be created: {display(parent)} is not writable"


def run_stages(
    c: Any,
    stages: Sequence[Stage],
    *,
    settings: Settings | None = None,
    tenant: str | None = None,
    fresh: bool = False,
    keep_going: bool = False,
    left_out: dict[str, str] | None = None,
    more: Callable[[], list[StageResult]] | None = None,
    cache: str = "use",
    jobs: int = 1,
) -> None:
    """Run ``stages`` in order, write the reports, exit with the run's code.

    ``settings`` are validated here (``tenant``'s, when given) unless the caller already did.
    ``fresh`` starts a new report (ci.all); otherwise the results merge into
    the report already in the folder. ``left_out`` maps stages that will not
    run to the reason, so the report says so. ``more`` gives results the stages made elsewhere
    (the tenants' own, ``tenant/stage``), reported with theirs. With ``cache`` "use" (unless
    ci.cache.enabled is false), a stage whose inputs are unchanged is restored from the stage cache; with
    "store" (ci.all --no-cache), every stage runs and its entry is stored anew.
    Every secret is masked in all it prints.
    """
    with guarded() as provider:
        settings = settings or _settings(c, provider, tenant)
        stored = _cache(settings, restore=cache == "use")
        try:
            _run_stages(c, stages, provider, settings, fresh, keep_going, left_out, more, stored, jobs)
        finally:
            if stored is not None:
                stored.save()


def _cache(settings: Settings, *, restore: bool) -> Any:
    """The stage cache of ci.cache, or None when it is turned off."""
    cfg = settings.get("cache")
    if not cfg.enabled:
        return None
    from ci.core.cache import Cache

    say = lambda line: print(line, flush=True)  # noqa: E731 - into a stage's own output when kept apart
    return Cache(settings.root / cfg.dir, settings.root, int(cfg.max_mb * 1e6), say=say, restore=restore)


def _run_stages(
    c: Any, stages: Sequence[Stage], provider: Provider, settings: Settings, fresh: bool,
    keep_going: bool, left_out: dict[str, str] | None, more: Callable[[], list[StageResult]] | None,
    cache: Any, jobs: int,
) -> None:  # fmt: skip
    report_dir = settings.report_dir
    run = Run() if fresh else reports.load(report_dir)
    results = {name: StageResult(name, skipped=reason) for name, reason in (left_out or {}).items()}
    if jobs > 1 and len(stages) > 1:
        ran, bug = _side_by_side(c, stages, provider, settings, keep_going, jobs, cache)
    else:
        ran, bug = _one_by_one(c, stages, provider, settings, keep_going, cache)
    results.update(ran)
    results.update((result.name, result) for result in (more() if more else []))
    for result in results.values():
        run = reports.merge(run, result, ORDER)
    written = reports.write(run, report_dir)
    provider.publish_summary(written["summary"].read_text(encoding="utf-8"), written["summary"])
    provider.write(f"dsci: {run.tally()}")
    if bug:
        bug.add_note("This is a bug in dsci, not in your project: please report it with this traceback.")
        raise bug
    errors = [r.error for r in results.values() if r.error]
    code = max((r.exit_code for r in results.values()), default=0)
    if code:
        for message in errors:
            provider.error(secrets.mask(message))
        raise Exit(code=code)


def _one_by_one(
    c: Any, stages: Sequence[Stage], provider: Provider, settings: Settings, keep_going: bool, cache: Any
) -> tuple[dict[str, StageResult], BaseException | None]:
    results: dict[str, StageResult] = {}
    failed = bug = None
    for index, stage in enumerate(stages, start=1):
        if failed and not (keep_going and stage.after_failure):
            results[stage.name] = StageResult(stage.name, skipped=f"not run: stage {failed} failed")
            continue
        with provider.stage(stage.name, index, len(stages), quiet=stage.quiet):
            result, bug = _execute(stage, c, settings, cache)
        provider.report_stage(result)
        results[stage.name] = result
        if result.status is Status.FAILED:
            failed = failed or stage.name
        if bug:
            break
    return results, bug


def _side_by_side(
    c: Any, stages: Sequence[Stage], provider: Provider, settings: Settings, keep_going: bool, jobs: int,
    cache: Any,
) -> tuple[dict[str, StageResult], BaseException | None]:  # fmt: skip
    """The stages at most ``jobs`` at once, each after the ones it needs; shown in pipeline order.

    A failure stops what has not started (unless ``keep_going``); what runs beside it finishes and is
    reported. A stage that never runs after a failure (a deploy) does not start once one failed."""
    from ci.core import parallel

    names = [stage.name for stage in stages]
    by_name = {stage.name: stage for stage in stages}
    needs = {stage.name: _needs(stage, names[:index]) for index, stage in enumerate(stages)}
    results: dict[str, StageResult] = {}
    failed: list[str] = []
    bugs: list[BaseException] = []

    def start(name: str) -> tuple[StageResult, BaseException | None]:
        return _execute(by_name[name], c, settings, cache)

    def finished(name: str, outcome: Any) -> bool:
        result, bug = outcome
        results[name] = result
        if result.status is Status.FAILED:
            failed.append(name)
        if bug:
            bugs.append(bug)
        return not bugs and (keep_going or not failed)

    def opened(name: str) -> Any:
        provider.begin_group(f"[{names.index(name) + 1}/{len(names)}] {name}")
        return provider.out

    def closed(name: str, outcome: Any) -> None:
        provider.end_group()
        provider.report_stage(outcome[0])

    runs = lambda name: not failed or by_name[name].after_failure  # noqa: E731 - a deploy, after a failure
    parallel.run(names, needs, start, jobs=jobs, runs=runs, finished=finished, opened=opened, closed=closed)
    why = f"not run: stage {failed[0]} failed" if failed else "not run: a bug in dsci stopped the run"
    results.update((name, StageResult(name, skipped=why)) for name in names if name not in results)
    return results, bugs[0] if bugs else None


def _needs(stage: Stage, before: list[str]) -> set[str]:
    """The stages of ``before`` that ``stage`` waits for: those it needs, and for one it needs that does
    not run (left out by --only), the ones that one needs, and so on."""
    from ci.tasks.pipeline import STAGES

    if stage.needs is None:
        return set(before)
    known = {known.name: known for known in STAGES}
    found: set[str] = set()
    for name in stage.needs:
        if name in before:
            found.add(name)
        elif name in known:
            found |= _needs(known[name], before)
    return found


@contextlib.contextmanager
def boundary() -> Iterator[Provider]:
    """A task's body outside the stage runner: dsci's errors become one line and their exit code."""
    with guarded() as provider:
        try:
            yield provider
        except DsciError as error:
            raise fail(provider, error) from None


@contextlib.contextmanager
def guarded() -> Iterator[Provider]:
    """The provider of this run, with every secret masked in what the task prints, and each secret
    registered with the CI as it is read."""
    with secrets.masked_output():
        provider = detect()
        before, secrets.announce = secrets.announce, _announcer(provider)
        try:
            yield provider
        except Exit:
            raise
        except Exception:  # a bug: its traceback printed here, while secrets are still masked
            traceback.print_exc()
            raise Exit(code=1) from None
        finally:
            secrets.announce = before


def _announcer(provider: Provider) -> Any:
    def announce(value: str) -> None:
        command = provider.secret_command(value)
        if command:
            out = secrets.unmasked(sys.stdout)
            out.write(command + "\n")
            out.flush()

    return announce


def fail(provider: Provider, error: DsciError) -> Exit:
    """An error before any stage ran: one line, the error's code, no report."""
    provider.error(secrets.mask(error.message))
    return Exit(code=error.exit_code)


def _settings(c: Any, provider: Provider, tenant: str | None = None) -> Settings:
    try:
        return Settings(c, tenant).validate()
    except DsciError as error:
        raise fail(provider, error) from None


def _execute(
    stage: Stage, c: Any, settings: Settings, cache: Any = None
) -> tuple[StageResult, BaseException | None]:
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    clock = time.perf_counter()
    bug = None
    keyed = None
    try:
        keyed = _keyed(stage, settings, cache)
        if keyed and keyed.hit:
            return _restored(keyed.hit, clock, started), None
        result = stage.run(settings)
    except DsciError as error:
        result = StageResult(stage.name, error=error.message, error_code=error.exit_code)
    except Exception as error:  # a bug: the report records it, the traceback is kept
        result = StageResult(stage.name, error=f"internal error: {error!r}", error_code=1)
        bug = error
    result.duration = round(time.perf_counter() - clock, 3)
    result.started = started
    result.artifacts = [_display(a, settings.root) for a in result.artifacts]
    if keyed and bug is None and result.status in (Status.PASSED, Status.WARNED):
        cache.put(stage.name, keyed.key, keyed.inputs, result.to_dict(), [*result.artifacts, *keyed.outputs],
                  tenant=settings.tenant)  # fmt: skip
    return result, bug


class _Keyed(NamedTuple):
    key: str
    inputs: dict[str, Any]
    outputs: list[str]
    hit: Any


def _keyed(stage: Stage, settings: Settings, cache: Any) -> _Keyed | None:
    """The stage's key and inputs, and its cache entry when there is one; None when it is not cached.
    A stage that runs says why: the inputs that changed since it was stored."""
    if cache is None or stage.inputs is None:
        return None
    from ci.core.cache import changes

    declared = stage.inputs(settings)
    if declared is None:  # nothing the stage would do is worth a key (it is left out, say)
        return None
    try:
        inputs = cache.inputs(declared, settings.get, getattr(stage.run, "keywords", {}))
    except OSError as error:
        cache.say(f"{stage.name}: not cached: an input cannot be read ({error}); running it")
        return None
    key = cache.key(stage.name, inputs)
    hit, why = cache.get(stage.name, key, declared.usable) if cache.restore else (None, "--no-cache")
    if hit is None:
        why = why or "; ".join(changes(cache.last(stage.name, settings.tenant), inputs))
        cache.say(f"{stage.name}: running: {why}")
    return _Keyed(key, inputs, list(declared.outputs), hit)


def _restored(hit: Any, clock: float, started: str) -> StageResult:
    """A cached stage's result as it was, its checks and verdicts replayed, marked as cached."""
    result = StageResult.from_dict(hit.result)
    result.cached = {"key": hit.key, "age": round(time.time() - hit.created), "ran": hit.duration}
    result.duration, result.started = round(time.perf_counter() - clock, 3), started
    return result


def _display(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root) if os.path.isabs(path) else path
    except ValueError:
        return path


def _plain(value: Any) -> Any:
    """Invoke's DataProxy trees as plain dicts and lists."""
    if hasattr(value, "items"):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
