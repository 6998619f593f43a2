"""The `dsci` command: `dsci init --provider github` for a repository without a tasks.py yet, and
`dsci services up|down|status` for the local services the image stages use."""

from __future__ import annotations


def main() -> None:
    from invoke import Collection, Program

    from ci import __version__
    from ci.tasks.services import services
    from ci.tasks.templates import init

    Program(namespace=Collection(init, services), name="dsci", binary="dsci", version=__version__).run()
