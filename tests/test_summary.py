"""Arousal and valence from the label scores (``sera.labels.affect``), and the conversation
summary (``sera.summary``): pure functions, no model."""

from __future__ import annotations

import pytest

import sera
from sera.formats import analysis_from_json, to_json
from sera.labels import CIRCUMPLEX, LABELS, affect
from sera.results import Analysis
from sera.summary import MOOD_CONFIDENCE, emotion_figures, mood_changes, peaks, summarize


def test_a_certain_label_sits_at_its_circumplex_place_mapped_to_zero_one():
    for label, (valence, arousal) in CIRCUMPLEX.items():
        assert affect({label: 1.0}) == pytest.approx(((arousal + 1) / 2, (valence + 1) / 2))
    assert affect({"neutral": 1.0}) == (0.5, 0.5)
    assert set(CIRCUMPLEX) == set(LABELS)


def test_affect_is_the_expectation_of_the_places_under_the_scores():
    scores = {"angry": 0.5, "sad": 0.25, "happy": 0.25}
    valence = 0.5 * -0.51 + 0.25 * -0.63 + 0.25 * 0.76
    arousal = 0.5 * 0.59 + 0.25 * -0.27 + 0.25 * 0.48
    assert affect(scores) == pytest.approx(((arousal + 1) / 2, (valence + 1) / 2))


def test_high_arousal_labels_lie_above_low_ones_and_happy_is_the_pleasant_one():
    arousal = {label: affect({label: 1.0})[0] for label in LABELS}
    valence = {label: affect({label: 1.0})[1] for label in LABELS}
    assert min(arousal[label] for label in ("angry", "fear", "happy", "surprise")) > max(
        arousal["sad"], arousal["neutral"])
    assert valence["happy"] > valence["neutral"] > max(valence["sad"], valence["angry"])


def test_a_restricted_label_set_renormalises_over_its_own_classes():
    # Scores a restricted model gives (already renormalised) and unnormalised ones agree.
    assert affect({"angry": 0.6, "sad": 0.2}) == pytest.approx(affect({"angry": 0.75,
                                                                      "sad": 0.25}))


def test_labels_off_the_circumplex_have_no_affect():
    assert affect({"angry": 0.5, "bored": 0.5}) is None
    prediction = sera.Prediction("bored", {"angry": 0.4, "bored": 0.6})
    assert prediction.arousal is None and prediction.to_dict()["valence"] is None


def test_prediction_and_segment_carry_the_affect_of_their_scores():
    scores = {"happy": 0.7, "neutral": 0.3}
    arousal, valence = affect(scores)
    prediction = sera.Prediction("happy", scores, "x.wav")
    assert (prediction.arousal, prediction.valence) == (arousal, valence)
    assert prediction.to_dict() == {"path": "x.wav", "label": "happy", "scores": scores,
                                    "arousal": round(arousal, 4), "valence": round(valence, 4)}
    segment = sera.Segment(0.0, 1.0, "happy", scores)
    assert segment.to_dict()["arousal"] == round(arousal, 4)


def seg(start, end, speaker, label, p=0.9, arousal=None):
    """A segment as the JSON holds it; the rest of the probability on neutral."""
    scores = {label: p} if label == "neutral" else {label: p, "neutral": round(1 - p, 4)}
    item = sera.Segment(start, end, label, scores, speaker).to_dict()
    if arousal is not None:
        item["arousal"] = arousal
    return item


def test_figures_per_speaker_weigh_by_speaking_time():
    segments = [seg(0, 1, "S1", "sad"), seg(1, 4, "S2", "angry"), seg(4, 6, "S1", "sad")]
    summary = summarize(segments, ("angry", "neutral", "sad"))
    assert summary["speaking_time"] == 6.0 and summary["utterances"] == 3
    assert summary["shares"] == {"angry": 0.5, "neutral": 0.0, "sad": 0.5}
    assert summary["dominant_emotion"] == "angry"     # a tie goes to the label order
    assert list(summary["speakers"]) == ["S1", "S2"]
    assert summary["speakers"]["S1"]["dominant_emotion"] == "sad"
    assert summary["speakers"]["S1"]["speaking_time"] == 3.0
    sad, angry = segments[0]["arousal"], segments[1]["arousal"]
    assert summary["mean_arousal"] == pytest.approx((3 * sad + 3 * angry) / 6, abs=1e-4)
    assert summary["speakers"]["S2"]["mean_arousal"] == angry


def test_no_speech_has_no_dominant_emotion_nor_means():
    figures = emotion_figures([], LABELS)
    assert figures["dominant_emotion"] is None and figures["mean_arousal"] is None
    assert set(figures["shares"].values()) == {None}


def test_peaks_are_the_highest_arousal_first_earlier_on_a_tie():
    segments = [seg(i, i + 1, "S1", "neutral", arousal=a)
                for i, a in enumerate([0.2, 0.9, 0.5, 0.9, 0.7])]
    assert [p["start"] for p in peaks(segments)] == [1, 3, 4]
    assert set(peaks(segments)[0]) == {"start", "end", "speaker", "label", "arousal"}


def test_a_mood_change_is_between_confident_utterances_of_one_speaker():
    low = MOOD_CONFIDENCE - 0.1
    segments = [seg(0, 1, "S1", "neutral"), seg(1, 2, "S2", "angry"),
                seg(2, 3, "S1", "sad", p=low),        # doubtful: not a mood
                seg(3, 4, "S1", "neutral"),           # back to neutral: no change
                seg(4, 5, "S1", "angry"),             # S1 changes (S2's anger does not count)
                seg(5, 6, "S2", "angry")]             # S2 holds its mood
    changes = mood_changes(segments)
    assert changes == [{"start": 4, "end": 5, "speaker": "S1", "from": "neutral", "to": "angry",
                        "probability": 0.9}]


def test_the_json_summary_is_of_the_segments_and_survives_a_read_back():
    analysis = Analysis("x.wav", 10.0, (
        sera.Segment(0.0, 2.0, "angry", {"angry": 0.8, "neutral": 0.2}),
        sera.Segment(2.5, 4.0, "neutral", {"angry": 0.1, "neutral": 0.9}, speaker="S2"),
        sera.Segment(4.5, 6.0, "angry", {"angry": 0.7, "neutral": 0.3}, speaker="S2")))
    doc = to_json(analysis)
    assert doc["summary"] == summarize(doc["segments"], ["angry", "neutral"])
    assert doc["summary"]["peaks"][0]["start"] == 0.0
    assert [c["start"] for c in doc["summary"]["mood_changes"]] == [4.5]
    assert to_json(analysis_from_json(doc)) == doc
