"""Load a model (joblib, pickle, skops, ONNX or a hook) and the holdout it is judged on."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.core.errors import ConfigError, EnvError, SecurityError
from ci.core.text import closest, display, first_line, show
from ci.model import MODEL_EXTRA, formats
from ci.model.formats import Predictions

__all__ = [
    "Holdout", "Model", "Predictions", "feature_columns", "is_parquet", "load_holdout", "load_model", "need",
    "onnx_model", "read_table",
]  # fmt: skip


def need(module: str) -> Any:
    """Import a library of the model extra, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise EnvError(f"{module.split('.')[0]} is not installed; install it with `{MODEL_EXTRA}`") from None


@dataclass
class Model:
    """A loaded model, whatever its format: ``score(features)`` gives Predictions."""

    source: str
    score: Callable[[Any], Predictions]
    estimator: Any = None  # the Python object, for formats that have one (ONNX export needs it)


def load_model(
    path: str, fmt: str, *, hook: str = "", method: str = "auto", trusted: Sequence[str] = (), root: Path
) -> Model:
    """The model as ``ci.model`` describes it, loaded by the code the serving image runs too."""
    if fmt == "hook":
        return _hook_model(hook, method, root)
    file = root / path
    if not path or not file.is_file():
        raise ConfigError(
            f"ci.model.path: {display(file) if path else 'not set'}: no such model file; train the model "
            "first (ci.model.train runs a command for that) or fix the path"
        )
    if fmt == "auto":
        fmt = formats.format_of(file)
        if not fmt:
            raise ConfigError(
                f"ci.model.format: cannot tell how to load {display(file)} from its suffix; "
                f"set ci.model.format to one of joblib, pickle, skops, onnx, hook"
            )
    if fmt == "onnx":
        return onnx_model(file)
    estimator = _unpickle(file, fmt, trusted)
    try:
        return Model(display(file), formats.estimator_scorer(estimator, method), estimator)
    except formats.Unusable as error:
        raise ConfigError(f"{display(file)}: {error}") from None


def _unpickle(file: Path, fmt: str, trusted: Sequence[str]) -> Any:
    library = {"joblib": "joblib", "skops": "skops.io"}.get(fmt)
    if library:
        need(library)
    try:
        return formats.load(file, fmt, trusted)
    except formats.Untrusted as error:
        raise SecurityError(
            f"{display(file)} holds types skops does not trust: {error}; "
            "add them to ci.model.trusted if you trust this file"
        ) from None
    except Exception as error:  # a corrupt file can raise nearly anything
        raise ConfigError(f"{display(file)}: cannot be loaded with {fmt}: {first_line(error)}") from None


def _hook_model(hook: str, method: str, root: Path) -> Model:
    module_name, _, function_name = hook.partition(":")
    if not module_name or not function_name:
        raise ConfigError(f"ci.model.hook must be module:function, got {show(hook)}")
    try:
        function = formats.hook_function(hook, root)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"ci.model.hook: cannot import {hook}: {error}") from None
    need("numpy")
    hooked = formats.hook_scorer(function, method, hook)

    def score(features: Any) -> Predictions:
        try:
            return hooked(features)
        except formats.Unusable as error:
            raise ConfigError(f"ci.model.hook: {error}") from None

    return Model(hook, score)


def onnx_model(file: Path) -> Model:
    need("onnxruntime")
    need("numpy")
    try:
        return Model(display(file), formats.onnx_scorer(file))
    except Exception as error:
        raise ConfigError(f"{display(file)}: cannot be loaded with onnxruntime: {error}") from None


@dataclass
class Holdout:
    features: Any  # pandas DataFrame
    target: Any  # pandas Series
    segments: Any = None  # pandas Series, or None


def load_holdout(
    path: str, *, target: str, features: Sequence[str], drop: Sequence[str], segment_by: str, root: Path
) -> Holdout:
    file = root / path
    if not path or not file.is_file():
        raise ConfigError(f"ci.model.holdout: {display(file) if path else 'not set'}: no such file")
    frame = read_table(file)
    columns = list(frame.columns)
    for key, name in [("target", target), ("segment_by", segment_by)] + [("features", f) for f in features]:
        if name and name not in columns:
            raise ConfigError(
                f"{display(file)} has no column {show(name)} (ci.model.{key}){_did_you_mean(name, columns)}"
            )
    chosen = feature_columns(columns, features=features, leave_out=(target, segment_by, *drop))
    return Holdout(frame[chosen], frame[target], frame[segment_by] if segment_by else None)


def read_table(file: Path) -> Any:
    """A CSV or Parquet file (by its suffix) as a pandas DataFrame; ConfigError when it cannot be read."""
    pd = need("pandas")
    try:
        return pd.read_parquet(file) if is_parquet(file) else pd.read_csv(file)
    except Exception as error:
        raise ConfigError(f"{display(file)}: cannot be read: {first_line(error)}") from None


def is_parquet(file: Path) -> bool:
    return file.suffix.lower() in (".parquet", ".pq")


def feature_columns(
    columns: Sequence[Any], *, features: Sequence[str], leave_out: Sequence[str]
) -> list[Any]:
    """The model's inputs: ``ci.model.features`` when set, else every column but target, segment and drop."""
    skip = {name for name in leave_out if name}
    return list(features) or [c for c in columns if c not in skip]


def _did_you_mean(name: str, columns: Sequence[str]) -> str:
    close = closest(name, [str(c) for c in columns])
    return f"; did you mean {show(close)}?" if close else f"; columns: {', '.join(map(str, columns[:20]))}"
