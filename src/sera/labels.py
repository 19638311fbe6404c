"""The canonical emotion labels and each corpus's mapping onto them.

Every mapping is data: a dict from the corpus's own code to a canonical label,
or to ``None`` where the corpus has an emotion that sera leaves out by default.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The seed's seven emotions, in the order every model, matrix and report uses.
LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

#: RAVDESS file-name field 3. Calm is merged into neutral.
RAVDESS = {
    "01": "neutral",
    "02": "neutral",  # calm
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}

#: RAVDESS file-name field 4.
RAVDESS_INTENSITY = {"01": "normal", "02": "strong"}

#: RAVDESS file-name field 5.
RAVDESS_STATEMENT = {
    "01": "Kids are talking by the door",
    "02": "Dogs are sitting by the door",
}

#: CREMA-D file-name field 3.
CREMAD = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}

#: CREMA-D file-name field 4 (``XX``: unspecified).
CREMAD_INTENSITY = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}

#: TESS emotion words (file names and folder names; both Kaggle spellings).
TESS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprise",
    "pleasant_surprise": "surprise",
    "pleasant_surprised": "surprise",
    "sad": "sad",
}

#: SAVEE file-name prefix.
SAVEE = {
    "a": "angry",
    "d": "disgust",
    "f": "fear",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprise",
}

#: EmoDB file-name letter 6 (German initials). Boredom is left out by default.
EMODB = {
    "W": "angry",  # Wut
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happy",  # Freude
    "N": "neutral",
    "T": "sad",  # Trauer
    "L": None,  # Langeweile (boredom)
}

#: nEMO file-name emotion words. nEMO has no disgust.
NEMO = {
    "anger": "angry",
    "fear": "fear",
    "happiness": "happy",
    "neutral": "neutral",
    "sadness": "sad",
    "surprised": "surprise",
}

#: EMOVO file-name state codes (Italian): disgusto, gioia, neutrale, paura, rabbia, sorpresa,
#: tristezza.
EMOVO = {
    "dis": "disgust",
    "gio": "happy",
    "neu": "neutral",
    "pau": "fear",
    "rab": "angry",
    "sor": "surprise",
    "tri": "sad",
}

#: ASED file-name emotion codes (lower-cased). ASED has no disgust and no surprise.
ASED = {
    "n1": "neutral",
    "f2": "fear",
    "h3": "happy",
    "s4": "sad",
    "a5": "angry",
}

#: Loose names a user's own folders or CSV files may use, for the folder-per-label
#: and CSV layouts. Keys are lower-case.
ALIASES = {
    **{label: label for label in LABELS},
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "afraid": "fear",
    "happiness": "happy",
    "joy": "happy",
    "calm": "neutral",
    "sadness": "sad",
    "surprised": "surprise",
    "ps": "surprise",
    "pleasant_surprise": "surprise",
    "pleasant_surprised": "surprise",
}


def canonical(name: str) -> str | None:
    """Map a loose emotion name onto a canonical label.

    Parameters
    ----------
    name : str
        An emotion name as a user's folder or CSV file spells it.

    Returns
    -------
    str or None
        The canonical label, or ``None`` if the name is not recognised.
    """
    return ALIASES.get(name.strip().lower().replace(" ", "_").replace("-", "_"))


#: Where each label lies on the circumplex of affect: ``(valence, arousal)`` in [-1, 1], 0 neither
#: pleasant nor unpleasant, neither activated nor calm. The pleasure and arousal factor scores of
#: the emotion terms in Russell, J. A. & Mehrabian, A. (1977), "Evidence for a three-factor
#: theory of emotions", *Journal of Research in Personality* 11(3), 273-294, as tabulated for
#: Ekman's six basic emotions (pleasure, arousal, dominance) by Buechel, S. & Hahn, U. (2016),
#: "Emotion analysis as a regression problem", ECAI 2016: anger (-0.51, 0.59, 0.25),
#: disgust (-0.60, 0.35, 0.11), fear (-0.64, 0.60, -0.43), joy (0.76, 0.48, 0.35), sadness
#: (-0.63, -0.27, -0.33), surprise (0.40, 0.67, -0.13); dominance is left out. Neutral is the
#: origin: the absence of affect, not a placement of the source.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "angry": (-0.51, 0.59),
    "disgust": (-0.60, 0.35),
    "fear": (-0.64, 0.60),
    "happy": (0.76, 0.48),
    "neutral": (0.0, 0.0),
    "sad": (-0.63, -0.27),
    "surprise": (0.40, 0.67),
}


def affect(scores: Mapping[str, float]) -> tuple[float, float] | None:
    """Arousal and valence of label probabilities: the expected :data:`CIRCUMPLEX` place.

    The probabilities are renormalised over the labels given (a restricted label set answers
    with the expectation over its own classes) and the expected ``(valence, arousal)`` is mapped
    from [-1, 1] to [0, 1], so 0.5 is neither high nor low (the range of audEERING's public
    dimensional model).

    Parameters
    ----------
    scores : mapping of str to float
        Probability per label.

    Returns
    -------
    (float, float) or None
        ``(arousal, valence)`` in [0, 1]; ``None`` when a label has no place on the circumplex
        (a bundle with labels of its own) or the probabilities sum to zero.
    """
    total = sum(scores.values())
    if total <= 0 or any(label not in CIRCUMPLEX for label in scores):
        return None
    valence = sum(p * CIRCUMPLEX[label][0] for label, p in scores.items()) / total
    arousal = sum(p * CIRCUMPLEX[label][1] for label, p in scores.items()) / total
    return (arousal + 1) / 2, (valence + 1) / 2


def index(label: str) -> int:
    """Position of a canonical label in :data:`LABELS`."""
    return LABELS.index(label)


#: One colour per canonical emotion, shared by every sera plot (report, timeline, ...) and
#: the web page.
EMOTION_COLORS = {
    "angry": "#d62728",
    "disgust": "#6b8e23",
    "fear": "#8c5fbf",
    "happy": "#f2a202",
    "neutral": "#7f7f7f",
    "sad": "#1f77b4",
    "surprise": "#e377c2",
}
