"""What the REST API of ``sera serve`` answers: the pydantic models of its JSON, and the
OpenAPI description of the audio bodies and errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from sera.summary import MOOD_CONFIDENCE

#: Latest time a segment or recording may give, in seconds (about 115 days): far past any
#: recording, and small enough that every format writes it (SubRip's hours overflow at 1e308).
MAX_SECONDS = 1e7

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0.0, le=MAX_SECONDS, allow_inf_nan=False)]

AROUSAL = ("Arousal in [0, 1] (0.5 neither high nor low): the expected circumplex place of the "
           "scores (sera.labels.CIRCUMPLEX); null for labels without one.")
VALENCE = "Valence in [0, 1] (0.5 neither pleasant nor unpleasant), as arousal."


class PredictResponse(BaseModel):
    """The emotion of one clip (an item of ``sera predict --json``)."""

    path: str | None = Field(description="The uploaded file's name (last component only, for "
                                          "display); null for a raw audio body.")
    label: str = Field(description="The most probable emotion.")
    scores: dict[str, Probability] = Field(description="Probability of each label.")
    arousal: Probability | None = Field(None, description=AROUSAL)
    valence: Probability | None = Field(None, description=VALENCE)


class SegmentResponse(BaseModel):
    """One utterance: its span in seconds, its speaker and its emotion."""

    start: Seconds
    end: Seconds
    speaker: str = Field(description="S1, S2, ... in order of first appearance.")
    label: str
    scores: dict[str, Probability]
    arousal: Probability | None = Field(None, description=AROUSAL)
    valence: Probability | None = Field(None, description=VALENCE)


class EmotionFigures(BaseModel):
    """What a speaker (or the whole call) comes to."""

    speaking_time: Seconds
    utterances: int = Field(ge=0)
    dominant_emotion: str | None = Field(description="The emotion of the most speaking time; "
                                                     "null without speech.")
    shares: dict[str, Probability | None] = Field(description="Share of the speaking time per "
                                                              "emotion.")
    mean_arousal: Probability | None = Field(description="Weighted by speaking time.")
    mean_valence: Probability | None = Field(description="Weighted by speaking time.")


class Peak(BaseModel):
    """One of the utterances of highest arousal."""

    start: Seconds
    end: Seconds
    speaker: str
    label: str
    arousal: Probability


class MoodChange(BaseModel):
    """An utterance where its speaker's mood changes."""

    start: Seconds
    end: Seconds
    speaker: str
    from_: str = Field(alias="from", description="The label of the speaker's previous "
                                                 "confident utterance.")
    to: str = Field(description="This utterance's label.")
    probability: Probability = Field(description="Of this utterance's label.")


class Summary(EmotionFigures):
    """The conversation in figures (sera.summary.summarize)."""

    speakers: dict[str, EmotionFigures] = Field(description="Per speaker, in order of first "
                                                            "appearance.")
    peaks: list[Peak] = Field(description="The utterances of highest arousal, highest first.")
    mood_changes: list[MoodChange] = Field(description=f"Confident utterances (label "
                                                       f"probability at least {MOOD_CONFIDENCE}) "
                                                       f"whose label differs from the speaker's "
                                                       f"previous confident one.")


class AnalyzeResponse(BaseModel):
    """Every utterance of a recording (``sera analyze --json``)."""

    path: str | None = Field(description="As for predict.")
    duration: Seconds = Field(description="Length of the recording in seconds.")
    speakers: list[str] = Field(description="The speakers, in order of first appearance.")
    adapt: str = Field(description="The normalisation that ran: speaker (each diarized speaker "
                                   "by their own statistics), recording or none.")
    segments: list[SegmentResponse] = Field(description="In time order; empty when no speech "
                                                        "is found.")
    summary: Summary | None = Field(None, description="Per speaker and for the call: speaking "
                                                      "time, shares, dominant emotion, mean "
                                                      "arousal and valence; arousal peaks and "
                                                      "mood changes. Recomputed from the "
                                                      "segments by /v1/export.")


class Health(BaseModel):
    status: Literal["ok"]
    version: str = Field(description="The sera version serving.")
    model: str = Field(description="The model's name.")
    workers: int = Field(description="Inference threads.")
    queue: int = Field(description="Requests that may wait for a thread.")
    in_flight: int = Field(description="Requests queued or run now (bodies still arriving "
                                       "are not counted).")


class Limits(BaseModel):
    max_upload_mb: float = Field(description="Largest request body, in MiB.")
    max_duration_s: float = Field(description="Longest audio, in seconds.")
    max_export_mb: float = Field(description="Largest /v1/export body, in MiB.")
    max_export_segments: int = Field(description="Most segments in a /v1/export body.")


class Example(BaseModel):
    name: str = Field(description="File name, to fetch from /v1/examples/{name}.")
    title: str = Field(description="What it holds, in a few words.")


class ModelInfo(BaseModel):
    name: str = Field(description="The model's name (e.g. logreg).")
    version: str = Field(description="The sera version serving.")
    bundle_version: str | None = Field(description="The sera version that wrote the bundle.")
    labels: list[str] = Field(description="The labels, in the order of every scores object.")
    colors: dict[str, str] = Field(description="Display colour (CSS hex) of each label.")
    feature_set: str = Field(description="The feature set's name, as the bundle's card gives it "
                                         "(e.g. compare+stats).")
    features: dict[str, Any] = Field(description="The feature set's configuration.")
    metrics: dict[str, Any] = Field(description="Evaluation figures recorded in the bundle.")
    card: str = Field(description="The model card (markdown).")
    card_html: str = Field(description="The model card rendered to HTML (markdown-it-py, raw "
                                       "HTML in the card disabled, so it is safe to show).")
    limits: Limits
    examples: list[Example] = Field(description="Example clips the server offers.")


class ErrorResponse(BaseModel):
    error: str = Field(description="What is wrong, in one line.")


def _error_doc(description: str, **extra) -> dict:
    return {"model": ErrorResponse, "description": description, **extra}


#: The errors every endpoint behind the token may answer.
AUTH_ERRORS = {401: _error_doc("A token is required and missing or wrong.")}

#: The errors of the audio endpoints.
AUDIO_ERRORS = {
    400: _error_doc("Unreadable, silent, too short or too long audio, or a malformed "
                    "multipart body."),
    **AUTH_ERRORS,
    408: _error_doc("The body did not arrive in time."),
    413: _error_doc("The body is over the size limit."),
    415: _error_doc("Not audio in a format sera reads."),
    422: _error_doc("Bad parameters, or no 'file' field."),
    503: _error_doc("Every worker is busy and the queue is full.",
                    headers={"Retry-After": {"description": "Seconds to wait before trying "
                                                            "again.",
                                             "schema": {"type": "integer"}}}),
}

#: The errors of ``/v1/export``.
EXPORT_ERRORS = {
    **AUTH_ERRORS,
    408: _error_doc("The body did not arrive in time."),
    413: _error_doc("The body is over the size limit, or holds too many segments."),
    422: _error_doc("Not an analyze answer."),
    503: AUDIO_ERRORS[503],
}

#: The request body of ``/v1/export``: an analyze answer (read by the endpoint itself, after
#: the token, bounded in size).
EXPORT_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/AnalyzeResponse"}}}}}


def describe(errors: list[dict], skip: int = 0) -> str:
    """pydantic's validation errors as one line: ``where: what; ...`` (at most 500 characters).

    ``skip`` leading parts of each location are left out (FastAPI's ``body``, ``query``).
    """
    problems = [f"{'.'.join(map(str, error['loc'][skip:])) or (error['loc'] or ('body',))[0]}: "
                f"{error['msg']}" for error in errors]
    return "; ".join(problems)[:500]


_BINARY = {"type": "string", "format": "binary"}

#: The request body of the audio endpoints: a form with a ``file`` field, or the audio itself.
AUDIO_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": _BINARY}}},
    "audio/*": {"schema": _BINARY},
    "application/octet-stream": {"schema": _BINARY},
}}}
