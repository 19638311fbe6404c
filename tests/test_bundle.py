"""Bundles: written atomically, read back exactly, and every kind of damage named in one line."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from sera.bundle import load_bundle, save_bundle
from sera.cards import make_card
from sera.errors import BundleError, UnknownModelError
from sera.labels import LABELS
from sera.metrics import evaluate_predictions
from sera.models import get_model_spec

DIM = 6


@pytest.fixture(scope="module")
def trained():
    """A small fitted model, raw features and their normalisation statistics."""
    rng = np.random.default_rng(0)
    y = rng.choice([0, 1, 4, 6], 120)
    raw = (rng.standard_normal((120, DIM)) + y[:, None] * 0.8) * 3 + 10
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    model = get_model_spec("logreg").build().fit(((raw - mean) / std).astype(np.float32), y)
    return model, raw.astype(np.float32), y, mean, std


def save(directory, trained, **overrides):
    model, raw, y, mean, std = trained
    metrics = evaluate_predictions(y, model.predict((raw - mean) / std))
    arguments = dict(
        model=model, model_name="logreg", feature_config={"name": "toy", "dim": DIM},
        sample_rate=16000, normalization={"mean": mean, "std": std},
        training={"corpora": ["toy"], "utterances": len(y)}, metrics=metrics,
        card=make_card(model_name="logreg", features="toy", training={"utterances": len(y)},
                       metrics=metrics, evaluation="training data", data_licence="CC0"))
    return save_bundle(directory, **{**arguments, **overrides})


def test_round_trip_matches_the_trained_model(tmp_path, trained):
    model, raw, _, mean, std = trained
    bundle = save(tmp_path / "bundle", trained)
    assert sorted(p.name for p in bundle.path.iterdir()) == ["card.md", "config.json", "model.onnx"]
    loaded = load_bundle(tmp_path / "bundle")
    assert loaded.labels == LABELS and loaded.sample_rate == 16000 and loaded.input_shape == (DIM,)
    assert loaded.feature_config == {"name": "toy", "dim": DIM}
    config = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert config["format"] == "sera-bundle" and config["format_version"] == 1
    assert config["model"] == {"name": "logreg", "kind": "sklearn", "params": model.params}
    assert config["onnx_sha256"] == hashlib.sha256(
        (tmp_path / "bundle" / "model.onnx").read_bytes()).hexdigest()
    features = loaded.normalizer.transform(raw, adapt="none")
    np.testing.assert_allclose(features, (raw - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loaded.predict_proba(features), model.predict_proba(features),
                               atol=1e-5)
    assert loaded.predict_proba(features[:0]).shape == (0, len(LABELS))
    with pytest.raises(ValueError, match="shape"):
        loaded.predict_proba(features[:, :3])
    assert "logreg" in (tmp_path / "bundle" / "card.md").read_text()


def test_saving_replaces_a_bundle_atomically_and_spares_other_folders(tmp_path, trained):
    save(tmp_path / "bundle", trained, training={"run": 1})
    save(tmp_path / "bundle", trained, training={"run": 2})
    assert load_bundle(tmp_path / "bundle").config["training"] == {"run": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="not a sera bundle"):
        save(tmp_path / "notes", trained)
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"


def test_a_failed_save_leaves_nothing_behind(tmp_path, trained):
    class Broken:
        params = {}

        def export_onnx(self, path):
            raise RuntimeError("export failed")

    with pytest.raises(RuntimeError, match="export failed"):
        save(tmp_path / "bundle", trained, model=Broken())
    with pytest.raises(UnknownModelError):
        save(tmp_path / "bundle", trained, model_name="nope")
    assert list(tmp_path.iterdir()) == []


def edit_config(directory, change):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def replace_onnx(directory, data: bytes):
    """Swap in another model.onnx and make the checksum agree, as a careless hand edit would."""
    (directory / "model.onnx").write_bytes(data)
    edit_config(directory, lambda c: c.update(onnx_sha256=hashlib.sha256(data).hexdigest()))


def wrong_output_graph() -> bytes:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["features"], ["scores"])], "g",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, DIM])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, DIM])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                             ir_version=8).SerializeToString()


DAMAGE = {
    "no config": (lambda d: (d / "config.json").unlink(), "config.json is missing"),
    "no model": (lambda d: (d / "model.onnx").unlink(), "model.onnx is missing"),
    "no card": (lambda d: (d / "card.md").unlink(), "card.md is missing"),
    "bad json": (lambda d: (d / "config.json").write_text("{\"format\": "), "not valid JSON"),
    "not a bundle": (lambda d: edit_config(d, lambda c: c.update(format="other")),
                     "not a sera bundle"),
    "newer format": (lambda d: edit_config(d, lambda c: c.update(format_version=2)),
                     "format version 2 is not supported"),
    "no labels": (lambda d: edit_config(d, lambda c: c.pop("labels")), "has no \"labels\""),
    "corrupt onnx": (lambda d: (d / "model.onnx").write_bytes(
        (d / "model.onnx").read_bytes()[:-20] + b"\0" * 20), "does not match the checksum"),
    "garbage onnx": (lambda d: replace_onnx(d, b"not an onnx graph"), "cannot be loaded"),
    "wrong outputs": (lambda d: replace_onnx(d, wrong_output_graph()), "\"probabilities\""),
    "fewer labels": (lambda d: edit_config(d, lambda c: c.update(labels=list(LABELS[:6]))),
                     "gives 7 scores but config.json lists 6 labels"),
    "repeated labels": (lambda d: edit_config(d, lambda c: c.update(labels=["sad"] * 7)),
                        "distinct"),
    "wrong input shape": (lambda d: edit_config(d, lambda c: c.update(input_shape=[DIM + 1])),
                          "input rows of shape"),
    "short mean": (lambda d: edit_config(d, lambda c: c["normalization"].update(mean=[0.0] * 4)),
                   "normalization of shape"),
    "zero std": (lambda d: edit_config(d, lambda c: c["normalization"].update(std=[0.0] * DIM)),
                 "not positive"),
}


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory, trained):
    return save(tmp_path_factory.mktemp("good") / "bundle", trained).path


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_bundles_raise_one_line_naming_the_bundle(damage, good_bundle, tmp_path):
    directory = tmp_path / "bundle"
    shutil.copytree(good_bundle, directory)
    apply, message = DAMAGE[damage]
    apply(directory)
    with pytest.raises(BundleError) as caught:
        load_bundle(directory)
    text = str(caught.value)
    assert message in text and text.startswith(str(directory)) and "\n" not in text


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(BundleError, match="no such bundle directory"):
        load_bundle(tmp_path / "absent")


def test_loading_and_predicting_never_import_torch_or_sklearn(good_bundle):
    code = (
        "import sys, numpy as np\n"
        "from sera.bundle import load_bundle\n"
        f"bundle = load_bundle({str(good_bundle)!r})\n"
        f"p = bundle.predict_proba(bundle.normalizer.transform(np.ones((3, {DIM}), np.float32)))\n"
        "assert p.shape == (3, 7)\n"
        "assert not {'torch', 'sklearn'} & set(sys.modules), 'heavy import'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bundle_files_are_json_markdown_and_onnx_only(good_bundle):
    json.loads((good_bundle / "config.json").read_text())
    onnx.checker.check_model(onnx.load(str(good_bundle / "model.onnx")))
    assert (good_bundle / "card.md").read_text().startswith("# sera model card")


def test_card_states_model_data_licence_figures_and_limits():
    metrics = evaluate_predictions([0, 1, 1, 2], [0, 1, 2, 2])
    card = make_card(model_name="svm", features="egemaps",
                     training={"corpora": ["ravdess"], "speakers": 18},
                     metrics=metrics, evaluation="leave-one-speaker-out over 18 actors",
                     data_licence="CC BY-NC-SA 4.0")
    for text in ("`svm`", "`egemaps`", "ravdess", "18", "CC BY-NC-SA 4.0",
                 "leave-one-speaker-out", f"{metrics['uar']:.3f}", "## Intended use",
                 "## Limitations", "| fear |"):
        assert text in card


class PatchModel:
    """Stands in for a CNN over (4, 5) patches: flatten, one linear layer, softmax."""

    params = {"note": "stand-in"}

    def __init__(self, weights):
        self.weights = weights

    def export_onnx(self, path):
        nodes = [helper.make_node("Flatten", ["features"], ["flat"], axis=1),
                 helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
                 helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)]
        graph = helper.make_graph(
            nodes, "patch",
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 4, 5])],
            [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 7])],
            initializer=[onnx.numpy_helper.from_array(self.weights, "weights")])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                    ir_version=8), str(path))


def test_patch_inputs_with_flat_normalisation_statistics(tmp_path, trained):
    weights = np.random.default_rng(0).standard_normal((20, 7)).astype(np.float32)
    mean = np.arange(20, dtype=np.float32).reshape(4, 5)  # one statistic per input value
    bundle = save(tmp_path / "cnn", trained, model=PatchModel(weights), model_name="compact-cnn",
                  normalization={"mean": mean.ravel(), "std": np.full(20, 2.0), "mode": "none"})
    assert bundle.input_shape == (4, 5) and bundle.config["model"]["kind"] == "torch"
    raw = np.random.default_rng(1).standard_normal((3, 4, 5)).astype(np.float32)
    features = bundle.normalizer.transform(raw, adapt="none")
    np.testing.assert_allclose(features, (raw - mean) / 2.0, rtol=1e-6)
    logits = features.reshape(3, 20) @ weights
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(bundle.predict_proba(features), expected, rtol=1e-5)
    with pytest.raises(BundleError, match=f"^{tmp_path / 'bad'}: normalization .* does not fit"):
        save(tmp_path / "bad", trained, model=PatchModel(weights), model_name="compact-cnn",
             normalization={"mean": np.zeros(5), "std": np.ones(4)})
    assert [p.name for p in tmp_path.iterdir()] == ["cnn"]


# --- crafted bundles -------------------------------------------------------------------------

def _edit_config(directory, change):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_a_deeply_nested_config_is_refused_before_it_is_parsed(tmp_path, trained):
    save(tmp_path / "b", trained)
    (tmp_path / "b" / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="nests deeper than 32 levels"):
        load_bundle(tmp_path / "b")


@pytest.mark.parametrize(("key", "value"), [
    ("calibration", {"method": "temperature", "temperature": 0}),
    ("calibration", {"method": "temperature", "temperature": float("nan")}),
    ("calibration", {"method": "temperature", "temperature": "hot"}),
    ("calibration", {"method": "temperature", "temperature": [1.0]}),
    ("calibration", {"method": "temperature", "temperature": 1.0, "by_adapt": {"none": -1}}),
    ("model", "logreg"),
    ("sample_rate", "16000"),
    ("input_shape", "6"),
])
def test_crafted_config_values_are_refused_on_load(tmp_path, trained, key, value):
    save(tmp_path / "b", trained)
    _edit_config(tmp_path / "b", lambda config: config.update({key: value}))
    with pytest.raises(BundleError, match=f'"{key}" in config.json must be'):
        load_bundle(tmp_path / "b")


@pytest.mark.parametrize("name", ["card.md", "config.json", "model.onnx"])
def test_a_bundle_file_that_is_a_symbolic_link_is_refused(tmp_path, trained, name):
    save(tmp_path / "b", trained)
    target = tmp_path / f"elsewhere-{name}"
    shutil.move(tmp_path / "b" / name, target)
    (tmp_path / "b" / name).symlink_to(target)
    with pytest.raises(BundleError, match=f"{name} is a symbolic link"):
        load_bundle(tmp_path / "b")


def test_a_card_linked_to_etc_passwd_is_refused(tmp_path, trained):
    save(tmp_path / "b", trained)
    (tmp_path / "b" / "card.md").unlink()
    (tmp_path / "b" / "card.md").symlink_to("/etc/passwd")
    with pytest.raises(BundleError, match="card.md is a symbolic link"):
        load_bundle(tmp_path / "b")


def test_onnx_external_data_is_refused_even_inside_the_bundle(tmp_path, trained,
                                                             monkeypatch):
    save(tmp_path / "b", trained)
    weights = onnx.numpy_helper.from_array(np.zeros((DIM, len(LABELS)), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)], "g",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", DIM])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(LABELS)])],
        [weights])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save_model(proto, tmp_path / "b" / "model.onnx", save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    digest = hashlib.sha256((tmp_path / "b" / "model.onnx").read_bytes()).hexdigest()
    _edit_config(tmp_path / "b", lambda config: config.update(onnx_sha256=digest))
    assert (tmp_path / "b" / "weights.bin").is_file()
    monkeypatch.chdir(tmp_path / "b")       # onnxruntime looks for it here when given bytes
    with pytest.raises(BundleError, match="external files"):
        load_bundle(tmp_path / "b")
