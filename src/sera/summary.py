"""What a conversation comes to: per speaker and for the whole call, the figures a user acts on.

:func:`summarize` is the ``"summary"`` of ``sera analyze --json`` (:func:`sera.formats.to_json`)
and the source of the batch tables (:mod:`sera.batch`), so the two always agree. It reads the
segments as the JSON document holds them (dicts, times to the millisecond, scores to four
decimals), so a document read back gives the same summary as a fresh analysis.

- Per speaker and for the call: speaking time, utterances, the share of speaking time per
  emotion, the dominant emotion (the most speaking time; ties go to the label order) and the
  mean arousal and valence weighted by speaking time.
- ``peaks``: the :data:`PEAKS` utterances of highest arousal, highest first.
- ``mood_changes``: the utterances where a speaker's mood changes. A speaker's utterance is
  *confident* when its label has probability at least :data:`MOOD_CONFIDENCE`; a mood change
  is a confident utterance whose label differs from that of the same speaker's previous
  confident utterance. Comparing confident utterances only keeps one doubtful utterance from
  counting as two changes (there and back).
"""

from __future__ import annotations

from collections.abc import Sequence

#: Per-segment affect values averaged into the figures when the segments carry them.
AFFECT = ("arousal", "valence")

#: Utterances of highest arousal a summary lists.
PEAKS = 3

#: Least probability of an utterance's label for it to show its speaker's mood (a mood change
#: is between two such utterances). The scores are calibrated, so such a label is right at
#: least half the time on unseen speakers (one in seven by chance).
MOOD_CONFIDENCE = 0.5


def emotion_figures(segments: Sequence[dict], labels: Sequence[str]) -> dict:
    """Utterances, speaking time, dominant emotion, share of speaking time per emotion and the
    mean (time-weighted) arousal and valence of some segments.

    Parameters
    ----------
    segments : sequence of dict
        Items of an analyze JSON document (``start``, ``end``, ``label``; ``arousal`` and
        ``valence`` when the model gives them).
    labels : sequence of str
        The model's labels, in its order: one share each.

    Returns
    -------
    dict
        ``{"speaking_time", "utterances", "dominant_emotion", "shares": {label: share},
        "mean_arousal", "mean_valence"}``; the dominant emotion, shares and means are ``None``
        without speech (means also when no segment carries the value).
    """
    seconds = dict.fromkeys(labels, 0.0)
    for segment in segments:
        seconds[segment["label"]] = (seconds.get(segment["label"], 0.0)
                                     + segment["end"] - segment["start"])
    total = sum(seconds.values())
    figures = {"speaking_time": round(total, 3), "utterances": len(segments),
               # Ties go to the model's label order.
               "dominant_emotion": max(labels, key=seconds.__getitem__) if total > 0 else None,
               "shares": {label: round(seconds[label] / total, 4) if total > 0 else None
                          for label in labels}}
    for key in AFFECT:
        weighted = [(segment[key], segment["end"] - segment["start"]) for segment in segments
                    if segment.get(key) is not None]
        weight = sum(w for _, w in weighted)
        figures[f"mean_{key}"] = (round(sum(v * w for v, w in weighted) / weight, 4)
                                  if weight > 0 else None)
    return figures


def peaks(segments: Sequence[dict], most: int = PEAKS) -> list[dict]:
    """The ``most`` utterances of highest arousal, highest first (earlier first on a tie):
    ``[{"start", "end", "speaker", "label", "arousal"}]``."""
    aroused = [s for s in segments if s.get("arousal") is not None]
    ranked = sorted(aroused, key=lambda s: (-s["arousal"], s["start"]))[:most]
    return [{key: s[key] for key in ("start", "end", "speaker", "label", "arousal")}
            for s in ranked]


def mood_changes(segments: Sequence[dict], confidence: float = MOOD_CONFIDENCE) -> list[dict]:
    """The utterances where a speaker's mood changes (see the module notes), in time order:
    ``[{"start", "end", "speaker", "from", "to", "probability"}]`` (``probability``: of the
    new label)."""
    last: dict[str, str] = {}
    changes = []
    for segment in segments:
        probability = segment["scores"][segment["label"]]
        if probability < confidence:
            continue
        before = last.get(segment["speaker"])
        if before is not None and before != segment["label"]:
            changes.append({"start": segment["start"], "end": segment["end"],
                            "speaker": segment["speaker"], "from": before,
                            "to": segment["label"], "probability": probability})
        last[segment["speaker"]] = segment["label"]
    return changes


def summarize(segments: Sequence[dict], labels: Sequence[str]) -> dict:
    """The summary of a conversation: :func:`emotion_figures` of the call, then
    ``"speakers": {speaker: figures}`` in order of first appearance, ``"peaks"`` and
    ``"mood_changes"``.

    Parameters
    ----------
    segments : sequence of dict
        The ``segments`` of an analyze JSON document, in time order.
    labels : sequence of str
        The model's labels, in its order.
    """
    speakers = list(dict.fromkeys(segment["speaker"] for segment in segments))
    return {**emotion_figures(segments, labels),
            "speakers": {speaker: emotion_figures([s for s in segments
                                                   if s["speaker"] == speaker], labels)
                         for speaker in speakers},
            "peaks": peaks(segments), "mood_changes": mood_changes(segments)}
