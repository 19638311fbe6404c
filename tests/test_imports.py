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

        manifest = synthesize(tmp_path_factory.mktemp("synth"), speakers=1, per_emotion=1)
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
        import numpy as np
        from sera.serve.app import create_app
        app = create_app(None, workers=1)
        from sera.infer import load
        model = load()
        model.predict(np.sin(np.arange(32000) / 7).astype(np.float32), sample_rate=16000)
    """)
    found = imported_packages(code)
    assert not found & set(FORBIDDEN), sorted(found & set(FORBIDDEN))
