import pytest

from ci import registry
from ci.core import retries
from ci.core.errors import EnvError


def test_transient_failures_are_retried_with_backoff_then_succeed():
    calls, pauses = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise retries.Transient("503 Service Unavailable")
        return "done"

    original = retries.time.sleep
    retries.time.sleep = pauses.append
    try:
        assert retries.with_retries(flaky, tries=3, what="push") == "done"
    finally:
        retries.time.sleep = original
    assert len(calls) == 3 and pauses == [1.0, 2.0]


def test_retries_are_bounded_and_end_in_an_environment_error(monkeypatch):
    monkeypatch.setattr(retries.time, "sleep", lambda seconds: None)

    def down():
        raise retries.Transient("connection refused")

    with pytest.raises(EnvError) as caught:
        retries.with_retries(down, tries=2, what="push to 127.0.0.1:5999")
    assert str(caught.value) == "push to 127.0.0.1:5999 failed 2 times, last: connection refused"


def test_only_loopback_registries_are_spoken_to_in_plain_http():
    assert registry.loopback("127.0.0.1:5000") and registry.loopback("localhost:5000")
    assert not registry.loopback("registry.example.com") and not registry.loopback("10.0.0.1:5000")
