"""The inference path imports what it uses: predicting, analyzing and serving an ONNX bundle
import no training, plotting, dataframe or scale-out library (``python -X importtime`` in a
fresh process lists every module imported)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

#: Top-level packages the inference path must never import.
FORBIDDEN = ("torch", "librosa", "numba", "sklearn", "pandas", "pyarrow", "matplotlib", "dask",
             "opensmile", "audinterface", "audformat")


def imported_packages(code: str) -> set[str]:
    """Top-level packages imported by running ``code`` in a fresh interpreter."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    names = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "sera" in names     # the parse found the imports at all
    return names


@pytest.fixture(scope="module")
def conversation(tmp_path_factory, request) -> str:
    """Two voiced stretches with a pause: real clips where the data is, else synthetic ones."""
    try:
        data = request.getfixturevalue("ravdess_dir")
        clips = [sf.read(path, dtype="float32")[0]
                 for path in sorted(data.glob("Actor_12/*.flac"))[:2]]
    except pytest.skip.Exception:
        from sera.corpora.synth import synthesize

        manifest = synthesize(tmp_path_factory.mktemp("synth"), num_speakers=1, per_emotion=1)
        clips = [sf.read(path, dtype="float32")[0] for path in manifest["path"][:2]]
    pause = np.zeros(16000, np.float32)
    path = tmp_path_factory.mktemp("imports") / "conversation.wav"
    sf.write(path, np.concatenate([pause, clips[0], pause, clips[1], pause]), 16000)
    return str(path)


@pytest.mark.slow
def test_predict_and_analyze_import_no_heavy_library(conversation):
    code = textwrap.dedent(f"""
        import sys
        from sera.cli import main
        for command in (["predict", {conversation!r}, "--json"],
                        ["analyze", {conversation!r}, "--json"],
                        ["analyze", {conversation!r}, "--srt", "--adapt", "none"]):
            sys.argv = ["sera", *command]
            try:
                main()
            except SystemExit as exit:
                assert not exit.code, exit.code
        import sera
        analysis = sera.load().analyze({conversation!r})
        assert len(analysis) >= 1, "no utterance found: the features never ran"
        import sera.features.smile
        assert "sera._opensmile_lib" in sys.modules   # openSMILE did run
    """)
    found = imported_packages(code)
    assert not found & set(FORBIDDEN), sorted(found & set(FORBIDDEN))


@pytest.mark.slow
def test_serving_imports_no_heavy_library():
    pytest.importorskip("fastapi")
    code = textwrap.dedent("""
        from fastapi.testclient import TestClient
        from sera.serve.app import create_app
        from sera.serve.settings import ServeSettings
        with TestClient(create_app(ServeSettings(workers=1))) as client:   # warm-up, examples
            assert client.get("/v1/health").status_code == 200
    """)
    found = imported_packages(code)
    assert not found & set(FORBIDDEN), sorted(found & set(FORBIDDEN))


# --- portability ------------------------------------------------------------------------------

#: Calls that exist on Linux only (or behave differently elsewhere), never on a default path.
LINUX_ONLY = ("sched_getaffinity", "sched_setaffinity", "os.fork(", "/proc/", "resource.",
              "os.getloadavg", "signal.SIGKILL", "O_DIRECT", "epoll")


def test_the_package_makes_no_linux_only_call():
    from pathlib import Path

    import sera

    offenders = [f"{path.name}: {call}" for path in Path(sera.__file__).parent.rglob("*.py")
                 for call in LINUX_ONLY if call in path.read_text()]
    assert not offenders, offenders


def test_cpu_count_prefers_the_process_count(monkeypatch):
    import os

    from sera.features import executors

    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)
    assert executors.cpu_count() == 3
    monkeypatch.delattr(os, "process_cpu_count")
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert executors.cpu_count() == 1


def test_blas_threads_are_left_alone_by_inference(tmp_path):
    """Predicting and analyzing never change this process's BLAS thread count (a host
    application's threads share it)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import sera

    before = [pool["num_threads"] for pool in threadpoolctl.threadpool_info()]
    model = sera.load()
    t = np.arange(48000) / 16000
    y = (0.5 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    model.predict(y, sample_rate=16000)
    model.analyze(y, sample_rate=16000)
    assert [pool["num_threads"] for pool in threadpoolctl.threadpool_info()] == before


def test_a_command_without_its_extra_names_the_extra(monkeypatch, capsys):
    import typer

    from sera import cli

    def needs_torch():
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(cli, "app", typer.Typer())
    cli.app.command("x")(needs_torch)
    monkeypatch.setattr("sys.argv", ["sera"])
    with pytest.raises(SystemExit) as exit:
        cli.main()
    assert exit.value.code == 1
    assert "pip install sera[train]" in capsys.readouterr().err
