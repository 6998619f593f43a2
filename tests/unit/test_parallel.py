"""Stages side by side: each after what it needs, at most jobs at once, shown in pipeline order."""

from __future__ import annotations

import threading
import time

from ci.core import parallel


class Screen:
    """What a terminal shows, in the order written: each stage's header, output and footer."""

    def __init__(self):
        self.shown, self.at = [], []

    def opened(self, name):
        self.write(f"[{name}]\n")
        return self

    def closed(self, name, outcome):
        self.write(f"[/{name}: {outcome}]\n")

    def write(self, text):
        self.shown.append(text)
        self.at.append(time.monotonic())

    def flush(self):
        pass

    def text(self):
        return "".join(self.shown)


def run(names, needs, start, *, jobs=2, runs=lambda name: True, finished=lambda name, outcome: True):
    screen = Screen()
    parallel.run(names, needs, start, jobs=jobs, runs=runs, finished=finished, opened=screen.opened,
                 closed=screen.closed)  # fmt: skip
    return screen


def test_stages_start_after_what_they_need_and_are_shown_in_order():
    names = ["git", "lint", "test", "data", "model", "push"]
    needs = {"git": set(), "lint": {"git"}, "test": {"git"}, "data": {"git"}, "model": {"data"},
             "push": {"git", "lint", "test", "data", "model"}}  # fmt: skip
    took = {"git": 0, "lint": 0.05, "test": 0.3, "data": 0.05, "model": 0.05, "push": 0}
    started, at_once, running = {}, [], set()
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
        return "passed"

    screen = run(names, needs, start)

    # model ended before test, and is shown after it, each with its own output
    assert screen.text() == "".join(f"[{name}]\n{name} says hello\n[/{name}: passed]\n" for name in names)
    assert max(at_once) == 2
    assert started["model"] < started["test"] + took["test"]  # model did not wait for the tests
    assert started["push"] >= max(started[n] for n in names if n != "push")


def test_the_first_stage_not_yet_shown_streams_live_and_the_others_wait_their_turn():
    ended = {}

    def start(name):
        print(f"{name} begins")
        time.sleep(0.3 if name == "test" else 0.05)
        print(f"{name} ends")
        ended[name] = time.monotonic()
        return "passed"

    screen = run(["test", "lint"], {"test": set(), "lint": set()}, start)

    begins = screen.at[screen.shown.index("test begins\n")]
    assert begins < ended["lint"] < ended["test"]  # on screen while it ran, before lint was done
    assert screen.text() == ("[test]\ntest begins\ntest ends\n[/test: passed]\n"
                             "[lint]\nlint begins\nlint ends\n[/lint: passed]\n")  # fmt: skip


def test_a_failure_stops_what_has_not_started_and_what_runs_finishes():
    names = ["a", "b", "c", "d"]
    needs = {"a": set(), "b": set(), "c": {"a"}, "d": {"a", "b", "c"}}
    ran = []

    def start(name):
        ran.append(name)
        time.sleep({"a": 0.01, "b": 0.2}.get(name, 0))
        return "failed" if name == "a" else "passed"

    screen = run(names, needs, start, finished=lambda name, outcome: outcome != "failed")

    assert sorted(ran) == ["a", "b"]  # b ran beside a and finished; c and d never started
    assert screen.text() == "[a]\n[/a: failed]\n[b]\n[/b: passed]\n"


def test_a_stage_that_should_not_run_is_neither_started_nor_shown():
    ran = []
    screen = run(["a", "deploy"], {"a": set(), "deploy": {"a"}}, lambda name: ran.append(name) or "passed",
                 runs=lambda name: name != "deploy")  # fmt: skip
    assert ran == ["a"] and screen.text() == "[a]\n[/a: passed]\n"


def test_a_stage_left_out_passes_on_what_it_needs():
    """--only model,package,image: the image waits for the package, through the sign stage left out."""
    from ci.tasks._boundary import _needs
    from ci.tasks.pipeline import STAGES

    by_name = {stage.name: stage for stage in STAGES}
    chosen = ["model", "package", "image", "push"]
    needs = {name: _needs(by_name[name], chosen[:index]) for index, name in enumerate(chosen)}
    assert needs == {"model": set(), "package": {"model"}, "image": {"package"},
                     "push": {"model", "package", "image"}}  # fmt: skip
