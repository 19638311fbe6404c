"""Splits keep speakers (and source utterances) apart; the random split warns that it leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sera.errors import LeakageError, SplitError
from sera.labels import LABELS
from sera.splits import (
    LeakageWarning,
    Split,
    check_disjoint,
    corpus_split,
    loso,
    random_split,
    rows_to_augment,
    speaker_split,
)


def make_manifest(speakers: dict[str, str], corpus: str = "toy", repeats: int = 2) -> pd.DataFrame:
    """Every speaker says every emotion ``repeats`` times."""
    rows = [{"path": f"/data/{corpus}/{speaker}/{emotion}-{r}.wav", "corpus": corpus,
             "speaker": speaker, "gender": gender, "emotion": emotion}
            for speaker, gender in speakers.items() for emotion in LABELS for r in range(repeats)]
    return pd.DataFrame(rows)


TEN = {f"s{i:02d}": ("female" if i % 2 else "male") for i in range(10)}


def speakers_of(manifest, rows):
    return set(manifest["speaker"].iloc[rows])


def test_speaker_split_partitions_rows_with_disjoint_speakers_and_balanced_genders():
    manifest = make_manifest(TEN)
    split = speaker_split(manifest, test_size=0.2, val_size=0.1, seed=0)
    parts = [split.train, split.val, split.test]
    assert sorted(np.concatenate(parts)) == list(range(len(manifest)))
    train, val, test = (speakers_of(manifest, part) for part in parts)
    assert not (train & val or train & test or val & test)
    assert (len(train), len(val), len(test)) == (7, 1, 2)
    assert sorted(TEN[s] for s in test) == ["female", "male"]
    check_disjoint(*split.frames(manifest)[::2])


def test_speaker_split_is_seeded():
    manifest = make_manifest(TEN)
    first = speaker_split(manifest, seed=3)
    again = speaker_split(manifest, seed=3)
    assert np.array_equal(first.test, again.test) and np.array_equal(first.val, again.val)
    test_sets = {frozenset(speakers_of(manifest, speaker_split(manifest, seed=s).test))
                 for s in range(10)}
    assert len(test_sets) > 1


def test_speaker_split_gives_every_part_a_speaker_when_there_are_few():
    manifest = make_manifest({"a": "female", "b": "male", "c": "female"})
    split = speaker_split(manifest, test_size=0.2, val_size=0.1)
    assert [len(speakers_of(manifest, part)) for part in (split.train, split.val, split.test)] \
        == [1, 1, 1]


def test_speaker_split_refuses_what_it_cannot_do():
    with pytest.raises(SplitError, match="2 speaker"):
        speaker_split(make_manifest({"a": "female", "b": "male"}))
    manifest = make_manifest(TEN)
    manifest.loc[3, "speaker"] = None
    with pytest.raises(SplitError, match="no speaker"):
        speaker_split(manifest)


def test_loso_holds_out_each_speaker_once():
    manifest = make_manifest(TEN, repeats=1)
    folds = list(loso(manifest, val_size=0.1, seed=0))
    assert [speaker for speaker, _ in folds] == sorted(TEN)
    for speaker, split in folds:
        assert speakers_of(manifest, split.test) == {speaker}
        assert len(split.test) == (manifest["speaker"] == speaker).sum()
        val = speakers_of(manifest, split.val)
        assert len(val) == 1 and speaker not in val
        assert not speakers_of(manifest, split.train) & (val | {speaker})
        assert len(split.train) + len(split.val) + len(split.test) == len(manifest)
    again = dict(loso(manifest, val_size=0.1, seed=0))
    assert all(np.array_equal(again[s].val, split.val) for s, split in folds)


def test_corpus_split_tests_on_the_held_out_corpus_only():
    manifest = pd.concat([make_manifest(TEN, corpus="one"),
                          make_manifest({"x1": "female", "x2": "male"}, corpus="two")],
                         ignore_index=True)
    split = corpus_split(manifest, "two", val_size=0.1)
    train, val, test = split.frames(manifest)
    assert set(test["corpus"]) == {"two"} and len(test) == (manifest["corpus"] == "two").sum()
    assert set(train["corpus"]) == set(val["corpus"]) == {"one"}
    assert len(set(val["speaker"])) == 1
    check_disjoint(train, val)
    with pytest.raises(SplitError, match="three"):
        corpus_split(manifest, "three")
    with pytest.raises(SplitError, match="nothing left"):
        corpus_split(manifest, ["one", "two"])


def test_random_split_warns_that_it_leaks():
    frame = make_manifest(TEN)
    with pytest.warns(LeakageWarning, match="inflated by leakage"):
        split = random_split(frame, test_size=0.25, val_size=0.1, seed=1)
    assert len(split.test) == round(0.25 * len(frame)) and len(split.val) == round(0.1 * len(frame))
    assert sorted(np.concatenate([split.train, split.val, split.test])) == list(range(len(frame)))
    train, _, test = split.frames(frame)
    with pytest.raises(LeakageError, match="speaker"):
        check_disjoint(train, test)


def test_check_disjoint_names_the_shared_utterance_or_speaker():
    manifest = make_manifest(TEN, repeats=1)
    a, b = manifest[manifest["speaker"] == "s00"], manifest[manifest["speaker"] == "s01"]
    check_disjoint(a, b)
    copy = a.iloc[:1].assign(speaker="s01")  # an augmented copy of an s00 utterance, mislabelled
    with pytest.raises(LeakageError, match="1 path value.*s00/angry-0.wav"):
        check_disjoint(a, pd.concat([b, copy]))
    with pytest.raises(LeakageError, match="speaker value.*s01"):
        check_disjoint(pd.concat([a, b.iloc[:1]]), b, on=("speaker",))


def test_rows_to_augment_are_the_training_rows_and_refuse_a_leaky_split():
    manifest = make_manifest(TEN, repeats=1)
    split = speaker_split(manifest, seed=0)
    rows = rows_to_augment(manifest, split)
    assert list(rows.index) == list(manifest.index[split.train])
    leaky = Split(train=np.arange(0, 20), val=np.arange(20, 25), test=np.arange(15, 40))
    with pytest.raises(LeakageError):
        rows_to_augment(manifest, leaky)
