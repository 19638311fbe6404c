"""Feature extraction on a Dask cluster: same rows as the process pool, one store, resume, CLI.

One LocalCluster (2 single-threaded worker processes) serves the whole module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sera.augment import Augmenter
from sera.features import extract_features, read_features

distributed = pytest.importorskip("distributed")

SR = 16000


def _corpus(folder, n: int) -> pd.DataFrame:
    """``n`` short tones of different pitch and length, as a manifest."""
    folder.mkdir(exist_ok=True)
    rows = []
    for i in range(n):
        t = np.arange(int((1.0 + 0.1 * i) * SR)) / SR
        y = 0.3 * np.sin(2 * np.pi * (120 + 35 * i) * t) * np.hanning(t.size)
        path = folder / f"clip{i}.wav"
        sf.write(path, y.astype(np.float32), SR, subtype="PCM_16")
        rows.append({"path": str(path), "corpus": "test", "speaker": f"test-{i % 3}",
                     "gender": "male", "emotion": "angry" if i % 2 else "sad"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def scheduler():
    """The address of a LocalCluster shared by the module's tests."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask") / "corpus"
    manifest = _corpus(folder, n=10)
    (folder / "broken.wav").write_text("not audio")
    broken = pd.DataFrame([{"path": str(folder / "broken.wav"), "emotion": "sad"}])
    return pd.concat([manifest, broken], ignore_index=True)


def test_dask_gives_the_process_pools_rows(corpus, scheduler):
    augment = Augmenter(kinds=("noise", "shift"), seed=3)
    pool = extract_features(corpus, "stats", augment=augment, workers=2)
    on_dask = extract_features(corpus, "stats", augment=augment, dask=scheduler)
    pd.testing.assert_frame_equal(on_dask.frame, pool.frame)
    np.testing.assert_array_equal(on_dask.X, pool.X)
    assert len(on_dask.frame) == 3 * (len(corpus) - 1)
    assert on_dask.failures == pool.failures
    assert [path for path, _ in on_dask.failures] == [corpus["path"].iloc[-1]]


def test_the_client_writes_one_store_that_resumes(corpus, scheduler, tmp_path):
    out = tmp_path / "seed.parquet"
    first = extract_features(corpus.iloc[:4], "seed", out=out)
    resumed = extract_features(corpus, "seed", out=out, dask=scheduler)
    assert (resumed.reused, resumed.computed) == (4, len(corpus) - 1 - 4)
    np.testing.assert_array_equal(resumed.X[:4], first.X)
    stored = read_features(out)
    assert stored.meta["complete"] is True
    np.testing.assert_array_equal(stored.X, resumed.X)
    assert [p for p, _ in stored.failures] == [corpus["path"].iloc[-1]]
    # Nothing temporary is left beside the store: the client wrote it, atomically.
    assert sorted(os.listdir(tmp_path)) == ["seed.parquet"]
    again = extract_features(corpus, "seed", out=out, dask=scheduler)
    assert (again.reused, again.computed) == (len(corpus) - 1, 0)


def test_tasks_are_bounded_and_every_file_comes_back(corpus, scheduler, monkeypatch):
    from sera.features import executors

    # One file per task and one task in flight per thread: many more tasks than the window.
    monkeypatch.setattr(executors, "TASK_FILES", 1)
    monkeypatch.setattr(executors, "DASK_TASKS_PER_THREAD", 1)
    table = extract_features(corpus, "seed", dask=scheduler)
    serial = extract_features(corpus, "seed")
    pd.testing.assert_frame_equal(table.frame, serial.frame)


def test_cli_runs_on_a_cluster(corpus, scheduler, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import sera.cli.features  # noqa: F401  registers the command
    from sera.cli._app import app

    corpus.iloc[:-1].to_csv(tmp_path / "manifest.csv", index=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["features", str(tmp_path / "manifest.csv"), "--set",
                                      "seed", "--dask", scheduler])
    assert result.exit_code == 0, result.output
    stored = read_features(tmp_path / "features-seed.parquet")
    np.testing.assert_array_equal(
        stored.X, extract_features(corpus.iloc[:-1], "seed").X)


def test_local_starts_and_closes_its_own_cluster():
    from sera.scale import client_for

    with client_for("local") as client:
        assert sorted(client.nthreads().values()) == [1, 1]
        cluster = client.cluster
    assert client.status == "closed"
    assert cluster.status.name == "closed"


def test_an_unreachable_scheduler_is_one_line(corpus, monkeypatch):
    from sera import scale
    from sera.errors import DaskError

    monkeypatch.setattr(scale, "CONNECT_TIMEOUT", 1.0)
    with pytest.raises(DaskError, match=r"cannot reach the Dask scheduler at "
                                              r"'tcp://127\.0\.0\.1:9'") as caught:
        extract_features(corpus, "seed", dask="tcp://127.0.0.1:9")
    assert "\n" not in str(caught.value)


def test_the_process_pool_never_imports_dask(corpus, tmp_path):
    manifest = tmp_path / "manifest.csv"
    corpus.iloc[:4].to_csv(manifest, index=False)
    script = textwrap.dedent("""
        import sys
        import pandas as pd
        import sera.features
        table = sera.features.extract_features(pd.read_csv(sys.argv[1]), "seed", workers=2)
        assert len(table.frame) == 4, table.failures
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
    """)
    out = subprocess.run([sys.executable, "-c", script, str(manifest)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_predict_on_a_cluster_equals_predict_here(corpus, scheduler, tmp_path):
    import sera
    from sera.recipes import Recipe
    from sera.train import train

    manifest = corpus.dropna(subset=["speaker"])
    train(manifest, Recipe(model="logreg", features="stats", adapt="none", params={"C": 1.0}),
          split="none", out=tmp_path / "bundle")
    model = sera.load(tmp_path / "bundle")
    paths = list(corpus["path"])
    here, failed_here = model.predict_many(paths, workers=1)
    there, failed_there = model.predict_many(paths, dask=scheduler)
    assert [p.to_dict() for p in there] == [p.to_dict() for p in here]
    assert failed_there == failed_here and len(failed_here) == 1
