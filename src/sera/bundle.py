"""Model bundles: a directory with ``config.json``, ``model.onnx`` and ``card.md``.

A bundle is everything inference needs, run by onnxruntime alone: this module never imports
torch or scikit-learn and never unpickles. ``config.json`` holds the format version, the labels
(the order of the graph's output columns), the sample rate, the feature set's config, the
normalisation statistics, the model's name, kind and parameters, a training-data summary, the
evaluation figures and the SHA-256 of ``model.onnx``. The ONNX graph maps ``features``
``(N, *input_shape)`` float32, already normalised, to ``probabilities`` ``(N, len(labels))``.

:func:`load_bundle` checks all of it and raises :class:`sera.errors.BundleError` with one line
naming the bundle and the problem; :func:`save_bundle` writes into a temporary directory, loads
it back through the same checks, and only then moves it into place.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from sera import __version__
from sera.adapt import Normalizer
from sera.errors import BundleError, InputError
from sera.labels import LABELS
from sera.models import get_model_spec
from sera.options import ADAPTS

#: Deepest nesting of arrays and objects ``config.json`` may have (sera writes 4 levels),
#: checked before it is parsed: Python's parser recurses and would fail on a few thousand.
MAX_CONFIG_DEPTH = 32

FORMAT = "sera-bundle"
FORMAT_VERSION = 1
CONFIG, MODEL, CARD = "config.json", "model.onnx", "card.md"
INPUT, OUTPUT = "features", "probabilities"


@dataclass(frozen=True)
class Bundle:
    """A loaded, checked bundle, ready to run.

    Attributes
    ----------
    path : Path
        The bundle directory.
    config : dict
        ``config.json`` as read.
    labels : tuple of str
        The label of each output column.
    feature_config : dict
        The feature set's config (``FeatureSet.from_config`` rebuilds it).
    normalizer : sera.adapt.Normalizer
        The feature normalisation the model was trained with (and adapts at run time).
    session : onnxruntime.InferenceSession
        The graph, on the CPU.
    """

    path: Path
    config: dict
    labels: tuple[str, ...]
    feature_config: dict
    normalizer: Normalizer
    session: ort.InferenceSession

    @property
    def sample_rate(self) -> int:
        """The rate the features are computed at."""
        return int(self.config["sample_rate"])

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """Shape of one input row (``None`` where the graph accepts any size)."""
        return tuple(self.config["input_shape"])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, len(labels))`` of normalised features ``(n, *input_shape)``."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not _shape_matches(X.shape[1:], self.input_shape):
            raise InputError(f"{self.path}: features of shape {X.shape[1:]} given, the model "
                             f"takes {self.input_shape}")
        if X.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.session.run([OUTPUT], {INPUT: X})[0]


def save_bundle(directory: str | os.PathLike, *, model, model_name: str, feature_config: dict,
                sample_rate: int, normalization: dict, training: dict, metrics: dict, card: str,
                labels: Sequence[str] = LABELS, calibration: dict | None = None) -> Bundle:
    """Write a bundle atomically and return it loaded.

    Parameters
    ----------
    directory : path-like
        Where the bundle goes. An existing bundle there is replaced; any other non-empty
        directory is left alone and an error raised.
    model : estimator
        A fitted sera model; its ``export_onnx(path)`` writes the graph, ``params`` are recorded.
    model_name : str
        Its name in :data:`sera.models.MODELS`.
    feature_config : dict
        ``FeatureSet.to_config()`` of the features the model was trained on.
    sample_rate : int
        The feature set's sample rate.
    normalization : dict
        ``sera.adapt.Normalizer.to_config()``: ``"mean"`` and ``"std"`` (flat, one value per
        input value, or broadcastable to one input row), ``"mode"`` and ``"prior_weight"``.
    training : dict
        A JSON-ready summary of the training data and recipe.
    metrics : dict
        The evaluation figures (the ``sera evaluate`` JSON, or a summary of it).
    card : str
        The model card, markdown (see :func:`sera.cards.make_card`).
    labels : sequence of str
        The label of each output column.
    calibration : dict, optional
        :func:`sera.calibration.calibration_config`: the temperature that
        :meth:`sera.infer.Model.predict_proba` applies to the graph's probabilities.

    Returns
    -------
    Bundle
        The bundle as :func:`load_bundle` reads it.
    """
    directory = Path(directory)
    if directory.exists() and not (directory / CONFIG).is_file() and (
            not directory.is_dir() or any(directory.iterdir())):
        raise BundleError(f"{directory}: exists and is not a sera bundle; not overwriting it")
    spec = get_model_spec(model_name)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        model.export_onnx(staging / MODEL)
        session = _session(directory, (staging / MODEL).read_bytes())
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "sera_version": __version__,
            "labels": list(labels),
            "sample_rate": int(sample_rate),
            "features": feature_config,
            "input_shape": [dim if isinstance(dim, int) else None
                            for dim in session.get_inputs()[0].shape[1:]],
            "normalization": {
                **normalization,
                "mean": np.asarray(normalization["mean"], dtype=np.float32).ravel().tolist(),
                "std": np.asarray(normalization["std"], dtype=np.float32).ravel().tolist(),
            },
            "model": {"name": spec.name, "kind": spec.kind, "params": model.params},
            "training": training,
            "metrics": metrics,
            **({"calibration": calibration} if calibration else {}),
            "onnx_sha256": _sha256(staging / MODEL),
        }
        (staging / CONFIG).write_text(json.dumps(config, indent=2, allow_nan=False) + "\n",
                                      encoding="utf-8")
        (staging / CARD).write_text(card, encoding="utf-8")
        bundle = _load(staging, shown=directory)
        if directory.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
            os.replace(directory, retired / directory.name)
            os.replace(staging, directory)
            shutil.rmtree(retired)
        else:
            os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return bundle


def load_bundle(directory: str | os.PathLike) -> Bundle:
    """Read and check a bundle.

    Raises
    ------
    BundleError
        One line naming the bundle and what is wrong: a missing file, a config that is not
        JSON or not a sera bundle of a supported version, a ``model.onnx`` whose checksum does
        not match, or labels, input shape or normalisation that do not fit the graph.
    """
    return _load(Path(directory), Path(directory))


def _load(directory: Path, shown: Path) -> Bundle:
    """:func:`load_bundle` of ``directory``, naming ``shown`` in errors (the bundle being saved
    while it is still in its staging directory)."""
    if not directory.is_dir():
        raise BundleError(f"{shown}: no such bundle directory")
    for name in (CONFIG, MODEL, CARD):
        _check_own_file(directory, name, shown)
    config = _read_config(directory, shown)
    _check_schema(config, shown)
    labels = config["labels"]
    if (not isinstance(labels, list) or not labels or len(set(labels)) != len(labels)
            or not all(isinstance(label, str) for label in labels)):
        raise BundleError(f"{shown}: labels in {CONFIG} must be a list of distinct names")
    graph = (directory / MODEL).read_bytes()
    if hashlib.sha256(graph).hexdigest() != config["onnx_sha256"]:
        raise BundleError(f"{shown}: {MODEL} does not match the checksum in {CONFIG} "
                          f"(corrupt or replaced)")
    # From the bytes just checked, not the path, and with no external data (which the
    # checksum would not cover) anywhere: see _session.
    session = _session(shown, graph)
    output = session.get_outputs()[0]
    if output.shape[-1] != len(labels):
        raise BundleError(f"{shown}: the graph gives {output.shape[-1]} scores but "
                          f"{CONFIG} lists {len(labels)} labels")
    input_shape = tuple(session.get_inputs()[0].shape[1:])
    if not _shape_matches(input_shape, tuple(config["input_shape"])):
        raise BundleError(f"{shown}: the graph takes input rows of shape {input_shape} but "
                          f"{CONFIG} says {tuple(config['input_shape'])}")
    normalizer = _normalizer(shown, config["normalization"], config["input_shape"])
    return Bundle(path=shown, config=config, labels=tuple(labels),
                  feature_config=config["features"], normalizer=normalizer, session=session)


def export_graph(bundle: Bundle, path: str | os.PathLike, feature_set) -> str:
    """Write a bundle's ONNX graph to ``path``, checked, and describe it.

    The copy is loaded by onnxruntime and must give the bundle's probabilities on a probe
    batch before it replaces ``path``.

    Parameters
    ----------
    bundle : Bundle
        The bundle whose graph is copied.
    path : path
        The ``.onnx`` file to write.
    feature_set : sera.features.FeatureSet
        The bundle's feature set (named in the description).

    Returns
    -------
    str
        What the graph takes and gives, in one paragraph.

    Raises
    ------
    BundleError
        The copy does not load or does not match.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    shutil.copyfile(bundle.path / MODEL, staging)
    try:
        shape = tuple(feature_set.shape)
        probe = np.random.default_rng(0).standard_normal((4, *shape)).astype(np.float32)
        session = ort.InferenceSession(str(staging), providers=["CPUExecutionProvider"])
        copied = session.run([OUTPUT], {INPUT: probe})[0]
        if not np.allclose(copied, bundle.predict_proba(probe), atol=1e-6):
            raise BundleError(f"{path}: the copied graph does not reproduce the bundle")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    dims = ", ".join(map(str, shape))
    return (f"{path}: ONNX graph. Input '{INPUT}': float32 (N, {dims}), the "
            f"'{feature_set.name}' features of N utterances "
            f"(sera.features.get_feature_set({feature_set.to_config()!r})), each "
            f"standardised as (x - mean) / std with the mean and std in "
            f"{bundle.path / CONFIG} under 'normalization'. Output '{OUTPUT}': float32 "
            f"(N, {len(bundle.labels)}), the probabilities of "
            f"{', '.join(bundle.labels)}.")


def _check_own_file(directory: Path, name: str, shown: Path) -> None:
    """Refuse a bundle file that is missing, a symbolic link, or (through a linked folder)
    somewhere else than the bundle folder: a bundle from someone else must not make sera read
    or serve any other file of this machine (``card.md`` -> ``/etc/passwd``)."""
    path = directory / name
    if path.is_symlink():
        raise BundleError(f"{shown}: {name} is a symbolic link; a bundle's files must be "
                          f"its own")
    if not path.is_file():
        raise BundleError(f"{shown}: {name} is missing")
    if path.resolve().parent != directory.resolve():
        raise BundleError(f"{shown}: {name} is outside the bundle folder")


def _json_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest (brackets inside strings do not
    count).

    >>> _json_depth('{"a": [[1], "]]]"]}')
    3
    """
    brackets = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    steps = (1 if char in "[{" else -1 for char in re.findall(r"[\[\]{}]", brackets))
    return max(itertools.accumulate(steps, initial=0))


def _read_config(directory: Path, shown: Path) -> dict:
    """``config.json``, checked for format, version and required keys."""
    try:
        text = (directory / CONFIG).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise BundleError(f"{shown}: {CONFIG} is not valid JSON ({err})") from None
    if _json_depth(text) > MAX_CONFIG_DEPTH:
        raise BundleError(f"{shown}: {CONFIG} nests deeper than {MAX_CONFIG_DEPTH} levels")
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise BundleError(f"{shown}: {CONFIG} is not valid JSON ({err})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise BundleError(f"{shown}: {CONFIG} is not a sera bundle config "
                          f"(\"format\" is not \"{FORMAT}\")")
    if config.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{shown}: bundle format version {config.get('format_version')!r} "
                          f"is not supported (this sera {__version__} reads version "
                          f"{FORMAT_VERSION})")
    for key in ("labels", "sample_rate", "features", "input_shape", "normalization", "model",
                "onnx_sha256"):
        if key not in config:
            raise BundleError(f"{shown}: {CONFIG} has no \"{key}\"")
    return config


def _positive(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def _temperatures(calibration) -> bool:
    return (isinstance(calibration, dict) and calibration.get("method") == "temperature"
            and _positive(calibration.get("temperature"))
            and isinstance(calibration.get("by_adapt", {}), dict)
            and all(_positive(t) for t in calibration.get("by_adapt", {}).values()))


#: What each entry of ``config.json`` must be, checked on load so that a crafted bundle fails
#: there, with one line, and not on every prediction: ``(key, required, check, expected)``.
SCHEMA = (
    ("sample_rate", True, lambda v: isinstance(v, int) and not isinstance(v, bool)
     and 0 < v <= 192_000, "a sample rate in Hz (an integer up to 192000)"),
    ("features", True, lambda v: isinstance(v, dict) and isinstance(v.get("name"), str),
     "an object with the feature set's \"name\""),
    ("input_shape", True, lambda v: isinstance(v, list) and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in v),
     "a list of positive sizes (or null)"),
    ("normalization", True, lambda v: isinstance(v, dict), "an object"),
    ("model", True, lambda v: isinstance(v, dict) and isinstance(v.get("name"), str)
     and isinstance(v.get("params", {}), dict), "an object with the model's \"name\""),
    ("onnx_sha256", True, lambda v: isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v),
     "a SHA-256 in hex"),
    ("calibration", False, _temperatures, "{\"method\": \"temperature\", \"temperature\": "
     "T} with every temperature a finite number above 0"),
    ("metrics", False, lambda v: isinstance(v, dict), "an object"),
    ("training", False, lambda v: isinstance(v, dict), "an object"),
)


def _check_schema(config: dict, shown: Path) -> None:
    """Check every entry of :data:`SCHEMA`; the first that is wrong is named."""
    for key, required, check, expected in SCHEMA:
        if key not in config:
            if required:
                raise BundleError(f"{shown}: {CONFIG} has no \"{key}\"")
            continue
        if not check(config[key]):
            raise BundleError(f"{shown}: \"{key}\" in {CONFIG} must be {expected}")


def _normalizer(shown: Path, normalization: dict, input_shape: list) -> Normalizer:
    """The bundle's normaliser, its mean and std checked to be finite, positive and to fit
    the input."""
    try:
        mean = np.asarray(normalization["mean"], dtype=np.float32)
        std = np.asarray(normalization["std"], dtype=np.float32)
    except (KeyError, TypeError, ValueError):
        raise BundleError(f"{shown}: normalization in {CONFIG} needs numeric \"mean\" and "
                          f"\"std\" arrays") from None
    if normalization.get("mode", "none") not in ADAPTS:
        raise BundleError(f"{shown}: unknown adaptation {normalization.get('mode')!r} under "
                          f"normalization in {CONFIG}")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise BundleError(f"{shown}: normalization in {CONFIG} has non-finite values or a "
                          f"std that is not positive")
    row = tuple(1 if dim is None else dim for dim in input_shape)
    if None not in input_shape and mean.ndim == std.ndim == 1 and \
            mean.size == std.size == int(np.prod(row)):
        mean, std = mean.reshape(row), std.reshape(row)  # stored flat, one value per input
    try:
        fits = np.broadcast_shapes(mean.shape, std.shape, row) == row
    except ValueError:
        fits = False
    if not fits:
        raise BundleError(f"{shown}: normalization of shape {mean.shape} does not fit input "
                          f"rows of shape {tuple(input_shape)}")
    return Normalizer.from_config({**normalization, "mean": mean.ravel(), "std": std.ravel()})


def _session(shown: Path, graph: bytes) -> ort.InferenceSession:
    """A CPU session of the graph (the bytes of ``model.onnx``), checked for sera's input
    and output names. A graph whose weights are in external data files is refused."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        # onnxruntime looks for the external data of a graph given as bytes in the working
        # directory, unless told another folder: an empty one, so any reference fails.
        with tempfile.TemporaryDirectory() as nowhere:
            options.add_session_config_entry(
                "session.model_external_initializers_file_folder_path", nowhere)
            session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own, unexported exception types
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "external" in first_line.lower():
            raise BundleError(f"{shown}: {MODEL} keeps data in external files, which a bundle "
                              f"may not (its checksum would not cover them)") from None
        raise BundleError(f"{shown}: {MODEL} cannot be loaded ({first_line})") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != [INPUT] or inputs[0].type != "tensor(float)":
        raise BundleError(f"{shown}: {MODEL} must take one float input named \"{INPUT}\"")
    if [o.name for o in outputs] != [OUTPUT] or len(outputs[0].shape) != 2:
        raise BundleError(f"{shown}: {MODEL} must give one (N, labels) output named "
                          f"\"{OUTPUT}\"")
    return session


def _shape_matches(shape: tuple, expected: tuple) -> bool:
    """Whether a row shape fits an expected one whose ``None`` (or symbolic) dims match any size."""
    return len(shape) == len(expected) and all(
        not isinstance(e, int) or not isinstance(s, int) or s == e
        for s, e in zip(shape, expected, strict=True))


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
