"""ci.tenants.list, the isolation stage, and the fan-out of ci.all --tenants."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks._stage import Stage


def isolation_stage(s: Any) -> Any:
    """The tenant's rows share no key with another tenant's, and its bundle no recipient (exit 4)."""
    from ci.core.results import StageResult
    from ci.tenants import isolation

    if not s.tenant:
        return StageResult("isolation", skipped="no tenant: ci.all --tenants (or --tenant NAME) runs it")
    roster = s.roster()
    checks = [*isolation.shared_keys(roster, s.tenant), isolation.shared_recipients(roster, s.tenant)]
    return breached(StageResult("isolation", checks))


def breached(result: Any) -> Any:
    """The result, stopped with the security exit code and its first breach when there is one."""
    from ci.core.errors import SECURITY_ERROR
    from ci.core.results import Status

    failed = [c for c in result.checks if c.status is Status.FAILED]
    if failed:
        more = f" (and {len(failed) - 1} more breaches)" if len(failed) > 1 else ""
        result.error, result.error_code = f"tenant isolation: {failed[0].message}{more}", SECURITY_ERROR
    return result


def image_isolation(s: Any, result: Any) -> Any:
    """The image stage's result, with the proof that the tenant's image holds no other tenant's file."""
    from ci import image
    from ci.core.results import Status
    from ci.tenants import isolation

    if not s.tenant or result.status is Status.FAILED or result.skipped:
        return result
    roster = s.roster()
    built = image.built(s.report_dir / "image")
    check = isolation.foreign_files(
        image.client(), built["id"], s.tenant, isolation.foreign(roster, s.tenant)
    )
    result.checks.append(check)
    return breached(result)


ISOLATION = Stage("isolation", isolation_stage, needs=("git",))


@task(help={"tenant": "The tenant whose isolation to prove (ci.tenants)."})
def isolation(c, tenant=None):
    """Prove a tenant's rows share no key with another's and its bundle no recipient (exit 4 if they do)."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [ISOLATION], tenant=tenant)


class Fanout:
    """The tenants' pipelines, run side by side as the stage ``tenants`` of ci.all --tenants."""

    def __init__(self, names: list[str], stages: list[str], keep_going: bool, cache: bool = True) -> None:
        self.names, self.stages, self.keep_going, self.cache = names, stages, keep_going, cache
        self.outcomes: list[Any] = []

    def stage(self, s: Any) -> Any:
        import os

        from ci.core.results import Check, StageResult, Status
        from ci.tenants import pool

        args = ["--only", ",".join(self.stages)] + (["--keep-going"] if self.keep_going else [])
        args += [] if self.cache else ["--no-cache"]
        env = self.distributions(s) if "package" in self.stages else {}
        if s.runtime_file:  # `invoke -f FILE`: each tenant's process reads it too
            env["INVOKE_RUNTIME_CONFIG"] = s.runtime_file
        count = pool.jobs(s.get("tenants.jobs"))
        print(f"{len(self.names)} tenants, {min(count, len(self.names))} at a time: {', '.join(self.names)}")
        self.outcomes = pool.run(
            self.names,
            root=s.root,
            report_dir=lambda name: s.root / s.roster().tenants[name].tree["report_dir"],  # its settings' own
            args=args,
            env=env,
            jobs=count,
            say=lambda line: print(line, flush=True),
        )
        checks = []
        for outcome in self.outcomes:
            failed = [st.name.partition("/")[2] for st in outcome.stages if st.status is Status.FAILED]
            said = f"failed: {', '.join(failed)}" if failed else ("passed" if outcome.code == 0 else "failed")
            message = f"{said}; {outcome.seconds:.1f} s, peak {outcome.peak_mib:.0f} MiB"
            details = {
                "exit_code": outcome.code, "seconds": outcome.seconds, "peak_bytes": outcome.peak_bytes,
                "log": os.path.relpath(outcome.log, s.root),
            }  # fmt: skip
            status = Status.PASSED if outcome.code == 0 else Status.FAILED
            checks.append(Check(outcome.name, status, message, file=details["log"], details=details))
        return StageResult("tenants", checks)

    def distributions(self, s: Any) -> dict[str, str]:
        """The project's wheel and sdist, built once for every tenant (two builds in one folder at once
        would trip over each other), given to each as ci.package.distributions."""
        import shutil

        from ci import package
        from ci.core.git import git_state
        from ci.tenants.roster import ROWS

        cfg = s.get("package")
        if cfg.distributions or not package.wants_distributions(cfg, s.root):
            return {}
        folder = s.root / ROWS / "_distributions"  # no tenant's name starts with _
        shutil.rmtree(folder, ignore_errors=True)
        epoch = package.build_time(git_state(s.runner()))
        package.build_distributions(s.runner(), s.root, folder, cfg.isolation, epoch)
        return {"INVOKE_CI_PACKAGE_DISTRIBUTIONS": str(folder)}

    def results(self) -> list[Any]:
        """Every tenant's stages, named tenant/stage."""
        return [stage for outcome in self.outcomes for stage in outcome.stages]


FORMATS = ("json", "lines", "github", "azure")


@task(
    name="list",
    help={
        "format": "json: the names as a JSON list (default); lines: one per line; github: names=<the list> "
        "added to $GITHUB_OUTPUT; azure: the output variable matrix set to an Azure Pipelines matrix.",
    },
)
def list_(c, format="json"):  # noqa: A002 - the flag reads best as --format
    """Print the tenants' names, for a CI's matrix to fan out over (one job per tenant)."""
    import json

    from ci.core.errors import ConfigError
    from ci.tasks._boundary import Settings, boundary

    with boundary() as provider:
        if format not in FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}; got {format!r}")
        names = Settings(c).validate().roster().names
        if not names and format in ("github", "azure"):  # a matrix of nothing is an error of the CI's
            raise ConfigError(f"--format {format}: this project has no tenants; declare them in ci.tenants, "
                              "or run the pipeline without them")  # fmt: skip
        if format == "lines":
            print("\n".join(names))
        elif format == "azure":  # a logging command: the job's output variable list.matrix
            # a leg's name: a letter first, then letters, digits and _
            matrix = json.dumps({"t_" + name.replace("-", "_"): {"tenant": name} for name in names})
            print(f"##vso[task.setvariable variable=matrix;isOutput=true]{matrix}")
        elif format == "github":
            output = provider.environ.get("GITHUB_OUTPUT")
            if not output:
                raise ConfigError(
                    "--format github: GITHUB_OUTPUT is not set; it is, in a GitHub Actions step"
                )
            with open(output, "a", encoding="utf-8") as f:
                f.write(f"names={json.dumps(names)}\n")
            print(json.dumps(names))
        else:
            print(json.dumps(names))
