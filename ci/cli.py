"""The `dsci` command, for a repository without a tasks.py yet: `dsci init --provider github`."""

from __future__ import annotations


def main() -> None:
    from invoke import Collection, Program

    from ci import __version__
    from ci.tasks.templates import init

    Program(namespace=Collection(init), name="dsci", binary="dsci", version=__version__).run()
