"""Load a model (joblib, pickle, skops, ONNX or a hook) and the holdout it is judged on."""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.core.config import closest, display, show
from ci.core.errors import ConfigError, EnvError, SecurityError
from ci.model import MODEL_EXTRA

SUFFIXES = {".joblib": "joblib", ".pkl": "pickle", ".pickle": "pickle", ".skops": "skops", ".onnx": "onnx"}


def need(module: str) -> Any:
    """Import a library of the model extra, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise EnvError(f"{module.split('.')[0]} is not installed; install it with `{MODEL_EXTRA}`") from None


@dataclass
class Predictions:
    """What a model said about the holdout: labels (or values), class scores, the classes."""

    labels: Any  # numpy array: class labels, or values for regression
    scores: Any = None  # numpy array (n, k) of class probabilities, when the model gives them
    classes: Any = None  # numpy array of the k class labels, in score order


@dataclass
class Model:
    """A loaded model, whatever its format: ``score(features)`` gives Predictions."""

    source: str
    score: Callable[[Any], Predictions]
    estimator: Any = None  # the Python object, for formats that have one (ONNX export needs it)


def load_model(
    path: str, fmt: str, *, hook: str = "", method: str = "auto", trusted: Sequence[str] = (), root: Path
) -> Model:
    if fmt == "hook":
        return _hook_model(hook, method, root)
    file = root / path
    if not path or not file.is_file():
        raise ConfigError(
            f"ci.model.path: {display(file) if path else 'not set'}: no such model file; train the model "
            "first (ci.model.train runs a command for that) or fix the path"
        )
    if fmt == "auto":
        fmt = SUFFIXES.get(file.suffix.lower(), "")
        if not fmt:
            raise ConfigError(
                f"ci.model.format: cannot tell how to load {display(file)} from its suffix; "
                f"set ci.model.format to one of joblib, pickle, skops, onnx, hook"
            )
    if fmt == "onnx":
        return onnx_model(file)
    estimator = _unpickle(file, fmt, trusted)
    return Model(display(file), _estimator_scorer(estimator, method, display(file)), estimator)


def _unpickle(file: Path, fmt: str, trusted: Sequence[str]) -> Any:
    try:
        if fmt == "joblib":
            return need("joblib").load(file)
        if fmt == "pickle":
            with open(file, "rb") as f:
                return pickle.load(f)
        skops = need("skops.io")
        untrusted = sorted(set(skops.get_untrusted_types(file=file)) - set(trusted))
        if untrusted:
            raise SecurityError(
                f"{display(file)} holds types skops does not trust: {', '.join(untrusted)}; "
                "add them to ci.model.trusted if you trust this file"
            )
        return skops.load(file, trusted=list(trusted) or None)
    except (EnvError, SecurityError):
        raise
    except Exception as error:  # a corrupt file can raise nearly anything
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{display(file)}: cannot be loaded with {fmt}: {detail}") from None


def _estimator_scorer(estimator: Any, method: str, source: str) -> Callable[[Any], Predictions]:
    has_proba = callable(getattr(estimator, "predict_proba", None))
    if not callable(getattr(estimator, "predict", None)):
        raise ConfigError(f"{source}: is not a model: a {type(estimator).__name__} has no predict method")
    if method == "predict_proba" and not has_proba:
        raise ConfigError(f"ci.model.method: {source} has no predict_proba; set ci.model.method to predict")
    use_proba = has_proba and method != "predict"

    def score(features: Any) -> Predictions:
        labels = estimator.predict(features)
        if not use_proba:
            return Predictions(labels, classes=getattr(estimator, "classes_", None))
        return Predictions(labels, estimator.predict_proba(features), estimator.classes_)

    return score


def _hook_model(hook: str, method: str, root: Path) -> Model:
    module_name, _, function_name = hook.partition(":")
    if not module_name or not function_name:
        raise ConfigError(f"ci.model.hook must be module:function, got {show(hook)}")
    import sys

    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"ci.model.hook: cannot import {hook}: {error}") from None

    def score(features: Any) -> Predictions:
        np = need("numpy")
        result = function(features)
        if method == "predict_proba":
            if not hasattr(result, "columns"):
                raise ConfigError(
                    f"ci.model.hook: {hook} must return a DataFrame with a column per class for predict_proba"
                )
            classes = np.asarray(result.columns)
            scores = result.to_numpy(dtype=float)
            return Predictions(classes[scores.argmax(axis=1)], scores, classes)
        return Predictions(np.asarray(result))

    return Model(hook, score)


def onnx_model(file: Path) -> Model:
    ort = need("onnxruntime")
    np = need("numpy")
    try:
        session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    except Exception as error:
        raise ConfigError(f"{display(file)}: cannot be loaded with onnxruntime: {error}") from None
    (feed,) = session.get_inputs()[:1] or [None]
    dtype = np.float64 if "double" in feed.type else np.float32
    classes = onnx_classes(file)

    def score(features: Any) -> Predictions:
        outputs = session.run(None, {feed.name: np.asarray(features, dtype=dtype)})
        labels = outputs[0]
        scores = outputs[1] if len(outputs) > 1 else None
        if isinstance(scores, list):  # a ZipMap: one {class: probability} per row
            order = list(scores[0])
            scores = np.array([[row[c] for c in order] for row in scores])
            return Predictions(labels, scores, np.array(order))
        return Predictions(labels, scores, classes)

    return Model(display(file), score)


def onnx_classes(file: Path) -> Any:
    """The class labels an ONNX classifier stores in its graph, or None."""
    onnx = need("onnx")
    np = need("numpy")
    for node in onnx.load(str(file)).graph.node:
        for attribute in node.attribute:
            if attribute.name == "classlabels_int64s" or attribute.name == "classlabels_ints":
                return np.array(list(attribute.ints))
            if attribute.name == "classlabels_strings":
                return np.array([s.decode() for s in attribute.strings])
    return None


@dataclass
class Holdout:
    features: Any  # pandas DataFrame
    target: Any  # pandas Series
    segments: Any = None  # pandas Series, or None


def load_holdout(
    path: str, *, target: str, features: Sequence[str], drop: Sequence[str], segment_by: str, root: Path
) -> Holdout:
    pd = need("pandas")
    file = root / path
    if not path or not file.is_file():
        raise ConfigError(f"ci.model.holdout: {display(file) if path else 'not set'}: no such file")
    try:
        frame = pd.read_parquet(file) if file.suffix.lower() in (".parquet", ".pq") else pd.read_csv(file)
    except Exception as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{display(file)}: cannot be read: {detail}") from None
    columns = list(frame.columns)
    for key, name in [("target", target), ("segment_by", segment_by)] + [("features", f) for f in features]:
        if name and name not in columns:
            raise ConfigError(
                f"{display(file)} has no column {show(name)} (ci.model.{key}){_did_you_mean(name, columns)}"
            )
    chosen = list(features) or [c for c in columns if c not in {target, segment_by, *drop}]
    return Holdout(frame[chosen], frame[target], frame[segment_by] if segment_by else None)


def _did_you_mean(name: str, columns: Sequence[str]) -> str:
    close = closest(name, [str(c) for c in columns])
    return f"; did you mean {show(close)}?" if close else f"; columns: {', '.join(map(str, columns[:20]))}"
