import sys
import types

from ci.core import imports


def test_an_iri_checker_imported_already_is_left_in_place(monkeypatch):
    sentinel = types.ModuleType("rfc3987_syntax")
    monkeypatch.setitem(sys.modules, "rfc3987_syntax", sentinel)
    imports.jsonschema()
    assert sys.modules["rfc3987_syntax"] is sentinel
