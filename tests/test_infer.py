"""The Python API: sera.load(), Model.predict on files, arrays and lists, adaptation, errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from helpers_infer import FEATURES, real_bundle

import sera
from sera import infer
from sera.adapt import Normalizer
from sera.errors import AudioError, BundleError, InputError
from sera.labels import LABELS


@pytest.fixture(scope="module")
def bundle_dir(ravdess_dir, tmp_path_factory) -> Path:
    return real_bundle(ravdess_dir, tmp_path_factory.getbasetemp() / "infer-bundle")


@pytest.fixture(scope="module")
def model(bundle_dir):
    return sera.load(bundle_dir)


@pytest.fixture(scope="module")
def clips(ravdess_dir) -> list[Path]:
    """Eighteen clips of speakers the test model never heard (actors 11-13)."""
    return [path for actor in (11, 12, 13)
            for path in sorted((ravdess_dir / f"Actor_{actor}").glob("*.flac"))[::10]]


def test_import_sera_stays_light_and_serves_the_api_lazily():
    code = textwrap.dedent("""
        import sys
        import sera
        assert "onnxruntime" not in sys.modules and "numpy" not in sys.modules
        assert {"load", "Model", "Prediction", "Segment"} <= set(dir(sera))
        assert sera.load is __import__("sera.infer").infer.load
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_missing_default_model_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(infer, "DEFAULT_MODEL", tmp_path / "default_model")
    with pytest.raises(BundleError) as caught:
        sera.load()
    message = str(caught.value)
    assert "default_model" in message and "make model" in message and "\n" not in message
    with pytest.raises(BundleError, match="no such bundle"):
        sera.load(tmp_path / "nowhere")


def test_model_exposes_labels_card_config_and_metrics(model, bundle_dir):
    assert model.labels == LABELS
    assert model.path == bundle_dir
    assert "logreg" in model.card
    assert model.config["features"]["name"] == FEATURES
    assert 0.0 <= model.metrics["uar"] <= 1.0
    assert model.feature_set.name == FEATURES
    assert FEATURES in repr(model)


def test_predict_a_file(model, clips):
    p = model.predict(clips[0])
    assert isinstance(p, sera.Prediction)
    assert p.path == str(clips[0])
    assert list(p.scores) == list(LABELS)
    assert p.label == max(p.scores, key=p.scores.get)
    assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert p.to_dict()["path"] == str(clips[0]) and set(p.to_dict()) == {
        "path", "label", "scores", "arousal", "valence"}


def test_an_array_is_classified_as_given(model, clips, ravdess_original_dir):
    # An array gets what a file gets: downmixing, resampling, then the feature set's own
    # window or trimming (FeatureSet.prepare), so the same audio gives the same scores.
    from sera.audio import load as load_audio

    y = load_audio(clips[0], sr=16000)
    from_file, from_array = model.predict(clips[0]), model.predict(y, sample_rate=16000)
    assert from_array.path is None
    assert from_array.label == from_file.label
    np.testing.assert_allclose(list(from_array.scores.values()),
                               list(from_file.scores.values()), atol=1e-6)
    # The original release: 48 kHz, some files stereo.
    for path in sorted(ravdess_original_dir.glob("*/*.wav"))[:2]:
        wide, rate = sf.read(path, dtype="float32")
        narrow = soxr.resample(wide.mean(axis=1) if wide.ndim == 2 else wide, rate, 16000,
                               quality="HQ")
        assert (model.predict(wide, sample_rate=rate).scores
                == pytest.approx(model.predict(narrow, sample_rate=16000).scores, abs=1e-6))


def test_a_list_is_batched_in_order_and_matches_single_predictions(model, clips, monkeypatch):
    singles = [model.predict(path) for path in clips[:5]]
    # Worker processes are started for lists this long or longer.
    monkeypatch.setattr(infer, "POOL_MIN_FILES", len(clips))
    for workers in (1, 2):
        batch, failures = model.predict_many(clips, workers=workers)
        assert failures == []
        assert [p.path for p in batch] == [str(path) for path in clips]
        for one, many in zip(singles, batch[:5], strict=True):
            assert one.label == many.label
            # float32 sums over the 6,870 inputs are ordered differently in a batch of one
            # and a batch of many (onnxruntime's GEMM): they agree to about 1e-6.
            np.testing.assert_allclose(list(one.scores.values()), list(many.scores.values()),
                                       atol=1e-5)


def test_mixed_list_of_files_and_arrays(model, clips):
    y = model.feature_set.load(clips[1])
    mixed, _ = model.predict_many([clips[0], y], sample_rate=16000)
    assert [p.path for p in mixed] == [str(clips[0]), None]
    assert mixed[1].scores == pytest.approx(model.predict(clips[1]).scores, abs=1e-6)


def test_bad_clips_are_collected_and_the_rest_classified(model, clips, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.touch()
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    missing = tmp_path / "missing.flac"
    blip = np.zeros(800, np.float32)
    items = [clips[0], empty, text, blip, missing, clips[1]]
    predictions, failures = model.predict_many(items, sample_rate=16000)
    assert [p.path for p in predictions] == [str(clips[0]), str(clips[1])]
    assert [path for path, _ in failures] == [str(empty), str(text), "<array 3>", str(missing)]
    problems = dict(failures)
    assert "empty" in problems[str(empty)]
    assert "too short" in problems["<array 3>"]
    assert "no such file" in problems[str(missing)]
    assert all("\n" not in problem for problem in problems.values())

    with pytest.raises(AudioError, match="missing.flac: no such file"):
        model.predict(missing)
    with pytest.raises(InputError, match="predict_many classifies many"):
        model.predict(items, sample_rate=16000)
    with pytest.raises(AudioError, match="sample_rate"):
        model.predict(blip)


def test_adaptation_uses_each_groups_statistics(model, clips):
    speakers = [path.parent.name for path in clips]
    adapted, _ = model.predict_many(clips, adapt="speaker", groups=speakers)
    X = np.stack([model.feature_set.extract(path) for path in clips])
    stored = model.config["normalization"]
    normalizer = Normalizer(np.array(stored["mean"], np.float32),
                            np.array(stored["std"], np.float32))
    expected = model.bundle.predict_proba(normalizer.transform(X, speakers, adapt="speaker"))
    np.testing.assert_allclose([list(p.scores.values()) for p in adapted], expected, atol=1e-5)
    plain, _ = model.predict_many(clips)
    assert not np.allclose([list(p.scores.values()) for p in plain], expected, atol=1e-3)
    with pytest.raises(ValueError, match="groups"):
        model.predict_many(clips, adapt="speaker")


def test_inference_never_imports_torch(bundle_dir, clips):
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import sera
        model = sera.load({str(bundle_dir)!r})
        model.predict({str(clips[0])!r})
        model.predict_many([{str(clips[1])!r}, np.zeros(16000, np.float32) + 0.1], 16000)
        model.analyze({str(clips[2])!r})
        assert "torch" not in sys.modules, "torch was imported"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_export_writes_a_graph_that_matches_the_bundle(model, clips, tmp_path):
    import onnxruntime as ort

    out = tmp_path / "exported" / "model.onnx"
    description = model.export_onnx(out)
    dims = model.feature_set.shape[0]
    assert f"'{FEATURES}' features" in description and f"(N, {dims})" in description
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    X = model.normalizer.transform(np.stack([model.feature_set.extract(p) for p in clips[:4]]))
    exported = session.run(["probabilities"], {"features": X})[0]
    expected = [list(p.scores.values()) for p in model.predict_many(clips[:4])[0]]
    np.testing.assert_allclose(exported, expected, atol=1e-6)
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx"]
