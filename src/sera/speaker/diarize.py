"""Who speaks when: split utterances where the voice changes, then cluster them into speakers.

The unit is an utterance as :mod:`sera.segment` finds it. Each one is embedded by the GE2E
encoder (:mod:`sera.speaker.encoder`): one embedding for a short utterance, and for a long one
(4 s or more) 1.6 s windows every 0.8 s, which give the two sides of the cut where its voice
changes most (:func:`change_point`). Two people can follow each other without a pause: the
sides are clustered like any utterance, and a long utterance whose sides land with different
speakers is two turns.

GE2E embeddings move with the emotion: across seven acted emotions an actor can sound less like
themself than like another actor of the same sex. So the embeddings are first mapped into a
*speaker space* (:class:`SpeakerSpace`): the training mean removed and the within-speaker
covariance whitened (WCCN), fitted on every clip of the shared corpora (RAVDESS actors 01-18,
nEMO's 7 actors), which shrinks the directions in which one voice varies with its emotions.
On dialogues of RAVDESS actors 13-18 (space fitted on actors 01-12), clustering two known
speakers attributed 93% of the utterances right in GE2E space and 97% in the speaker space.

The pieces are clustered with scipy's agglomerative clustering (average linkage on cosine
distance) after centring them on the recording's mean: what every utterance of a recording
shares says nothing about who speaks. The number of speakers is given (``speakers=N``) or found
by cutting the tree from the top while a cut's two halves are distinct voices
(:func:`split_ratio`). Speakers are named ``S1``, ``S2``, ... in order of first appearance.

:class:`OnlineDiarizer` is the streaming variant: each utterance goes to the most similar
speaker heard so far, or starts a new one when none is similar enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sera.errors import InputError
from sera.speaker.encoder import (
    EMBEDDING_SIZE,
    HOP,
    SAMPLE_RATE,
    WINDOW_FRAMES,
    embed_power,
    l2_normalize,
    normalize_volume,
    power_windows,
    window_starts,
)

#: Utterances at least this long (s) are looked at for a change of speaker inside them (windows
#: every 0.8 s: four windows from 4 s on, the fewest that leave two on each side of a cut).
CHANGE_MIN_SECONDS = 3.2

#: Step (s) between the windows of a long utterance.
WINDOW_STEP_SECONDS = 0.8

#: A recording splits into two speakers when the halves of its best split are at least this
#: distinct (:func:`split_ratio`, in the speaker space). Chosen on dialogues and monologues of
#: RAVDESS actors 01-12 (the space fitted on the same actors): their two-speaker dialogues
#: started at 0.126, their monologues across seven emotions reached 0.156; 0.12 keeps every
#: dialogue's two speakers apart there, and split 2 of 12 monologues.
SPLIT_RATIO = 0.12

#: A speaker splits further only when the halves are this distinct: one RAVDESS actor's
#: utterances (01-12) within a dialogue reached 0.485 across seven acted emotions.
DEEPER_SPLIT_RATIO = 0.5

#: Least utterances on each side of a split.
MIN_SPEAKER_UTTERANCES = 2

#: The streaming variant starts a new speaker below this similarity (in the speaker space,
#: centred on the training mean) to every speaker heard so far.
ONLINE_SIMILARITY = 0.2

#: The shipped speaker space (``scripts/build_speaker_encoder.py --space``).
SPACE_FILE = Path(__file__).resolve().with_name("space.npz")

_WINDOW_SECONDS = WINDOW_FRAMES * HOP / SAMPLE_RATE


@dataclass(frozen=True)
class SpeakerSpace:
    """Where GE2E embeddings are compared: centred on the training mean, the within-speaker
    covariance whitened, unit length.

    Parameters
    ----------
    mean : np.ndarray
        ``(256,)`` training mean.
    transform : np.ndarray
        ``(256, 256)`` inverse square root of the (shrunk) within-speaker covariance.
    """

    mean: np.ndarray
    transform: np.ndarray

    @classmethod
    def fit(cls, embeddings: np.ndarray, speakers: Sequence, shrinkage: float = 0.05
            ) -> SpeakerSpace:
        """Fit on training embeddings ``(n, 256)`` and the speaker of each.

        ``shrinkage`` adds that fraction of the average variance to every direction, so a
        direction no training speaker varies in is not blown up.
        """
        X = np.asarray(embeddings, dtype=np.float64)
        speakers = np.asarray(speakers)
        residuals = np.concatenate([X[speakers == s] - X[speakers == s].mean(axis=0)
                                    for s in np.unique(speakers)])
        within = residuals.T @ residuals / residuals.shape[0]
        within += shrinkage * np.trace(within) / within.shape[0] * np.eye(within.shape[0])
        values, vectors = np.linalg.eigh(within)
        transform = (vectors / np.sqrt(values)) @ vectors.T
        return cls(mean=X.mean(axis=0).astype(np.float32),
                   transform=transform.astype(np.float32))

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """Embeddings ``(n, 256)`` in the space, unit length."""
        return l2_normalize((np.asarray(embeddings, np.float32) - self.mean) @ self.transform)

    def save(self, path: str | Path) -> None:
        np.savez(path, mean=self.mean, transform=self.transform)

    @classmethod
    def load(cls, path: str | Path = SPACE_FILE) -> SpeakerSpace:
        with np.load(path, allow_pickle=False) as data:
            return cls(mean=data["mean"], transform=data["transform"])


@lru_cache(maxsize=1)
def default_space() -> SpeakerSpace:
    """The shipped :class:`SpeakerSpace`."""
    return SpeakerSpace.load(SPACE_FILE)


@dataclass(frozen=True, eq=False)
class Piece:
    """A stretch of one utterance spoken by one voice: ``start``/``end`` in seconds (stream time)
    and its GE2E ``embedding`` (256, unit length)."""

    start: float
    end: float
    embedding: np.ndarray


@dataclass(frozen=True, eq=False)
class Embedded:
    """An utterance's speaker embedding: ``whole``, and for a long utterance the two ``sides``
    of the cut where its voice is most likely to change (``None`` for a short one).

    Whether the sides are two speakers is decided with the rest of the recording: by
    :func:`diarize` (are they clustered apart?) or :class:`OnlineDiarizer` (are they assigned
    apart?).
    """

    whole: Piece
    sides: tuple[Piece, Piece] | None = None

    @property
    def pieces(self) -> tuple[Piece, ...]:
        """What is clustered: the sides of a long utterance, or the whole of a short one."""
        return self.sides if self.sides is not None else (self.whole,)


def embed_utterance(audio: np.ndarray, start: float = 0.0) -> Embedded:
    """Embed one utterance (16 kHz mono float starting at ``start`` s), and the sides of the cut
    where its voice is most likely to change when it is long enough to have one."""
    return embed_utterances([(audio, start)])[0]


def embed_utterances(utterances: Sequence[tuple[np.ndarray, float]]) -> list[Embedded]:
    """:func:`embed_utterance` of several ``(audio, start)``, their windows embedded together
    (one onnxruntime call per 64 windows)."""
    plans = []
    for audio, start in utterances:
        y = normalize_volume(audio)
        if y.shape[0] < CHANGE_MIN_SECONDS * SAMPLE_RATE:
            starts = window_starts(y.shape[0])
        else:
            step = int(round(WINDOW_STEP_SECONDS * SAMPLE_RATE / HOP))
            last = int(np.ceil(y.shape[0] / HOP)) - WINDOW_FRAMES
            starts = np.arange(0, last + 1, step)
            if starts[-1] < last:
                starts = np.append(starts, last)  # the end of the utterance is covered too
        plans.append((start, start + y.shape[0] / SAMPLE_RATE, starts,
                      power_windows(y, starts, denoise=True)))
    if not plans:
        return []
    embedded = embed_power(np.concatenate([plan[3] for plan in plans]))
    out, offset = [], 0
    for start, end, starts, windows in plans:
        mine = embedded[offset:offset + windows.shape[0]]
        offset += windows.shape[0]
        whole = Piece(start, end, l2_normalize(mine.mean(axis=0)))
        cut = change_point(mine) if windows.shape[0] > 1 else None
        if cut is None:
            out.append(Embedded(whole))
            continue
        # Window cut-1 is the last of the first side and window cut the first of the second:
        # a change lies where they overlap, and the middle of it is the best guess.
        left_end = starts[cut - 1] * HOP / SAMPLE_RATE + _WINDOW_SECONDS
        right_start = starts[cut] * HOP / SAMPLE_RATE
        at = start + (left_end + right_start) / 2
        out.append(Embedded(whole, (Piece(start, at, l2_normalize(mine[:cut].mean(axis=0))),
                                    Piece(at, end, l2_normalize(mine[cut:].mean(axis=0))))))
    return out


def change_point(windows: np.ndarray, space: SpeakerSpace | None = None) -> int | None:
    """Where consecutive window embeddings ``(n, 256)`` are most likely to change speaker.

    The windows are mapped into the speaker space (default: the shipped one), and the cut
    leaving at least two windows on each side that makes each side most coherent is the
    candidate: the one that maximises the summed lengths of the two sides' resultant vectors
    (the sum over windows of their cosine similarity to their side's mean direction). Whether it is
    a change is not decided here: one voice's sides and two voices' sides are too alike in absolute
    terms (within one utterance, RAVDESS actors' sides scored 0.24-0.73 against each other in the
    speaker space, two same-sex actors' 0.24-0.58), so the recording's speakers decide.

    Returns
    -------
    int or None
        Index of the first window of the second side; ``None`` with fewer than four windows.
    """
    cuts = range(2, windows.shape[0] - 1)
    if not cuts:
        return None
    space = default_space() if space is None else space
    Z = space(windows).astype(np.float64)
    before = np.cumsum(Z, axis=0)
    coherence = [np.linalg.norm(before[cut - 1]) + np.linalg.norm(before[-1] - before[cut - 1])
                 for cut in cuts]
    return cuts[int(np.argmax(coherence))]


def cluster(embeddings: np.ndarray, num_speakers: int | None = None,
            ratio: float = SPLIT_RATIO, min_speakers: int = 1,
            max_speakers: int | None = None) -> np.ndarray:
    """Speaker index per embedding, numbered 0, 1, ... in order of first appearance.

    Parameters
    ----------
    embeddings : np.ndarray
        ``(n, d)`` unit-length embeddings (in the speaker space), in time order.
    num_speakers : int, optional
        The number of speakers; found from the embeddings when not given.
    ratio : float
        How distinct (:func:`split_ratio`) the two halves of a split must be to make two
        speakers of one.
    min_speakers, max_speakers : int, optional
        Bounds on a found number: a count outside them is replaced by the nearest bound, and
        the tree is cut into that many speakers as for a given ``num_speakers``.

    Returns
    -------
    np.ndarray
        int ``(n,)``.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    X = np.asarray(embeddings, dtype=np.float64)
    n = X.shape[0]
    if num_speakers is not None and num_speakers < 1:
        raise InputError(f"num_speakers must be at least 1, got {num_speakers}")
    if n < 2 or num_speakers == 1:
        return np.zeros(n, dtype=int)
    # The tree is grown on the embeddings centred on the recording's mean; whether a cut
    # separates two voices is judged on the embeddings as they are (centred, any two halves of
    # one cloud would look opposite).
    centred = l2_normalize(X - X.mean(axis=0)).astype(np.float64)
    tree = linkage(centred, method="average", metric="cosine")
    if num_speakers is None:
        labels = _divisive(X, tree, ratio)
        found = len(set(labels.tolist()))
        bounded = max(min_speakers, found if max_speakers is None else min(found, max_speakers))
        if bounded == found:
            return _in_order_of_appearance(labels)
        num_speakers = bounded
    return _in_order_of_appearance(fcluster(tree, min(num_speakers, n), criterion="maxclust"))


def _divisive(X: np.ndarray, tree: np.ndarray, ratio: float) -> np.ndarray:
    """Cut the tree from the top while each cut's halves are distinct voices."""
    n = X.shape[0]
    root = 2 * n - 2
    children = {n + i: (int(a), int(b)) for i, (a, b, _, _) in enumerate(tree)}

    def leaves(node: int) -> list[int]:
        if node < n:
            return [node]
        return [leaf for child in children[node] for leaf in leaves(child)]

    labels = np.zeros(n, dtype=int)
    pending, speaker = [root], 0
    while pending:
        node = pending.pop()
        if node >= n:
            a, b = (leaves(child) for child in children[node])
            needed = ratio if node == root else DEEPER_SPLIT_RATIO
            if (min(len(a), len(b)) >= MIN_SPEAKER_UTTERANCES
                    and split_ratio(X[a], X[b]) >= needed):
                pending.extend(children[node])
                continue
        labels[leaves(node)] = speaker
        speaker += 1
    return labels


def split_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """How distinct two groups of unit vectors are: ``(within - between) / (1 - between)``,
    ``within`` the mean cosine similarity inside the groups, ``between`` across them (about 0
    for two halves of one cloud, 1 for two groups of identical points)."""
    within = float(np.mean([_mean_off_diagonal(g @ g.T) for g in (a, b)]))
    between = float((a @ b.T).mean())
    return (within - between) / max(1.0 - between, 1e-9)


def _mean_off_diagonal(S: np.ndarray) -> float:
    n = S.shape[0]
    return float((S.sum() - np.trace(S)) / (n * (n - 1))) if n > 1 else 1.0


def _in_order_of_appearance(labels: np.ndarray) -> np.ndarray:
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(label), len(order)) for label in labels], dtype=int)


def speaker_name(index: int) -> str:
    """``S1`` for speaker 0, ``S2`` for speaker 1, ..."""
    return f"S{index + 1}"


def diarize(embedded: Sequence[Embedded], num_speakers: int | None = None,
            space: SpeakerSpace | None = None, min_speakers: int = 1,
            max_speakers: int | None = None) -> list[list[tuple[Piece, str]]]:
    """The speaker turns of each utterance.

    Parameters
    ----------
    embedded : sequence of Embedded
        In time order, as :func:`embed_utterances` gives them.
    num_speakers : int, optional
        The number of speakers, if known.
    space : SpeakerSpace, optional
        Where to compare voices (default: the shipped one).
    min_speakers, max_speakers : int, optional
        Bounds on the number found when ``num_speakers`` is not given (:func:`cluster`).

    Returns
    -------
    list of list of (Piece, str)
        Per utterance: ``[(whole, speaker)]``, or its two sides with their speakers when they
        were clustered apart. Speakers are ``S1``, ``S2``, ... in order of first appearance.
    """
    if not embedded:
        return []
    space = default_space() if space is None else space
    pieces = [piece for e in embedded for piece in e.pieces]
    labels = cluster(space(np.stack([p.embedding for p in pieces])), num_speakers,
                     min_speakers=min_speakers, max_speakers=max_speakers)
    out, i = [], 0
    for e in embedded:
        mine = labels[i:i + len(e.pieces)]
        i += len(e.pieces)
        out.append(_turns(e, [speaker_name(int(label)) for label in mine]))
    _renumber(out)
    return out


def _turns(embedded: Embedded, names: list[str]) -> list[tuple[Piece, str]]:
    """The whole utterance with its speaker, or its sides when their speakers differ."""
    if embedded.sides is None or names[0] == names[1]:
        return [(embedded.whole, names[0])]
    return list(zip(embedded.sides, names, strict=True))


def _renumber(turns: list[list[tuple[Piece, str]]]) -> None:
    """Rename speakers in place to ``S1``, ``S2``, ... in order of first appearance among the
    turns (a side merged back into its utterance no longer counts as an appearance)."""
    order: dict[str, str] = {}
    for utterance in turns:
        for k, (piece, name) in enumerate(utterance):
            utterance[k] = (piece, order.setdefault(name, speaker_name(len(order))))


class OnlineDiarizer:
    """Assigns each utterance of a stream to a speaker as it ends.

    Each speaker is the sum of their utterances' embeddings in the speaker space. An utterance
    goes to the most similar speaker if the cosine similarity reaches ``threshold`` (or once
    ``num_speakers`` are known), and otherwise starts a new speaker.

    Parameters
    ----------
    num_speakers : int, optional
        The most speakers to start.
    threshold : float
        Least similarity to an existing speaker.
    space : SpeakerSpace, optional
        Default: the shipped one.
    """

    def __init__(self, num_speakers: int | None = None, threshold: float = ONLINE_SIMILARITY,
                 space: SpeakerSpace | None = None):
        self.num_speakers = num_speakers
        self.threshold = threshold
        self.space = default_space() if space is None else space
        self._sums: list[np.ndarray] = []

    def turns(self, embedded: Embedded) -> list[tuple[Piece, str]]:
        """The speaker turns of the next utterance: ``[(whole, speaker)]``, or its two sides
        when they go to different speakers."""
        return _turns(embedded, [self.assign(p.embedding) for p in embedded.pieces])

    def assign(self, embedding: np.ndarray) -> str:
        """The speaker of the next piece, given its GE2E embedding."""
        x = self.space(np.asarray(embedding)[None])[0].astype(np.float64)
        if self._sums:
            similarity = l2_normalize(np.stack(self._sums)) @ x
            best = int(np.argmax(similarity))
            full = self.num_speakers is not None and len(self._sums) >= self.num_speakers
            if similarity[best] >= self.threshold or full:
                self._sums[best] = self._sums[best] + x
                return speaker_name(best)
        self._sums.append(x)
        return speaker_name(len(self._sums) - 1)


__all__ = ["EMBEDDING_SIZE", "Embedded", "OnlineDiarizer", "Piece", "SpeakerSpace",
           "change_point", "cluster", "default_space", "diarize", "embed_utterance",
           "embed_utterances", "split_ratio"]
