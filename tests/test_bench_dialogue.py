"""The dialogue bench's mixes and its selection rule, on a made-up manifest (no audio)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "dialogue.py"))


@pytest.fixture
def manifest():
    rows = [{"path": f"{s}-{e}-{i}.flac", "speaker": s, "emotion": e}
            for s in ("ravdess-13", "ravdess-15") for e in BENCH["EMOTIONS"]
            for i in range(12 if e == "neutral" else 8)]
    return pd.DataFrame(rows)


def test_pairs_are_same_gender_and_the_halves_share_no_speaker():
    pairs = BENCH["same_gender_pairs"]([f"ravdess-{a}" for a in range(13, 19)])
    assert len(pairs) == 6
    assert all(int(a[-2:]) % 2 == int(b[-2:]) % 2 for a, b in pairs)
    # The selection's halves (even and odd places) are the men's pairs and the women's.
    halves = [{s for i in range(start, 6, 2) for s in pairs[i]} for start in (0, 1)]
    assert not halves[0] & halves[1]


@pytest.mark.parametrize("kind", BENCH["KINDS"])
def test_each_mix_has_the_emotions_it_says(manifest, kind):
    rng = np.random.default_rng(0)
    for _ in range(5):
        turns = BENCH["plan"](manifest, "ravdess-13", "ravdess-15", kind, rng)
        by = {s: [t["emotion"] for t in turns if t["speaker"] == s]
              for s in ("ravdess-13", "ravdess-15")}
        assert len({t["path"] for t in turns}) == len(turns)
        shares = {s: e.count("neutral") / len(e) for s, e in by.items()}
        if kind.startswith("mostly neutral"):
            assert all(0.6 <= v <= 0.8 for v in shares.values())
            assert all(2 <= len(set(e)) <= 3 for e in by.values())
        elif kind == "one mood":
            assert all(len(set(e)) == 1 and e[0] != "neutral" for e in by.values())
        elif kind == "one mood and a calm voice":
            assert sorted(len(set(e)) == 1 for e in by.values()) == [False, True]
        elif kind == "balanced":
            assert all(len(set(e)) == 7 for e in by.values())


def test_the_rule_needs_no_loss_anywhere_and_a_gain_on_balanced():
    kinds = BENCH["KINDS"]
    figures = {k: {"none": 0.5, "a": 0.5, "b": 0.5} for k in kinds}
    figures["balanced"].update(a=0.6, b=0.6)
    figures["one mood"]["b"] = 0.49
    assert BENCH["meets_rule"](figures, "a")
    assert not BENCH["meets_rule"](figures, "b")
    assert not BENCH["meets_rule"](figures, "none")
