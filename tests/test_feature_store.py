"""The Parquet feature store: column contract, failures, caching, augmentation, resume, CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import soundfile as sf

import sera
from sera.errors import FeatureError
from sera.features import extract_features, get_feature_set, read_features, store
from sera.features import sets as feature_sets

SR = 16000
N_FILES = 5


class Gain:
    """A stand-in for :class:`sera.augment.Augmenter`: one kind, a gain change."""

    kinds = ("quiet",)

    def __init__(self, factor: float = 0.5):
        self.factor = factor
        self.keys: list[str] = []

    @property
    def params(self) -> dict:
        return {"factor": self.factor}

    def augment(self, y, sr, kind, key):
        assert kind == "quiet"
        self.keys.append(key)
        return self.factor * y


class Unnamed(Gain):
    """An augmenter that does not describe its settings (no ``params``)."""

    params = None


def _clip(index: int) -> np.ndarray:
    t = np.arange(int(1.2 * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * (150 + 40 * index) * t)).astype(np.float32)


def _corpus(folder, n: int = N_FILES) -> pd.DataFrame:
    folder.mkdir(exist_ok=True)
    rows = []
    for i in range(n):
        path = folder / f"clip{i}.wav"
        sf.write(path, _clip(i), SR, subtype="PCM_16")
        rows.append({"path": str(path), "corpus": "test", "speaker": f"test-{i % 2}",
                     "gender": "female", "emotion": "happy" if i % 2 else "sad",
                     "intensity": None, "text": None})
    return pd.DataFrame(rows)


@pytest.fixture
def manifest(tmp_path):
    return _corpus(tmp_path / "corpus")


@pytest.fixture
def count_transforms(monkeypatch):
    """Counts calls of the seed set's transform in this process."""
    calls = []
    original = feature_sets.SeedFeatures.transform

    def counted(self, y):
        calls.append(len(y))
        return original(self, y)

    monkeypatch.setattr(feature_sets.SeedFeatures, "transform", counted)
    return calls


def test_columns_follow_the_store_contract(manifest, tmp_path):
    out = tmp_path / "features.parquet"
    table = extract_features(manifest, "seed", out=out)
    seed = get_feature_set("seed")
    frame = table.frame
    assert list(frame.columns) == [*store.ROW_COLUMNS, *seed.names]
    assert list(frame.columns[:7]) == ["path", "corpus", "speaker", "gender", "emotion",
                                      "intensity", "text"]
    assert all(dtype == np.float32 for dtype in frame.dtypes.iloc[len(store.ROW_COLUMNS):])
    assert frame["path"].tolist() == manifest["path"].tolist()
    assert (frame["augment"] == "none").all()
    assert frame["emotion"].tolist() == manifest["emotion"].tolist()
    assert table.X.shape == (N_FILES, 2376) and table.X.dtype == np.float32
    np.testing.assert_array_equal(table.X[2], seed.extract(manifest["path"][2]))
    assert table.failures == [] and table.computed == N_FILES and table.reused == 0

    meta = json.loads(pq.read_schema(out).metadata[b"sera"])
    assert meta["feature_set"] == seed.to_config()
    assert meta["sera_version"] == sera.__version__
    assert meta["complete"] is True and meta["shape"] == [2376]
    on_disk = read_features(out)
    pd.testing.assert_frame_equal(on_disk.frame, frame)
    assert on_disk.feature_set == seed
    assert [p.name for p in tmp_path.iterdir()] == ["corpus", "features.parquet"]  # no temp


def test_relative_paths_become_absolute(manifest, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = manifest.assign(path=[os.path.relpath(p) for p in manifest["path"]])
    table = extract_features(relative, "seed")
    assert table.frame["path"].tolist() == manifest["path"].tolist()


def test_bad_files_are_failures_and_the_batch_goes_on(manifest, tmp_path):
    not_audio = tmp_path / "corpus" / "notes.wav"
    not_audio.write_text("this is not audio")
    empty = tmp_path / "corpus" / "empty.wav"
    empty.write_bytes(b"")
    bad = pd.DataFrame({"path": [str(not_audio), str(tmp_path / "missing.wav"), str(empty)]})
    table = extract_features(pd.concat([bad, manifest], ignore_index=True), "seed",
                             out=tmp_path / "f.parquet")
    assert len(table.frame) == N_FILES
    problems = dict(table.failures)
    assert list(problems) == [str(not_audio), str(tmp_path / "missing.wav"), str(empty)]
    assert "not a readable audio file" in problems[str(not_audio)]
    assert problems[str(tmp_path / "missing.wav")] == "no such file"
    assert "empty" in problems[str(empty)]
    assert all("\n" not in problem for problem in problems.values())
    assert read_features(tmp_path / "f.parquet").failures == table.failures


def test_second_run_reuses_every_row(manifest, tmp_path, count_transforms):
    out = tmp_path / "f.parquet"
    first = extract_features(manifest, "seed", out=out)
    assert len(count_transforms) == N_FILES
    second = extract_features(manifest, "seed", out=out)
    assert len(count_transforms) == N_FILES  # nothing recomputed
    assert (second.computed, second.reused) == (0, N_FILES)
    pd.testing.assert_frame_equal(second.frame, first.frame)


def test_a_changed_file_or_config_is_recomputed(manifest, tmp_path, count_transforms):
    out = tmp_path / "f.parquet"
    extract_features(manifest, "seed", out=out)
    sf.write(manifest["path"][1], 0.5 * _clip(9), SR, subtype="PCM_16")
    again = extract_features(manifest, "seed", out=out)
    assert (again.computed, again.reused) == (1, N_FILES - 1)
    np.testing.assert_array_equal(again.X[1],
                                  get_feature_set("seed").extract(manifest["path"][1]))
    other = extract_features(manifest, get_feature_set("seed", offset=0.1), out=out)
    assert (other.computed, other.reused) == (N_FILES, 0)
    assert read_features(out).meta["feature_set"]["params"]["offset"] == 0.1


def test_augmented_copies_follow_their_originals(manifest, tmp_path):
    gain = Gain()
    table = extract_features(manifest, "seed", augment=gain, out=tmp_path / "f.parquet")
    frame = table.frame
    assert frame["augment"].tolist() == ["none", "quiet"] * N_FILES
    assert frame["path"].tolist() == [p for p in manifest["path"] for _ in range(2)]
    assert gain.keys == manifest["path"].tolist()  # keyed by path: deterministic
    seed = get_feature_set("seed")
    y = seed.load(manifest["path"][3])
    np.testing.assert_array_equal(table.X[7], seed.transform(0.5 * y))
    assert not np.array_equal(table.X[7], table.X[6])
    assert table.meta["augment"] == {"kinds": ["quiet"], "params": {"factor": 0.5}}


def test_augmented_rows_are_reused_only_with_the_same_settings(manifest, tmp_path,
                                                               count_transforms):
    out = tmp_path / "f.parquet"
    extract_features(manifest, "seed", augment=Gain(), out=out)
    same = extract_features(manifest, "seed", augment=Gain(), out=out)
    assert (same.computed, same.reused) == (0, 2 * N_FILES)
    louder = extract_features(manifest, "seed", augment=Gain(0.7), out=out)
    assert (louder.computed, louder.reused) == (N_FILES, N_FILES)
    unnamed = extract_features(manifest, "seed", augment=Unnamed(0.7), out=out)
    assert (unnamed.computed, unnamed.reused) == (N_FILES, N_FILES)
    plain = extract_features(manifest, "seed", out=out)
    assert (plain.computed, plain.reused) == (0, N_FILES)
    assert len(count_transforms) == 2 * N_FILES + 2 * N_FILES


def test_non_finite_features_are_a_failure(manifest, tmp_path):
    class Broken(Gain):
        def augment(self, y, sr, kind, key):
            return np.full_like(y, np.nan)

    table = extract_features(manifest.iloc[:2], "seed", augment=Broken())
    assert len(table.frame) == 0
    assert len(table.failures) == 2
    for _, problem in table.failures:
        assert re.fullmatch(r"\d+ features of the quiet copy are NaN or infinite", problem)


def test_an_interrupted_run_keeps_its_rows_and_resumes(manifest, tmp_path, monkeypatch):
    class Interrupting(Gain):
        def augment(self, y, sr, kind, key):
            if len(self.keys) == 2:
                raise KeyboardInterrupt
            return super().augment(y, sr, kind, key)

    out = tmp_path / "f.parquet"
    with pytest.raises(KeyboardInterrupt):
        extract_features(manifest, "seed", augment=Interrupting(), out=out)
    partial = read_features(out)
    assert partial.meta["complete"] is False
    assert partial.frame["path"].tolist() == [p for p in manifest["path"][:2] for _ in range(2)]
    resumed = extract_features(manifest, "seed", augment=Gain(), out=out)
    assert (resumed.computed, resumed.reused) == (2 * N_FILES - 4, 4)
    assert resumed.meta["complete"] is True
    fresh = extract_features(manifest, "seed", augment=Gain())
    np.testing.assert_array_equal(resumed.X, fresh.X)


def test_a_killed_run_leaves_a_valid_store_that_resumes(tmp_path):
    manifest = _corpus(tmp_path / "corpus", n=12)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    out = tmp_path / "f.parquet"
    script = textwrap.dedent("""
        import sys, time
        import pandas as pd
        from sera.features import sets, store
        store.CHECKPOINT_SECONDS = 0.0
        transform = sets.SeedFeatures.transform
        def slow(self, y):
            time.sleep(0.25)
            return transform(self, y)
        sets.SeedFeatures.transform = slow
        store.extract_features(pd.read_csv(sys.argv[1]), "seed", out=sys.argv[2])
    """)
    child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "manifest.csv"),
                              str(out)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if out.exists() and len(read_features(out).frame) >= 3:
                break
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    partial = read_features(out)
    assert 3 <= len(partial.frame) < 12 and partial.meta["complete"] is False
    resumed = extract_features(manifest, "seed", out=out)
    assert resumed.reused == len(partial.frame) and resumed.computed == 12 - resumed.reused
    np.testing.assert_array_equal(resumed.X, extract_features(manifest, "seed").X)


def test_parallel_extraction_matches_serial(manifest):
    serial = extract_features(manifest, "seed", augment=Gain())
    parallel = extract_features(manifest, "seed", augment=Gain(), workers=2)
    pd.testing.assert_frame_equal(parallel.frame, serial.frame)


def test_refuses_to_overwrite_a_file_that_is_not_a_store(manifest, tmp_path):
    out = tmp_path / "precious.parquet"
    pd.DataFrame({"a": [1.0]}).to_parquet(out)
    before = out.read_bytes()
    with pytest.raises(FeatureError, match="not a sera feature store"):
        extract_features(manifest, "seed", out=out)
    assert out.read_bytes() == before
    text = tmp_path / "notes.parquet"
    text.write_text("hello")
    with pytest.raises(FeatureError, match="not a readable Parquet file"):
        read_features(text)


def test_a_manifest_needs_paths():
    with pytest.raises(FeatureError, match="no 'path' column"):
        extract_features(pd.DataFrame({"file": ["a.wav"]}), "seed")


def test_cli_extracts_a_corpus_and_fails_on_bad_files(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import sera.cli.features  # noqa: F401  registers the command
    from sera.cli._app import app

    corpus = tmp_path / "corpus"
    manifest = _corpus(corpus, n=3)
    (corpus / "broken.wav").write_text("not audio")
    rows = manifest.assign(path=[os.path.basename(p) for p in manifest["path"]])
    rows = pd.concat([rows, pd.DataFrame([{"path": "broken.wav", "emotion": "sad"}])])
    rows.to_csv(corpus / "manifest.csv", index=False)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["features", str(corpus), "--set", "seed"])
    assert result.exit_code == 1
    assert "broken.wav" in result.output
    table = read_features(tmp_path / "features-seed.parquet")
    assert len(table.frame) == 3 and len(table.failures) == 1

    good = tmp_path / "good"
    _corpus(good, n=2).assign(path=lambda m: m["path"].map(os.path.basename)).to_csv(
        good / "manifest.csv", index=False)
    result = CliRunner().invoke(app, ["features", str(good), "--set", "seed", "--out",
                                      str(tmp_path / "good.parquet")])
    assert result.exit_code == 0, result.output
    assert "2 computed" in result.output
    assert len(read_features(tmp_path / "good.parquet").frame) == 2
