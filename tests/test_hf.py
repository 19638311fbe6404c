"""Pretrained encoders (``hf:``) on a tiny randomly initialised wav2vec 2.0 built here."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sera.errors import FeatureError
from sera.features import extract_features, get_feature_set, read_features

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SR = 16000
HIDDEN = 32
LAYERS = 2


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    """A 2-layer, 32-wide wav2vec 2.0 with random weights and its feature extractor, saved."""
    folder = tmp_path_factory.mktemp("hf") / "tiny-wav2vec2"
    config = transformers.Wav2Vec2Config(
        hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=2,
        intermediate_size=64, conv_dim=(16, 16, 16), conv_stride=(5, 4, 4),
        conv_kernel=(10, 8, 8), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        vocab_size=8)
    torch.manual_seed(0)
    transformers.Wav2Vec2Model(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SR, padding_value=0.0,
                                          do_normalize=True).save_pretrained(folder)
    return str(folder)


def _wave(index: int, seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(index)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * (140 + 30 * index) * t)
            + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("hf-corpus")
    rows = []
    for i in range(4):
        path = folder / f"clip{i}.wav"
        sf.write(path, _wave(i, 0.8 + 0.2 * i), SR, subtype="PCM_16")
        rows.append({"path": str(path), "speaker": f"s{i % 2}", "emotion": "happy"})
    return pd.DataFrame(rows)


def test_embeddings_have_the_models_width_and_are_deterministic(tiny_model):
    fs = get_feature_set(f"hf:{tiny_model}")
    assert fs.shape == (HIDDEN,) and len(fs.names) == HIDDEN
    x = fs.transform(_wave(0))
    assert x.dtype == np.float32 and x.shape == fs.shape and np.isfinite(x).all()
    np.testing.assert_array_equal(get_feature_set(f"hf:{tiny_model}").transform(_wave(0)), x)
    assert not np.allclose(fs.transform(_wave(1)), x)


def test_layers_differ_and_mean_averages_them(tiny_model):
    per_layer = [get_feature_set(f"hf:{tiny_model}", layer=k).transform(_wave(2))
                 for k in range(LAYERS + 1)]
    for a in range(LAYERS + 1):
        for b in range(a + 1, LAYERS + 1):
            assert not np.allclose(per_layer[a], per_layer[b])
    mean = get_feature_set(f"hf:{tiny_model}", layer="mean").transform(_wave(2))
    # Pooling over time is linear, so the pooled mean of the layers is the mean of the pools.
    np.testing.assert_allclose(mean, np.mean(per_layer, axis=0), rtol=1e-5, atol=1e-6)


def test_the_config_records_model_and_layer_and_rebuilds_the_set(tiny_model, monkeypatch):
    monkeypatch.chdir(str(tiny_model) + "/..")
    fs = get_feature_set("hf:tiny-wav2vec2", layer="1")
    config = fs.to_config()
    assert config == {"name": "hf", "version": 1,
                      "params": {"model": tiny_model, "layer": 1, "sample_rate": SR}}
    assert get_feature_set(config) == fs
    np.testing.assert_array_equal(get_feature_set(config).transform(_wave(3)),
                                  fs.transform(_wave(3)))


def test_extract_features_writes_embeddings_to_the_store(tiny_model, manifest, tmp_path):
    out = tmp_path / "hf.parquet"
    table = extract_features(manifest, f"hf:{tiny_model}", out=out)
    assert not table.failures and table.X.shape == (len(manifest), HIDDEN)
    fs = get_feature_set(f"hf:{tiny_model}")
    for row, path in zip(table.X, manifest["path"], strict=True):
        # The store computes on one thread, torch here on several: float32 sums in another order.
        np.testing.assert_allclose(row, fs.extract(path), rtol=1e-5, atol=1e-6)
    stored = read_features(out)
    np.testing.assert_array_equal(stored.X, table.X)
    assert stored.feature_set == fs
    again = extract_features(manifest, f"hf:{tiny_model}", out=out)
    assert (again.computed, again.reused) == (0, len(manifest))
    other_layer = extract_features(manifest, get_feature_set(f"hf:{tiny_model}", layer=0),
                                   out=out)
    assert other_layer.computed == len(manifest)


def test_a_model_absent_offline_is_one_clear_line_without_network(monkeypatch):
    attempts = []

    def no_network(self, address):
        attempts.append(address)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(FeatureError) as caught:
        get_feature_set("hf:nobody/no-such-encoder-for-sera")
    message = str(caught.value)
    assert message.startswith("hf:nobody/no-such-encoder-for-sera: neither a local folder nor "
                              "in the Hugging Face cache")
    assert "\n" not in message
    assert attempts == []


def test_bad_layers_and_empty_names_are_refused(tiny_model):
    with pytest.raises(FeatureError, match=f"layer must be 'mean' or 0 to {LAYERS}, not 3"):
        get_feature_set(f"hf:{tiny_model}", layer=3)
    with pytest.raises(FeatureError, match="layer must be 'mean' or 0 to 2, not 'last'"):
        get_feature_set(f"hf:{tiny_model}", layer="last")
    with pytest.raises(FeatureError, match="needs a model id or a local path"):
        get_feature_set("hf:")


def test_without_torch_the_set_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(FeatureError, match=r"needs torch and transformers \(pip install"):
        get_feature_set("hf:some/model-not-loaded-before")


def test_a_classical_head_trains_on_the_embeddings(tiny_model, tmp_path):
    from sera.recipes import Recipe
    from sera.train import train

    rows = []
    for i in range(12):
        path = tmp_path / f"u{i}.wav"
        # The two classes differ in pitch, so the head has something to learn.
        sf.write(path, _wave(10 * (i % 2) + i // 2, 0.6), SR, subtype="PCM_16")
        rows.append({"path": str(path), "corpus": "test", "speaker": f"test-{i % 3}",
                     "gender": "female", "emotion": ("happy", "sad")[i % 2]})
    manifest = pd.DataFrame(rows)
    recipe = Recipe(model="logreg", features=f"hf:{tiny_model}", adapt="none")
    fitted = train(manifest, recipe, split="none").fitted
    assert fitted.recipe.feature_set == get_feature_set(f"hf:{tiny_model}")
    table = extract_features(manifest, fitted.recipe.feature_set)
    proba = fitted.predict_proba(table.X, table.frame)
    assert proba.shape == (12, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
