"""Stages side by side: each after what it needs, at most jobs at once, shown in pipeline order."""

from __future__ import annotations

import threading
import time

from ci.core import parallel


def test_stages_start_after_what_they_need_and_are_shown_in_order():
    names = ["git", "lint", "test", "data", "model", "push"]
    needs = {"git": set(), "lint": {"git"}, "test": {"git"}, "data": {"git"}, "model": {"data"},
             "push": {"git", "lint", "test", "data", "model"}}  # fmt: skip
    took = {"git": 0, "lint": 0.05, "test": 0.3, "data": 0.05, "model": 0.05, "push": 0}
    started, at_once, running, shown = {}, [], set(), []
    lock = threading.Lock()

    def start(name):
        with lock:
            started[name] = time.monotonic()
            running.add(name)
            at_once.append(len(running))
        print(f"{name} says hello")
        time.sleep(took[name])
        with lock:
            running.discard(name)
        return name

    parallel.run(names, needs, start, jobs=2, finished=lambda *a: True,
                 shown=lambda name, outcome, output: shown.append((name, output)))  # fmt: skip

    assert [name for name, _ in shown] == names  # model ended before test, and is shown after it
    assert all(output == f"{name} says hello\n" for name, output in shown)  # each its own output
    assert max(at_once) == 2
    assert started["model"] < started["test"] + took["test"]  # model did not wait for the tests
    assert started["push"] >= max(started[n] for n in names if n != "push")


def test_a_failure_stops_what_has_not_started_and_what_runs_finishes():
    names = ["a", "b", "c", "d"]
    needs = {"a": set(), "b": set(), "c": {"a"}, "d": {"a", "b", "c"}}
    ran, shown = [], []

    def start(name):
        ran.append(name)
        time.sleep({"a": 0.01, "b": 0.2}.get(name, 0))
        return "failed" if name == "a" else "passed"

    parallel.run(names, needs, start, jobs=2, finished=lambda name, outcome, output: outcome != "failed",
                 shown=lambda name, outcome, output: shown.append((name, outcome)))  # fmt: skip

    assert sorted(ran) == ["a", "b"]  # b ran beside a and finished; c and d never started
    assert shown == [("a", "failed"), ("b", "passed")]


def test_a_stage_left_out_passes_on_what_it_needs():
    """--only model,package,image: the image waits for the package, through the sign stage left out."""
    from ci.tasks._boundary import _needs
    from ci.tasks.pipeline import STAGES

    by_name = {stage.name: stage for stage in STAGES}
    chosen = ["model", "package", "image", "push"]
    needs = {name: _needs(by_name[name], chosen[:index]) for index, name in enumerate(chosen)}
    assert needs == {"model": set(), "package": {"model"}, "image": {"package"},
                     "push": {"model", "package", "image"}}  # fmt: skip
