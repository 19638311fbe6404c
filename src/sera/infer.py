"""Run a sera model: one clip, many clips, every utterance of a recording, a live stream.

>>> import sera
>>> model = sera.load()                       # the shipped default model  # doctest: +SKIP
>>> model.predict("clip.wav")                 # doctest: +SKIP
Prediction(label='angry', scores={'angry': 0.82, ...}, path='clip.wav')
>>> model.analyze("call.wav")                 # doctest: +SKIP
Analysis(path='call.wav', duration=61.2, segments=(Segment(start=1.02, end=3.87, ...), ...))

A model is a bundle (:mod:`sera.bundle`) run by onnxruntime: nothing here imports torch or
scikit-learn. Features are computed by the bundle's feature set (:mod:`sera.features`),
normalised by the bundle's statistics, optionally adapted to a group of utterances
(:class:`sera.adapt.Normalizer`), and classified in batches.

Adaptation (``adapt``) says whose statistics normalise the features:

- ``"none"``: the training statistics alone. The default of :meth:`Model.predict`: one clip
  carries no statistics of its own, and the feature sets are already per-clip normalised
  (gain, silence trimming).
- ``"recording"``: the statistics of every utterance of the same recording, shrunk toward the
  training statistics when there are few.
- ``"speaker"``, ``"corpus"``: the statistics of each group given in ``groups``. In
  :meth:`Model.analyze` (whole recording) and :meth:`Model.stream` (utterances heard so far)
  ``"speaker"`` is the default, and the speakers are the ones diarization tells apart
  (:mod:`sera.speaker.diarize`).
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from sera.audio import SAMPLE_RATE, float_mono, info, resample, validate
from sera.bundle import CARD, Bundle, export_graph, load_bundle
from sera.conversation import (
    STREAM_HISTORY,
    check_adapt,
    check_speakers,
    label_stream,
    label_utterances,
)
from sera.errors import AudioError, BundleError, InputError, SeraError, problem_of
from sera.features import get_feature_set
from sera.progress import ProgressReport, track
from sera.results import Analysis, Prediction, Segment, labelled
from sera.scoring import BATCH_SIZE, Scorer
from sera.segment import SegmenterParams, Utterance, segment_chunks, segment_file

#: The shipped default model: a bundle inside the package.
DEFAULT_MODEL = Path(__file__).resolve().with_name("default_model")

#: Fewer files than this are read in this process even when workers are allowed: starting the
#: worker processes (forkserver or spawn, imports) costs about 0.3 s, and on a busy 2-core
#: machine two workers first beat this process at about 200 ``stats`` clips (``bench/infer.py``:
#: 64 clips 0.56 s here against 0.83 s with workers; 300 clips 110 against 116 clips/s).
POOL_MIN_FILES = 200

#: Name prefix of the threads that compute features.
_THREAD_PREFIX = "sera-features"

#: Seconds per step when :meth:`Model.analyze` feeds an array to the segmenter.
ARRAY_CHUNK_SECONDS = 10


def load(path: str | os.PathLike | None = None, *, threads: int | None = None) -> Model:
    """Load a model bundle; with no path, the shipped default model.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A bundle directory.
    threads : int, optional
        Threads that compute the features of a recording's utterances (default: one per CPU;
        see :class:`Model`).

    Raises
    ------
    BundleError
        The bundle is missing, corrupt, or from an incompatible sera.
    """
    if path is None:
        if not (DEFAULT_MODEL / "config.json").is_file():
            raise BundleError(f"{DEFAULT_MODEL}: the default model is not installed (build it "
                              f"with `make model`, or give the path of a bundle)")
        path = DEFAULT_MODEL
    return Model(load_bundle(path), threads=threads)


class Model:
    """A loaded bundle, ready to classify clips, recordings and streams.

    Parameters
    ----------
    bundle : sera.bundle.Bundle
        As :func:`sera.bundle.load_bundle` returns it (:func:`load` does both).
    threads : int, optional
        Threads that compute the features of a recording's utterances in :meth:`analyze`
        (default: one per CPU). A batch of recordings runs one recording per worker process
        instead, each with one thread (:mod:`sera.batch`).

    Attributes
    ----------
    feature_set : sera.features.FeatureSet
        What the model sees of an utterance.
    scorer : sera.scoring.Scorer
        Raw features → calibrated probabilities among :attr:`labels`.
    """

    def __init__(self, bundle: Bundle, threads: int | None = None):
        if threads is not None and threads < 1:
            raise InputError(f"threads must be at least 1, not {threads}")
        self.bundle = bundle
        self.threads = threads
        try:
            self.feature_set = get_feature_set(bundle.feature_config)
        except SeraError as err:
            raise BundleError(f"{bundle.path}: {err}") from None
        #: Raw features → calibrated probabilities (:mod:`sera.scoring`).
        self.scorer = Scorer(normalizer=bundle.normalizer, classify=bundle.predict_proba,
                             labels=bundle.labels, calibration=bundle.config.get("calibration"),
                             batch_size=BATCH_SIZE)
        self._threads: ThreadPoolExecutor | None = None
        self._threads_lock = threading.Lock()

    def with_labels(self, labels: Sequence[str] | None) -> Model:
        """This model answering among a deployment's own classes only.

        Every answer (predict, analyze, stream, the server) is restricted to ``labels``: the
        calibrated probabilities of those classes renormalised to sum to 1. That is the
        probability of each class given that the truth is one of them, so scores that were
        calibrated over every class stay calibrated over the subset.

        Parameters
        ----------
        labels : sequence of str or None
            Some of :attr:`labels` of the bundle (two or more, any order: the answer keeps the
            bundle's order); ``None`` or every label: the model as it is.

        Returns
        -------
        Model
            A shallow copy: it shares this model's bundle (and its feature threads once they
            are started).

        Raises
        ------
        InputError
            A label the bundle does not know, fewer than two labels, or one given twice.
        """
        restricted = copy.copy(self)
        restricted.scorer = self.scorer.with_labels(labels)
        return restricted

    def _feature_threads(self) -> ThreadPoolExecutor | None:
        """The threads that compute utterance features of a recording: :attr:`threads` (default
        one per CPU), started on first use and shared by every call (``None`` for one).

        Threads suffice: openSMILE (a native library called through ctypes) and numpy's
        array work release the GIL. Each thread keeps its own openSMILE instance.
        """
        with self._threads_lock:
            if self._threads is None:
                from sera.features.executors import cpu_count

                workers = cpu_count() if self.threads is None else self.threads
                if workers == 1:
                    return None
                self._threads = ThreadPoolExecutor(max_workers=workers,
                                                   thread_name_prefix=_THREAD_PREFIX)
            return self._threads

    @property
    def path(self) -> Path:
        """The bundle directory."""
        return self.bundle.path

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels the model answers with, in the order of :attr:`Prediction.scores` (the
        bundle's, or those of :meth:`with_labels`)."""
        return self.scorer.output_labels

    @property
    def normalizer(self):
        """The training statistics and how to adapt them (:class:`sera.adapt.Normalizer`)."""
        return self.scorer.normalizer

    @property
    def config(self) -> dict:
        """The bundle's ``config.json``."""
        return self.bundle.config

    @property
    def metrics(self) -> dict:
        """The evaluation figures recorded in the bundle."""
        return self.bundle.config.get("metrics") or {}

    @property
    def card(self) -> str:
        """The model card (markdown)."""
        return (self.bundle.path / CARD).read_text()

    def __repr__(self) -> str:
        return (f"<sera.Model {self.config['model'].get('name')!r} on {self.feature_set.name!r} "
                f"features from {str(self.path)!r}>")

    def export_onnx(self, path: str | os.PathLike) -> str:
        """Write the model's ONNX graph to ``path``, checked, and describe it
        (:func:`sera.bundle.export_graph`).

        Raises
        ------
        BundleError
            The copy does not load or does not match.
        """
        return export_graph(self.bundle, path, self.feature_set)

    # --- features and scores -------------------------------------------------------------

    def features(self, y: np.ndarray, sample_rate: int,
                 source: str | os.PathLike = "<array>") -> np.ndarray:
        """Raw (unnormalised) features of a waveform.

        Parameters
        ----------
        y : np.ndarray
            Mono (or ``(frames, channels)``) audio, float or integer PCM.
        sample_rate : int
            Its rate; it is resampled to the feature set's.
        source : str
            Named in error messages.

        Raises
        ------
        AudioError
            Too short, silent, non-finite audio, or a bad sample rate.
        """
        y = validate(y, sample_rate, source)
        fs = self.feature_set
        return self._clip_transform(fs.prepare(resample(y, sample_rate, fs.sample_rate)))

    def _clip_transform(self, y: np.ndarray) -> np.ndarray:
        """``feature_set.transform(y)`` of one clip; the parts of a combined set (the default
        model's ComParE and ``stats``) are computed side by side on the feature threads.

        Only for clips classified one at a time from outside those threads: utterances of a
        recording are already spread over them (and a thread waiting on its own pool could
        wait forever).
        """
        fs = self.feature_set
        parts = getattr(fs, "parts", None)
        threads = self._feature_threads() if parts else None
        if threads is None or threading.current_thread().name.startswith(_THREAD_PREFIX):
            return fs.transform(y)
        return np.concatenate(list(threads.map(lambda part: part.transform(part.prepare(y)),
                                               parts)))

    def predict_proba(self, X: np.ndarray, adapt: str = "none",
                      groups: Sequence | None = None) -> np.ndarray:
        """Calibrated probabilities ``(n, len(labels))`` of raw features ``(n, *shape)``
        (:meth:`sera.scoring.Scorer.predict_proba`: every path, predict, analyze, stream, the
        API and the page, gets its scores here).

        Parameters
        ----------
        X : np.ndarray
            Features as :meth:`features` gives them, stacked.
        adapt : str
            ``"none"``, ``"recording"``, ``"speaker"`` or ``"corpus"`` (see the module notes).
        groups : sequence, optional
            Group id per row; required by any ``adapt`` but ``"none"``.
        """
        return self.scorer.predict_proba(X, adapt=adapt, groups=groups)

    # --- clips ---------------------------------------------------------------------------

    def predict(self, clip, sample_rate: int | None = None) -> Prediction:
        """The emotion of one clip, normalised by the training statistics.

        Parameters
        ----------
        clip : path or np.ndarray
            An audio file (any format :func:`sera.audio.load` reads) or a waveform.
        sample_rate : int, optional
            The rate of an array (required for arrays).

        Returns
        -------
        Prediction

        Raises
        ------
        AudioError
            The clip is unusable (unreadable, silent, too short, ...).
        InputError
            A list or tuple of clips: :meth:`predict_many` classifies many.
        """
        if isinstance(clip, (list, tuple)):
            raise InputError(f"predict takes one clip, not a {type(clip).__name__} of "
                             f"{len(clip)}: predict_many classifies many")
        predictions, failures = self.predict_many([clip], sample_rate, workers=1)
        if failures:
            raise AudioError(*failures[0])
        return predictions[0]

    def predict_many(self, clips: Sequence, sample_rate: int | None = None, *,
                     adapt: str = "none", groups: Sequence | None = None,
                     workers: int | None = None, progress: ProgressReport | None = None,
                     dask: str | None = None,
                     ) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Classify many clips, going on past unusable ones.

        Files are read and turned into features by a pool of worker processes for long lists
        (in this process for short ones), then classified in batches of :data:`BATCH_SIZE`.

        Parameters
        ----------
        clips : sequence of paths or arrays
            Audio files (any format :func:`sera.audio.load` reads) or waveforms.
        sample_rate : int, optional
            The rate of array items (required for arrays).
        adapt : str
            Normalisation: ``"none"`` (default: the training statistics) or, with ``groups``,
            ``"recording"``, ``"speaker"`` or ``"corpus"``. Group statistics use the clips
            that could be read.
        groups : sequence, optional
            The group (recording, speaker, corpus) of each clip.
        workers : int, optional
            Processes that read files and compute features (default: one per CPU core, used
            only for long lists).
        progress : ProgressReport, optional
            Told of each file's features as they are computed (``"features"``, of the
            distinct files; :mod:`sera.progress`).
        dask : str, optional
            A Dask scheduler address (``"local"`` starts a LocalCluster): the cluster's
            workers read the files and compute their features.

        Returns
        -------
        predictions : list of Prediction
            For the clips that could be classified, in input order.
        failures : list of (str, str)
            ``(path, problem)`` of the others (``"<array i>"`` for the i-th item if an array).
        """
        if groups is not None and len(groups) != len(clips):
            raise InputError(f"{len(groups)} group ids for {len(clips)} clips")
        rows, problems = self._clip_features(clips, sample_rate, workers, progress, dask)
        kept = [i for i in range(len(clips)) if i in rows]
        X = (np.stack([rows[i] for i in kept]) if kept
             else np.zeros((0, *self.feature_set.shape), np.float32))
        kept_groups = None if groups is None else [groups[i] for i in kept]
        probabilities = self.predict_proba(X, adapt=adapt, groups=kept_groups)
        predictions = [Prediction(*labelled(p, self.labels), path=_source(clips[i], i, True))
                       for i, p in zip(kept, probabilities, strict=True)]
        failures = [(_source(clips[i], i), problems[i]) for i in sorted(problems)]
        return predictions, failures

    def _clip_features(self, clips: Sequence, sample_rate: int | None, workers: int | None,
                       progress: ProgressReport | None, dask: str | None = None,
                       ) -> tuple[dict[int, np.ndarray], dict[int, str]]:
        """Raw features by item index, and the problem of each item that failed."""
        results: dict[int, np.ndarray | str] = {}
        files: dict[int, str] = {}
        for i, clip in enumerate(clips):
            if isinstance(clip, (str, os.PathLike)):
                files[i] = os.path.abspath(os.fspath(clip))
            elif sample_rate is None:
                results[i] = "an array needs its sample_rate"
            else:
                results[i] = _features_or_problem(self.features, clip, sample_rate,
                                                  _source(clip, i))
        unique = sorted(set(files.values()))
        if dask is not None or (workers != 1 and len(unique) >= POOL_MIN_FILES):
            by_path = self._features_in_pool(unique, workers, progress, dask)
        else:
            by_path = {path: _features_or_problem(self._extract, path)
                       for path in track(unique, progress, "features")}
        results.update((i, by_path[path]) for i, path in files.items())
        rows = {i: r for i, r in results.items() if not isinstance(r, str)}
        problems = {i: r for i, r in results.items() if isinstance(r, str)}
        return rows, problems

    def _extract(self, path: str) -> np.ndarray:
        """Raw features of a file (``feature_set.extract``, parts side by side)."""
        return self._clip_transform(self.feature_set.load(path))

    def _features_in_pool(self, paths: list[str], workers: int | None,
                          progress: ProgressReport | None,
                          dask: str | None = None) -> dict[str, np.ndarray | str]:
        """Features (or the problem) of each file, computed by worker processes or Dask."""
        from sera.features.executors import ORIGINAL, compute, cpu_count

        workers = cpu_count() if workers is None else workers
        todo = [(i, path, (ORIGINAL,)) for i, path in enumerate(paths)]
        shape = self.feature_set.shape
        found: dict[str, np.ndarray | str] = {}
        results = compute(todo, self.feature_set, None, workers, dask)
        for i, result in track(results, progress, "features", total=len(todo)):
            found[paths[i]] = result if isinstance(result, str) else result[0].reshape(shape)
        return found

    # --- recordings and streams ----------------------------------------------------------

    def analyze(self, recording, sample_rate: int | None = None,
                params: SegmenterParams | None = None, *, adapt: str = "speaker",
                num_speakers: int | None = None, min_speakers: int | None = None,
                max_speakers: int | None = None, batch_size: int = BATCH_SIZE) -> Analysis:
        """The speaker and emotion of every utterance of a recording.

        Utterances are found by :mod:`sera.segment` (silero-vad). A file is read block by
        block and its utterances are turned into speaker embeddings and features as they are
        found, so its audio is never held whole. An utterance in which the voice changes is cut
        in two; the pieces are clustered into speakers ``S1``, ``S2``, ... in order of first
        appearance (:mod:`sera.speaker.diarize`). With ``adapt="speaker"`` (default) each
        speaker's features are normalised by that speaker's statistics, with ``"recording"``
        by the whole recording's, with ``"none"`` by the training statistics; the embeddings
        and features are kept until the end (one row per utterance, never audio: 1 KB
        for the embedding, 1.7 KB for the ``stats`` set, 77 KB for ``logmel``).

        Parameters
        ----------
        recording : path or np.ndarray
            An audio file of any length, or a waveform.
        sample_rate : int, optional
            The rate of an array (required for arrays).
        params : SegmenterParams, optional
            Segmentation thresholds and durations.
        adapt : str
            ``"speaker"``, ``"recording"`` or ``"none"``.
        num_speakers : int, optional
            How many speakers there are, when known; found from the voices by default. With
            ``1`` the speaker encoder does not run and every segment is ``S1``.
        min_speakers, max_speakers : int, optional
            Bounds on the number of speakers found, when it is not given (a meeting of three
            to five people: ``min_speakers=3, max_speakers=5``): a number found outside them
            becomes the nearest bound.
        batch_size : int
            Utterances per feature-and-classify step.

        Returns
        -------
        Analysis
            The path (``None`` for an array), duration, the segments in time order, and the
            adaptation that ran.
        """
        check_adapt(adapt)
        check_speakers(num_speakers, min_speakers, max_speakers)
        if isinstance(recording, (str, os.PathLike)):
            meta = info(recording)
            path, duration = os.fspath(recording), meta.frames / meta.samplerate
            utterances = segment_file(recording, params)
        elif sample_rate is None:
            raise InputError("an array needs its sample_rate")
        else:
            y = validate(recording, sample_rate, allow_silence=True)
            path, duration = None, y.shape[0] / sample_rate
            step = ARRAY_CHUNK_SECONDS * sample_rate
            utterances = _utterances((y[i:i + step] for i in range(0, y.shape[0], step)),
                                     sample_rate, params)
        segments = tuple(label_utterances(self, utterances, adapt=adapt, batch_size=batch_size,
                                          executor=self._feature_threads(),
                                          num_speakers=num_speakers, min_speakers=min_speakers,
                                          max_speakers=max_speakers))
        return Analysis(path=path, duration=duration, segments=segments, adapt=adapt)

    def analyze_many(self, paths: Iterable[str | os.PathLike],
                     out: str | os.PathLike | None = None, *, workers: int | None = None,
                     dask: str | None = None, progress: ProgressReport | None = None,
                     formats: Sequence[str] = ("json",),
                     params: SegmenterParams | None = None, adapt: str = "speaker",
                     num_speakers: int | None = None, min_speakers: int | None = None,
                     max_speakers: int | None = None,
                     ) -> Iterator[tuple[str, Analysis | AudioError]]:
        """Analyze many recordings, in parallel, going on past bad ones; with ``out``, write
        each one's files and the summary tables, and resume what an earlier run finished.

        The logic is :mod:`sera.batch`; ``sera analyze PATH... --out DIR`` runs it.

        Parameters
        ----------
        paths : iterable of path
            Audio files, folders (searched for audio files) and CSV manifests (a ``path``
            column; the other columns go into the summary).
        out : path, optional
            Output folder: ``out/<name>.json`` per recording (``name``: its path relative to
            its folder or manifest, suffix dropped; the bytes of ``sera analyze FILE --json``),
            the other ``formats`` beside it, ``out/summary.csv`` and ``out/speakers.csv``
            (and ``.parquet`` copies with pyarrow), and the resume index
            ``out/.sera-index.jsonl``. A recording whose files were made from the same bytes,
            model and options is not analysed again.
        workers : int, optional
            Worker processes, each analysing one recording at a time with one feature thread
            (default: one per CPU; ``1``: this process).
        dask : str, optional
            A Dask scheduler address, or ``"local"`` for a LocalCluster: each recording is one
            task there (every worker needs sera, the audio at the same paths, and a non-default
            bundle at the same path).
        progress : ProgressReport, optional
            Told of the recordings done and the seconds of audio analysed
            (:data:`sera.batch.RECORDINGS`, :data:`sera.batch.AUDIO_SECONDS`; :mod:`sera.progress`)
            before any work and after each recording finishes.
        formats : sequence of str
            Files per recording besides ``"json"``: ``"csv"``, ``"srt"``.
        params, adapt, num_speakers, min_speakers, max_speakers
            As for :meth:`analyze`, for every recording.

        Yields
        ------
        (str, Analysis or AudioError)
            Per recording, in input order: its path and its analysis (read back from its
            JSON, so to the millisecond and four decimals, when an earlier run made it), or
            the error that says what is wrong with it.

        Raises
        ------
        InputError
            Bad options, or two recordings that would write the same output file.
        CorpusError
            A manifest without a ``path`` column.
        """
        from sera.batch import analyze_many

        return analyze_many(self, paths, out, workers=workers, dask=dask, progress=progress,
                            formats=formats, params=params, adapt=adapt, num_speakers=num_speakers,
                            min_speakers=min_speakers, max_speakers=max_speakers)

    def stream(self, chunks: Iterable[np.ndarray], sample_rate: int = SAMPLE_RATE,
               params: SegmenterParams | None = None, *, adapt: str = "speaker",
               num_speakers: int | None = None,
               history: int = STREAM_HISTORY) -> Iterator[Segment]:
        """Tell the speaker and emotion of each utterance of a live stream as it closes.

        Parameters
        ----------
        chunks : iterable of np.ndarray
            Consecutive pieces of one mono stream (float, or integer PCM), any length.
        sample_rate : int
            Their rate; other rates than 16 kHz are resampled on the fly.
        params : SegmenterParams, optional
            Segmentation thresholds and durations.
        adapt : str
            ``"speaker"`` (default): each utterance goes to the most similar speaker heard so
            far (or a new one) and is normalised by the statistics of that speaker's utterances
            so far, itself included, shrunk toward the training statistics while they are few.
            ``"recording"``: by the statistics of all utterances so far. So the first
            utterances of a stream are normalised mostly by the training statistics, and a
            stream's speakers and labels can differ from :meth:`analyze` on the whole
            recording, which clusters and normalises with every utterance. ``"none"``: the
            training statistics.
        num_speakers : int, optional
            The most speakers to tell apart; ``1`` runs no speaker encoder.
        history : int
            Most recent utterances whose statistics the adaptation uses.

        Yields
        ------
        Segment
            As each utterance closes (``params.min_silence`` after its speech ends).
        """
        check_adapt(adapt)
        check_speakers(num_speakers)
        return label_stream(self, _utterances(chunks, sample_rate, params), adapt=adapt,
                            history=history, num_speakers=num_speakers)

    def utterance_features(self, utterance: Utterance) -> np.ndarray:
        """Raw features of an utterance found by :mod:`sera.segment` (16 kHz, checked)."""
        fs = self.feature_set
        return fs.transform(fs.prepare(resample(utterance.audio, SAMPLE_RATE, fs.sample_rate)))



def _features_or_problem(compute, *args) -> np.ndarray | str:
    """``compute(*args)``, or the one-line problem it had: a batch goes on past a bad clip."""
    try:
        x = compute(*args)
    except Exception as err:  # noqa: BLE001  (whatever a bad file makes a library raise)
        return problem_of(err)
    if not np.isfinite(x).all():
        return f"{int((~np.isfinite(x)).sum())} features are NaN or infinite"
    return x


def _utterances(chunks: Iterable[np.ndarray], sample_rate: int,
                params: SegmenterParams | None) -> Iterator[Utterance]:
    """The utterances of a stream of chunks at any rate, as each one closes."""
    return segment_chunks((float_mono(chunk) for chunk in chunks), sample_rate, params)


def _source(clip, index: int, as_path: bool = False) -> str | None:
    """How a clip is named: its path, or ``<array i>`` (``None`` when ``as_path``)."""
    if isinstance(clip, (str, os.PathLike)):
        return os.fspath(clip)
    return None if as_path else f"<array {index}>"
