"""Imports made cheaper than their defaults, for the stages that pay them on every run."""

from __future__ import annotations

import sys


def jsonschema() -> None:
    """Import jsonschema without its IRI format checker, when nothing has imported it yet.

    rfc3987-syntax, which Jupyter's ``jsonschema[format-nongpl]`` installs, builds a Lark grammar when
    imported: 0.7 s of every notebooks and deploy stage. Neither needs it: nbformat validates against
    draft 4, which has no iri format, and kubernetes-validate checks no format at all.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # importing it raises ImportError
    try:
        import jsonschema  # noqa: F401
    except ImportError:  # not installed: the caller's own import says what to install
        pass
    finally:
        del sys.modules["rfc3987_syntax"]
