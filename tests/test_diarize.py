"""Diarization on real speech: dialogues built from RAVDESS and nEMO clips, one and two voices,
a change of speaker without a pause, the streaming variant, and speakers in every output.

Voices are compared in a speaker space fitted here on RAVDESS actors 01-10 only; the dialogues
use actors 11-18 and nEMO's, so no voice under test shaped the space.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sera.speaker import diarize as D
from sera.speaker.encoder import embed_file

SR = 16000


def clip(root, actor: int, emotion: int, statement: int = 1, repetition: int = 1) -> str:
    intensity = 1 if emotion == 1 else 2
    return str(root / f"Actor_{actor:02d}" / f"03-01-{emotion:02d}-{intensity:02d}-"
                      f"{statement:02d}-{repetition:02d}-{actor:02d}.flac")


def speech(path: str) -> np.ndarray:
    from sera.audio import load
    from sera.segment import segment

    y = load(path, SR)
    found = segment(y, SR)
    if not found:  # a quiet clip the VAD misses: its whole
        return y
    return y[int(found[0].start * SR):int(found[-1].end * SR)]


@pytest.fixture(scope="module")
def space(ravdess_dir):
    """Speaker space fitted on every fourth clip of actors 01-10."""
    paths = [p for a in range(1, 11) for p in sorted((ravdess_dir / f"Actor_{a:02d}")
                                                     .glob("*.flac"))[::4]]
    embeddings = np.stack([embed_file(p) for p in paths])
    return D.SpeakerSpace.fit(embeddings, [p.parent.name for p in paths])


@pytest.fixture(autouse=True)
def held_out_space(space, monkeypatch):
    monkeypatch.setattr(D, "default_space", lambda: space)


def dialogue(root, a: int, b: int, emotions=(1, 3, 4, 5, 6, 8)) -> tuple[list, list[str]]:
    """``(audio, start)`` per turn, alternating actors ``a`` and ``b`` (0.5 s pauses), and the
    true speaker of each."""
    turns, truth, t = [], [], 0.0
    for k, emotion in enumerate(emotions):
        for actor in (a, b):
            y = speech(clip(root, actor, emotion, statement=1 + k % 2))
            t += 0.5
            turns.append((y, t))
            truth.append(f"actor {actor}")
            t += y.shape[0] / SR
    return turns, truth


def agreement(found: list[str], truth: list[str]) -> float:
    """Share of turns whose speaker matches under the best one-to-one naming."""
    import itertools

    names, true = sorted(set(found)), sorted(set(truth))
    best = 0.0
    for perm in itertools.permutations(names, min(len(names), len(true))):
        mapping = dict(zip(perm, true, strict=False))
        best = max(best, np.mean([mapping.get(f) == t for f, t in zip(found, truth, strict=True)]))
    return float(best)


def whole_speakers(turns) -> list[str]:
    assert all(len(t) == 1 for t in turns), "no utterance here holds two voices"
    return [t[0][1] for t in turns]


@pytest.mark.parametrize("a, b", [(11, 12), (13, 15), (17, 18)])
def test_two_speakers_of_a_dialogue(ravdess_dir, a, b):
    """A man and a woman, two men, a man and a woman: two speakers, each turn to its own, named
    in order of first appearance."""
    turns, truth = dialogue(ravdess_dir, a, b)
    found = whole_speakers(D.diarize(D.embed_utterances(turns)))
    assert found[:2] == ["S1", "S2"]
    assert sorted(set(found)) == ["S1", "S2"]
    assert agreement(found, truth) >= 0.9


def test_a_given_number_of_speakers(ravdess_dir):
    turns, truth = dialogue(ravdess_dir, 11, 12)
    embedded = D.embed_utterances(turns)
    assert set(whole_speakers(D.diarize(embedded, num_speakers=1))) == {"S1"}
    assert agreement(whole_speakers(D.diarize(embedded, num_speakers=2)), truth) >= 0.9


def meeting(root, actors, emotions=(1, 3, 4, 5, 6, 8)) -> tuple[list, list[str]]:
    """``(audio, start)`` per turn, the actors speaking in turn (0.5 s pauses), each once per
    emotion, and the true speaker of each turn."""
    turns, truth, t = [], [], 0.0
    for k, emotion in enumerate(emotions):
        for actor in actors:
            y = speech(clip(root, actor, emotion, statement=1 + k % 2))
            t += 0.5
            turns.append((y, t))
            truth.append(f"actor {actor}")
            t += y.shape[0] / SR
    return turns, truth


#: Meetings of three held-out actors (both sexes, and one of men only) and of four.
THREE = [(11, 14, 18), (12, 13, 15), (13, 15, 17)]
FOUR = [(11, 12, 15, 16), (13, 14, 17, 18)]


def bounded_and_given(root, actors) -> tuple[list[str], list[str], list[str]]:
    """The speakers of a meeting's turns found within 3-5, those with the count given, and
    the truth."""
    turns, truth = meeting(root, actors)
    embedded = D.embed_utterances(turns)
    found = whole_speakers(D.diarize(embedded, min_speakers=3, max_speakers=5))
    given = whole_speakers(D.diarize(embedded, num_speakers=len(actors)))
    print(f"\nactors {actors}: {len(set(found))} speakers found in 3-5, attribution "
          f"{agreement(found, truth):.3f}; count given: {agreement(given, truth):.3f}")
    return found, given, truth


@pytest.mark.parametrize("actors", THREE)
def test_a_meeting_of_three_told_three_to_five_is_counted_and_attributed(ravdess_dir, actors):
    """The count found within bounds is the nearest bound to the unbounded rule's (which
    tells one voice from two, not three from four), so three of 3-5 are counted right and
    attributed like a given count; named in order of first appearance."""
    found, given, truth = bounded_and_given(ravdess_dir, actors)
    assert found == given
    assert list(dict.fromkeys(found)) == ["S1", "S2", "S3"]
    assert agreement(found, truth) >= 0.85


@pytest.mark.parametrize("actors", FOUR)
def test_a_meeting_of_four_is_attributed_when_its_count_is_given(ravdess_dir, actors):
    found, given, truth = bounded_and_given(ravdess_dir, actors)
    assert 3 <= len(set(found)) <= 5
    assert agreement(given, truth) >= 0.8


@pytest.mark.xfail(strict=True, reason="known limit (docs/guide/conversations.md, Speakers): "
                                       "within 3-5 a meeting of four acted voices is counted "
                                       "three (the bound nearest to the two the unbounded rule "
                                       "finds)")
@pytest.mark.parametrize("actors", FOUR)
def test_a_meeting_of_four_told_three_to_five_is_counted_four(ravdess_dir, actors):
    found, _, _ = bounded_and_given(ravdess_dir, actors)
    assert len(set(found)) == 4


def test_bounds_replace_a_count_outside_them_by_the_nearest(ravdess_dir):
    turns, truth = dialogue(ravdess_dir, 11, 12)
    embedded = D.embed_utterances(turns)
    assert set(whole_speakers(D.diarize(embedded, max_speakers=1))) == {"S1"}
    assert whole_speakers(D.diarize(embedded, min_speakers=1, max_speakers=2)) == \
        whole_speakers(D.diarize(embedded))
    assert len(set(whole_speakers(D.diarize(embedded, min_speakers=3)))) == 3


def monologue(ravdess_dir, speaker: str, emotions: tuple[str, ...], per_emotion: int) -> list:
    samples = ravdess_dir.parent / "nemo16k" / "samples"
    if not samples.is_dir():
        pytest.skip(f"nEMO not found at {samples}")
    turns, t = [], 0.0
    for emotion in emotions:
        for n in range(1, per_emotion + 1):
            y = speech(str(samples / f"{speaker}_{emotion}_{n}.flac"))
            turns.append((y, t))
            t += y.shape[0] / SR + 0.5
    return turns


def test_one_clip_is_one_speaker(ravdess_dir):
    import sera

    analysis = sera.load().analyze(clip(ravdess_dir, 11, 5))
    assert analysis.speakers == ["S1"] and len(analysis) == 1


@pytest.mark.xfail(strict=True, reason="known limit (docs/guide/conversations.md, Speakers): "
                                       "on acted speech the GE2E speaker space does not tell "
                                       "one voice's sentences from two voices; ten sentences of "
                                       "one nEMO actor are split in two")
@pytest.mark.parametrize("speaker", ["KS0", "EB0"])
def test_one_speaker_of_many_sentences_stays_one(ravdess_dir, speaker):
    """Ten different nEMO sentences of one actor (Polish; no Polish voice shaped the space),
    neutral and sad."""
    turns = monologue(ravdess_dir, speaker, ("neutral", "sadness"), 5)
    assert set(whole_speakers(D.diarize(D.embed_utterances(turns)))) == {"S1"}


def change_found(root, a: int, b: int) -> bool:
    """Whether an utterance in which actor ``b`` follows actor ``a`` without a pause (two
    sentences each), inside a dialogue of the two, is cut into the two voices within one window
    step (0.8 s) of the change."""
    turns, _ = dialogue(root, a, b, emotions=(1, 3, 5))
    first = [speech(clip(root, a, e, 2, 2)) for e in (4, 2)]
    second = [speech(clip(root, b, e, 2, 2)) for e in (4, 2)]
    joined = np.concatenate(first + second)
    change = sum(y.shape[0] for y in first) / SR
    start = turns[-1][1] + turns[-1][0].shape[0] / SR + 0.5
    found = D.diarize(D.embed_utterances([*turns, (joined, start)]))
    speakers = whole_speakers(found[:-1])
    if len(found[-1]) != 2:
        return False
    (left, left_speaker), (right, right_speaker) = found[-1]
    assert left.start == start and left.end == right.start
    return (abs(right.start - start - change) <= D.WINDOW_STEP_SECONDS
            and (left_speaker, right_speaker) == (speakers[0], speakers[1]))


def test_speaker_change_without_a_pause(ravdess_dir):
    """Measured: two of these three pairs are cut right (11-12's first actor's side is taken
    for the second speaker)."""
    found = [change_found(ravdess_dir, a, b) for a, b in ((11, 12), (13, 15), (17, 18))]
    assert sum(found) >= 2, found


def test_one_voice_in_a_long_utterance_is_not_cut(ravdess_dir):
    turns, _ = dialogue(ravdess_dir, 11, 12, emotions=(1, 3, 5))
    joined = np.concatenate([speech(clip(ravdess_dir, 11, e, 2, 2)) for e in (4, 2, 6)])
    found = D.diarize(D.embed_utterances([*turns, (joined, 100.0)]))
    assert len(found[-1]) == 1 and found[-1][0][1] == "S1"


def test_online_assignment_follows_the_dialogue(ravdess_dir):
    turns, truth = dialogue(ravdess_dir, 11, 12)
    online = D.OnlineDiarizer()
    found = [online.turns(e)[0][1] for e in D.embed_utterances(turns)]
    assert found[:2] == ["S1", "S2"]
    assert agreement(found, truth) >= 0.8
    capped = D.OnlineDiarizer(num_speakers=1)
    assert {capped.turns(e)[0][1] for e in D.embed_utterances(turns)} == {"S1"}


def test_cluster_counts_and_names_in_order_of_appearance():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 32))
    X = np.concatenate([c + 0.2 * rng.standard_normal((6, 32)) for c in centres[[2, 0, 1]]])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    labels = D.cluster(X)
    assert labels.tolist() == [0] * 6 + [1] * 6 + [2] * 6
    assert D.cluster(X, num_speakers=2).max() == 1
    assert D.cluster(X, num_speakers=1).tolist() == [0] * 18
    with pytest.raises(ValueError, match="at least 1"):
        D.cluster(X, num_speakers=0)


def test_speaker_space_whitens_within_speaker_spread():
    """After the fit, the pooled within-speaker covariance (before length normalisation) is
    close to the identity in the directions the speakers vary in."""
    rng = np.random.default_rng(1)
    speakers = np.repeat(np.arange(8), 40)
    means = rng.standard_normal((8, 16)) * 3
    spread = np.diag(np.linspace(0.1, 2.0, 16))
    X = means[speakers] + rng.standard_normal((320, 16)) @ spread
    space = D.SpeakerSpace.fit(X, speakers, shrinkage=0.0)
    Z = (X - space.mean) @ space.transform
    R = np.concatenate([Z[speakers == s] - Z[speakers == s].mean(0) for s in range(8)])
    np.testing.assert_allclose(R.T @ R / len(R), np.eye(16), atol=1e-6)


def test_shipped_space_loads():
    space = D.SpeakerSpace.load()
    assert space.mean.shape == (256,) and space.transform.shape == (256, 256)
    np.testing.assert_allclose(space.transform, space.transform.T, atol=1e-4)


# --- speakers in every output ------------------------------------------------------------------

@pytest.fixture(scope="module")
def dialogue_file(ravdess_dir, tmp_path_factory):
    import soundfile as sf

    turns, truth = dialogue(ravdess_dir, 11, 12, emotions=(1, 5, 4, 3))
    end = turns[-1][1] + turns[-1][0].shape[0] / SR + 0.5
    y = np.zeros(int(end * SR), np.float32)
    for audio, start in turns:
        y[int(start * SR):int(start * SR) + audio.shape[0]] = audio
    path = tmp_path_factory.mktemp("dialogue") / "dialogue.flac"
    sf.write(path, y, SR)
    return path, turns, truth


def test_analyze_tells_the_speakers_apart(dialogue_file):
    import sera
    from sera.formats import to_csv, to_json, to_srt

    path, turns, truth = dialogue_file
    model = sera.load()
    analysis = model.analyze(path)
    assert analysis.adapt == "speaker" and analysis.speakers == ["S1", "S2"]
    assert len(analysis) == len(turns)
    assert agreement([s.speaker for s in analysis], truth) >= 0.9
    document = json.loads(json.dumps(to_json(analysis)))
    assert document["speakers"] == ["S1", "S2"]
    assert [s["speaker"] for s in document["segments"]] == [s.speaker for s in analysis]
    assert to_csv(analysis, model.labels).splitlines()[2].split(",")[2] == analysis[1].speaker
    assert f"{analysis[1].speaker}: {analysis[1].label} (" in to_srt(analysis)
    single = model.analyze(path, num_speakers=1)
    assert single.speakers == ["S1"] and [s.start for s in single] == [s.start for s in analysis]


def test_per_speaker_adaptation_uses_each_speakers_statistics(dialogue_file):
    """With adapt="speaker" each speaker's utterances are normalised by their own statistics:
    the same probabilities as predict_proba with the diarized speakers as groups."""
    import sera
    from sera.segment import segment_file

    path, _, _ = dialogue_file
    model = sera.load()
    analysis = model.analyze(path)
    utterances = list(segment_file(path))
    X = np.stack([model.utterance_features(u) for u in utterances])
    expected = model.predict_proba(X, adapt="speaker", groups=[s.speaker for s in analysis])
    got = np.array([[s.scores[label] for label in model.labels] for s in analysis])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    recording = model.analyze(path, adapt="recording")
    assert recording.adapt == "recording"
    assert not np.allclose(got, [[s.scores[label] for label in model.labels]
                                 for s in recording], atol=1e-3)


def test_stream_gives_speakers(dialogue_file):
    import soundfile as sf

    import sera

    path, _, truth = dialogue_file
    y, _ = sf.read(path, dtype="float32")
    segments = list(sera.load().stream(iter(np.array_split(y, 40)), SR))
    assert segments[0].speaker == "S1" and "S2" in {s.speaker for s in segments}
    assert agreement([s.speaker for s in segments], truth) >= 0.75
