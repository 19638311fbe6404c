"""Many recordings: find them, analyze each once, write their outputs and the summary tables.

:func:`analyze_many` is what :meth:`sera.infer.Model.analyze_many` and ``sera analyze PATH...
--out DIR`` run. It works in four steps, each a small function of its own:

1. **Inputs** (:func:`find_recordings`): files, folders (searched for audio) and CSV manifests
   (a ``path`` column, relative to the manifest's folder or absolute; the other columns are
   carried into the summary). Each recording gets an output *name*: its path relative to the
   folder or manifest it came from (a file argument: its file name), audio suffix dropped.
2. **Resume** (:class:`ResumeIndex`): ``DIR/.sera-index.jsonl`` holds, per output name, the
   key of what made it (:func:`recording_key`: the path, a SHA-256 of the file's bytes, the
   model's fingerprint, the analyze options, the sera version) and the size of each file
   written. A recording is skipped when its key matches and its files are there at those sizes.
3. **Work** (:func:`_results`): this process, a pool of worker processes (the model loaded once
   per worker by the pool's initializer) or a Dask cluster (:mod:`sera.scale`), each recording
   one task analysed with one feature thread. Workers send back the :class:`Analysis` (or the
   one-line problem); only this process writes files, so there is one writer of the index.
4. **Outputs** (:func:`write_outputs`, :func:`write_tables`): ``DIR/<name>.json`` (the bytes
   ``sera analyze FILE --json`` prints), ``.csv`` / ``.srt`` beside it when asked for, each
   written to a temporary file and moved into place (``os.replace``), and only then recorded
   in the index: a run killed at any point (``kill -9``) leaves no file that a rerun takes as
   done unless it is complete. At the end ``DIR/summary.csv`` (one row per recording) and
   ``DIR/speakers.csv`` (one row per speaker of each recording), plus ``.parquet`` copies when
   pyarrow is importable. The tables are computed from the JSON documents, so a resumed run
   writes the same bytes as an uninterrupted one.

Results are yielded in input order; files are written as each recording finishes, so nothing
finished waits on a slower recording before it is safe on disk.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePath, PurePosixPath

from sera.audio import audio_files, info
from sera.conversation import check_adapt, check_speakers
from sera.errors import (
    AudioError,
    BundleError,
    CorpusError,
    InputError,
    SeraError,
    os_problem,
)
from sera.formats import analysis_from_json, json_text, to_csv, to_json, to_srt
from sera.results import Analysis
from sera.segment import SegmenterParams
from sera.summary import AFFECT, emotion_figures, summarize

#: Output files a recording can have; JSON always (the resume reads it back).
FORMATS = ("json", "csv", "srt")

#: The resume index inside the output folder (hidden, like the temporary files).
INDEX = ".sera-index.jsonl"

#: The tables of a batch, beside the recordings' outputs.
SUMMARY, SPEAKERS = "summary", "speakers"

#: Recordings handed to each worker at a time: one running, one waiting, so a worker never
#: idles while this process writes the last one's files.
TASKS_PER_WORKER = 2

#: Bytes read at a time when hashing a recording.
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Recording:
    """One recording of a batch.

    Attributes
    ----------
    path : str
        As found (a folder argument joined with the file's place in it); the JSON's ``path``.
    name : str
        Output name: POSIX path relative to the output folder, without a suffix.
    columns : dict
        The manifest's own columns for this recording (empty for files and folders).
    problem : str or None
        Why it cannot be analysed before it is even opened (a folder that could not be read:
        reported as a failure, never skipped without a word).
    """

    path: str
    name: str
    columns: dict[str, str] = field(default_factory=dict, compare=False)
    problem: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AnalyzeOptions:
    """The options of :meth:`sera.infer.Model.analyze` that every recording of a batch gets."""

    params: SegmenterParams = field(default_factory=SegmenterParams)
    adapt: str = "speaker"
    speakers: int | None = None
    #: A deployment's classes (:meth:`sera.infer.Model.with_labels`); ``None``: every label.
    labels: tuple[str, ...] | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    def to_key(self) -> dict:
        """What of the options the outputs depend on, JSON-serialisable (options left at
        their defaults are left out, so earlier runs' keys still match)."""
        key = {"segmenter": asdict(self.params), "adapt": self.adapt, "speakers": self.speakers}
        optional = {"labels": None if self.labels is None else list(self.labels),
                    "min_speakers": self.min_speakers, "max_speakers": self.max_speakers}
        return {**key, **{name: value for name, value in optional.items() if value is not None}}


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch stands, as given to the ``progress`` callback of :func:`analyze_many`.

    Attributes
    ----------
    total : int
        Recordings in the batch.
    done : int
        Recordings finished: analysed, failed, or already done by an earlier run.
    resumed : int
        Of them, already done by an earlier run (with the same content, model and options).
    failed : int
        Of them, failed.
    audio_s : float
        Seconds of audio this run has to analyse (resumed recordings left out).
    audio_done_s : float
        Of them, analysed so far: with the time since the start, the rate and the ETA.
    path : str or None
        The recording just finished (``None`` in the first report, before any work).
    """

    total: int
    done: int
    resumed: int
    failed: int
    audio_s: float
    audio_done_s: float
    path: str | None = None


# --- inputs ---------------------------------------------------------------------------------

def find_recordings(paths: Iterable[str | os.PathLike]) -> list[Recording]:
    """The recordings of files, folders (searched for audio files) and CSV manifests.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        In the order their recordings are analysed and reported; a folder's files in sorted
        order, a manifest's in its row order. A path given twice is analysed once.

    Raises
    ------
    CorpusError
        A manifest without a ``path`` column or with an empty path.
    """
    recordings: list[Recording] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files, unreadable = audio_files(path)
            recordings += [Recording(str(file), output_name(file.relative_to(path)))
                           for file in files]
            recordings += [Recording(folder, output_name(Path(folder).relative_to(path)),
                                     problem=problem) for folder, problem in unreadable]
        elif path.suffix.lower() == ".csv" and path.is_file():
            recordings += read_manifest(path)
        else:
            # As given: the JSON's path is then the one `sera analyze FILE --json` prints.
            recordings.append(Recording(os.fspath(given), output_name(PurePath(path.name))))
    first: dict[str, Recording] = {}
    for recording in recordings:
        first.setdefault(recording.path, recording)
    return list(first.values())


def read_manifest(manifest: Path) -> list[Recording]:
    """The recordings a CSV manifest lists: its ``path`` column, its other columns carried.

    A relative path is relative to the manifest's folder; the output name is the path
    relative to that folder (a file outside it: its file name).
    """
    with open(manifest, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        if "path" not in (reader.fieldnames or ()):
            raise CorpusError(f"{manifest}: a manifest needs a 'path' column (it has "
                              f"{', '.join(reader.fieldnames or ()) or 'none'})")
        rows = list(reader)
    root = manifest.parent
    recordings = []
    for line, row in enumerate(rows, start=2):
        value = (row.pop("path") or "").strip()
        if not value:
            raise CorpusError(f"{manifest}: line {line} has no path")
        path = root / value
        recordings.append(Recording(str(path), output_name(_relative_to(path, root)),
                                    {key: value or "" for key, value in row.items()
                                     if key is not None}))
    return recordings


def output_name(relative: PurePath) -> str:
    """The output name of a recording at ``relative``: POSIX separators, audio suffix dropped."""
    return PurePosixPath(*relative.parts).with_suffix("").as_posix()


def _relative_to(path: Path, root: Path) -> PurePath:
    """``path`` relative to ``root`` when it lies under it, else its file name alone."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if relative == ".." or relative.startswith(".." + os.sep):
        return PurePath(path.name)
    return PurePath(relative)


def check_outputs(recordings: Sequence[Recording], formats: Sequence[str],
                  labels: Sequence[str], out: Path) -> None:
    """Refuse a batch whose recordings would overwrite each other's outputs or the tables,
    or whose manifest columns would take the place of a summary column.

    Raises
    ------
    InputError
        Naming the recordings and the file they would share, or the column.
    """
    owner: dict[str, str] = {f"{table}.{suffix}": f"the {table} table"
                             for table in (SUMMARY, SPEAKERS) for suffix in ("csv", "parquet")}
    for recording in recordings:
        for fmt in formats:
            target = f"{recording.name}.{fmt}"
            if target in owner:
                raise InputError(f"{owner[target]} and {recording.path} would both be written "
                                 f"to {out / target}: analyze them into separate folders")
            owner[target] = recording.path
    taken = set(summary_columns(labels, AFFECT, ()))
    for recording in recordings:
        clash = sorted(taken & set(recording.columns))
        if clash:
            raise InputError(f"{recording.path}: the manifest column {clash[0]!r} is also a "
                             f"summary column: rename it")


# --- resume ---------------------------------------------------------------------------------

def content_hash(path: str) -> str | None:
    """SHA-256 of a file's bytes, or ``None`` when it cannot be read (analysis will say why)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            while chunk := file.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def model_fingerprint(config: dict) -> str:
    """SHA-256 of a bundle's ``config.json`` (which holds the SHA-256 of its ONNX graph)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def recording_key(path: str, content: str, model: str, options: AnalyzeOptions) -> str:
    """What a recording's outputs are a function of, hashed: the path (the JSON records it),
    the file's bytes, the model, the analyze options and the sera version."""
    from sera import __version__

    made_of = {"path": path, "audio": content, "model": model, "options": options.to_key(),
               "sera": __version__}
    return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()


class ResumeIndex:
    """What earlier runs finished in an output folder: one JSON line per output name,
    ``{"name", "key", "sizes": {format: bytes}}``.

    A line is appended only once every file of its recording is in place, so a line names
    complete files; a torn last line (a run killed while appending) is ignored. Reading it
    rewrites it without torn or superseded lines, and :meth:`compact` does so at the end of
    a run, sorted by name, so an interrupted and resumed batch ends with the same index as
    an uninterrupted one.
    """

    def __init__(self, out: Path):
        self.out = out
        self.path = out / INDEX
        self.entries = _read_index(self.path)
        self.compact()

    def is_done(self, name: str, key: str | None, formats: Sequence[str]) -> bool:
        """Whether ``name`` was made with ``key`` and its ``formats`` files are all there, at
        the sizes they were written with."""
        entry = self.entries.get(name)
        if key is None or entry is None or entry["key"] != key:
            return False
        sizes = entry["sizes"]
        return all(fmt in sizes and sizes[fmt] == _size(self.out / f"{name}.{fmt}")
                   for fmt in formats)

    def record(self, name: str, key: str, sizes: dict[str, int]) -> None:
        """Note that ``name``'s files (of ``sizes``) are complete and were made with ``key``."""
        entry = {"name": name, "key": key, "sizes": sizes}
        self.entries[name] = entry
        try:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(json.dumps(entry, sort_keys=True) + "\n")
        except OSError as err:
            raise SeraError(f"{self.path}: cannot write ({os_problem(err)})") from None

    def forget(self, name: str) -> None:
        """Drop ``name`` (its recording failed): its old outputs go, its line at compaction."""
        if self.entries.pop(name, None) is not None:
            for fmt in FORMATS:
                (self.out / f"{name}.{fmt}").unlink(missing_ok=True)

    def compact(self) -> None:
        """Rewrite the index atomically: one line per name, sorted."""
        text = "".join(json.dumps(self.entries[name], sort_keys=True) + "\n"
                       for name in sorted(self.entries))
        write_atomic(self.path, text.encode())


def _read_index(path: Path) -> dict[str, dict]:
    """The entries of an index file, the last one per name; unreadable lines left out."""
    entries: dict[str, dict] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return entries
    for line in lines:
        try:
            entry = json.loads(line)
            name, key, sizes = entry["name"], entry["key"], entry["sizes"]
        except (ValueError, TypeError, KeyError):
            continue
        if isinstance(name, str) and isinstance(key, str) and isinstance(sizes, dict):
            entries[name] = {"name": name, "key": key, "sizes": sizes}
    return entries


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


# --- outputs --------------------------------------------------------------------------------

@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A hidden temporary path beside ``path`` to write to, moved into place when the block
    ends.

    The temporary name is fixed per target (this process is the only writer), so one left by
    a killed run is simply overwritten when its recording is redone.

    Raises
    ------
    SeraError
        The folder or the file cannot be written (a full disk, no permission): one line with
        the path and the system's reason; the temporary file is removed.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        os.replace(partial, path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise SeraError(f"{path}: cannot write ({os_problem(err)})") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`replacing`."""
    with replacing(path) as partial:
        partial.write_bytes(data)


def write_outputs(out: Path, name: str, analysis: Analysis, formats: Sequence[str],
                  labels: Sequence[str]) -> dict[str, int]:
    """Write a recording's files (``name.json`` and the other ``formats``); their sizes."""
    render = {"json": lambda: json_text(to_json(analysis)),
              "csv": lambda: to_csv(analysis, labels), "srt": lambda: to_srt(analysis)}
    sizes = {}
    for fmt in formats:
        data = render[fmt]().encode("utf-8")
        write_atomic(out / f"{name}.{fmt}", data)
        sizes[fmt] = len(data)
    return sizes


def table_figures(figures: dict) -> dict:
    """:func:`sera.summary.emotion_figures` as table cells: one ``share_<label>`` column per
    label; mean arousal and valence only when there are some."""
    cells = {key: figures[key] for key in ("utterances", "speaking_time", "dominant_emotion")}
    cells.update((f"share_{label}", share) for label, share in figures["shares"].items())
    cells.update((f"mean_{key}", figures[f"mean_{key}"]) for key in AFFECT
                 if figures[f"mean_{key}"] is not None)
    return cells


def summary_row(recording: Recording, doc: dict | None, labels: Sequence[str],
                problem: str = "") -> dict:
    """The summary table's row of a recording: from its JSON document, or its problem."""
    figures = {} if doc is None else {"duration": doc["duration"],
                                      "speakers": len(doc["speakers"]),
                                      **table_figures(emotion_figures(doc["segments"], labels))}
    return {"path": recording.path, **figures, **recording.columns, "error": problem}


def speaker_rows(recording: Recording, doc: dict, labels: Sequence[str]) -> list[dict]:
    """The speaker table's rows of a recording: one per speaker, in order of appearance."""
    speakers = summarize(doc["segments"], labels)["speakers"]
    return [{"recording": recording.path, "speaker": speaker, **table_figures(figures)}
            for speaker, figures in speakers.items()]


def summary_columns(labels: Sequence[str], affect: Iterable[str],
                    manifest: Iterable[str]) -> list[str]:
    """The summary table's columns."""
    return ["path", "duration", "speakers", "utterances", "speaking_time",
            "dominant_emotion", *(f"share_{label}" for label in labels),
            *(f"mean_{key}" for key in affect), *manifest, "error"]


def speaker_columns(labels: Sequence[str], affect: Iterable[str]) -> list[str]:
    """The speaker table's columns."""
    return ["recording", "speaker", "speaking_time", "utterances", "dominant_emotion",
            *(f"share_{label}" for label in labels), *(f"mean_{key}" for key in affect)]


def write_tables(out: Path, summary: list[dict], speakers: list[dict], labels: Sequence[str],
                 recordings: Sequence[Recording]) -> None:
    """Write ``summary.csv`` and ``speakers.csv`` (and ``.parquet`` copies when pyarrow is
    importable). Mean arousal and valence columns appear when some segment has them."""
    affect = [key for key in AFFECT if any(f"mean_{key}" in row for row in summary)]
    manifest = list(dict.fromkeys(column for r in recordings for column in r.columns))
    tables = {SUMMARY: (summary_columns(labels, affect, manifest), summary),
              SPEAKERS: (speaker_columns(labels, affect), speakers)}
    try:
        import pyarrow  # noqa: F401  (only to know whether the Parquet copies can be written)
    except ImportError:
        parquet = False
    else:
        parquet = True
    for table, (columns, rows) in tables.items():
        write_atomic(out / f"{table}.csv", csv_text(columns, rows).encode("utf-8"))
        if parquet:
            write_parquet(out / f"{table}.parquet", columns, rows)


def csv_text(columns: Sequence[str], rows: Iterable[dict]) -> str:
    """Rows as CSV; a missing or ``None`` value is an empty cell."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else row[column] for column in columns])
    return text.getvalue()


def write_parquet(path: Path, columns: Sequence[str], rows: Sequence[dict]) -> None:
    """Rows as a Parquet file, written atomically; a missing value is null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({column: pa.array([row.get(column) for row in rows]) for column in columns})
    with replacing(path) as partial:
        pq.write_table(table, partial)


# --- work -----------------------------------------------------------------------------------

def analyze_one(model, path: str, options: AnalyzeOptions) -> Analysis | str:
    """``model.analyze(path, ...)``, or the one-line problem it had: a batch goes on."""
    if options.labels is not None:
        # Worker processes load the bundle afresh: the restriction travels in the options.
        model = model.with_labels(options.labels)
    try:
        return model.analyze(path, params=options.params, adapt=options.adapt,
                             speakers=options.speakers, min_speakers=options.min_speakers,
                             max_speakers=options.max_speakers)
    except SeraError as err:
        return getattr(err, "problem", str(err))
    except Exception as err:  # noqa: BLE001  (whatever a bad file makes a library raise)
        lines = str(err).strip().splitlines()
        return f"{type(err).__name__}: {lines[0] if lines else 'failed'}"


def _results(model, todo: list[tuple[int, str]], options: AnalyzeOptions, workers: int,
             dask: str | None) -> Iterator[tuple[int, Analysis | str]]:
    """``(index, Analysis or problem)`` of each ``(index, path)``, in completion order.

    One worker runs here with one feature thread, as each pool or Dask worker does; a single
    recording runs here with the model's own feature threads (one per CPU by default).
    """
    if not todo:
        return
    if dask is not None:
        yield from _on_dask(model, todo, options, dask)
    elif len(todo) == 1 and workers > 1:
        yield todo[0][0], analyze_one(model, todo[0][1], options)
    elif workers <= 1:
        single = model if model.threads == 1 else type(model)(model.bundle, threads=1)
        for index, path in todo:
            yield index, analyze_one(single, path, options)
    else:
        yield from _on_pool(model, todo, options, workers)


#: The model and options of a pool worker process, set once by :func:`_start_worker`.
_WORKER: tuple | None = None


def _start_worker(bundle: str, options: AnalyzeOptions) -> None:
    from threadpoolctl import threadpool_limits

    from sera.infer import load

    global _WORKER
    # One BLAS/OpenMP thread per worker: the pool already uses the cores it is given.
    threadpool_limits(1)
    _WORKER = (load(bundle, threads=1), options)


def _analyze_in_worker(item: tuple[int, str]) -> tuple[int, Analysis | str]:
    model, options = _WORKER
    index, path = item
    return index, analyze_one(model, path, options)


def _on_pool(model, todo, options: AnalyzeOptions, workers: int):
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from sera.features.executors import pool_context

    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)),
                               mp_context=pool_context(["sera.batch", "sera.infer"]),
                               initializer=_start_worker, initargs=(str(model.path), options))
    pending = iter(todo)
    running = {pool.submit(_analyze_in_worker, item)
               for item in itertools.islice(pending, TASKS_PER_WORKER * workers)}
    try:
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                following = next(pending, None)
                if following is not None:
                    running.add(pool.submit(_analyze_in_worker, following))
                yield future.result()
    except BrokenProcessPool:
        raise SeraError("an analyze worker process died (out of memory, or a crash in a "
                        "native library?); finished recordings are kept: rerun to go on, "
                        "with --workers 1 to find the recording") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _on_dask(model, todo, options: AnalyzeOptions, address: str):
    # Imported here: Dask is only loaded when asked for.
    from sera.features.executors import DASK_TASKS_PER_THREAD
    from sera.infer import DEFAULT_MODEL
    from sera.scale import client_for, map_unordered, parallelism

    # The default model is the worker's own installed copy (its path differs between
    # installs); any other bundle must be at the same path on every worker.
    bundle = None if Path(model.path).resolve() == DEFAULT_MODEL else str(model.path)
    with client_for(address) as client:
        threads = parallelism(client)
        yield from map_unordered(client, _analyze_on_dask_worker, todo, bundle,
                                 model_fingerprint(model.config), options,
                                 in_flight=DASK_TASKS_PER_THREAD * threads)


#: Models loaded by a Dask worker process, by (bundle path, fingerprint), shared by its threads.
_DASK_MODELS: dict[tuple, object] = {}
_DASK_LOCK = threading.Lock()


def _analyze_on_dask_worker(bundle: str | None, fingerprint: str, options: AnalyzeOptions,
                            item: tuple[int, str]) -> tuple[int, Analysis | str]:
    """The task a Dask worker runs: it analyses one recording with the client's model, loaded
    once per worker process.

    Raises
    ------
    BundleError
        The worker's copy of the model differs from the client's (another sera or bundle):
        its results would not be the client's.
    """
    from sera.infer import load

    with _DASK_LOCK:
        model = _DASK_MODELS.get((bundle, fingerprint))
        if model is None:
            model = load(bundle, threads=1)
            if model_fingerprint(model.config) != fingerprint:
                raise BundleError(f"{model.path}: this Dask worker's model is not the "
                                  f"client's (install the same sera and bundle on every worker)")
            _DASK_MODELS[(bundle, fingerprint)] = model
    index, path = item
    return index, analyze_one(model, path, options)


# --- the batch ------------------------------------------------------------------------------

class OutputFolder:
    """Where a batch writes: each recording's files, the resume index, and the table rows
    (kept until :meth:`close` writes the tables).

    Raises
    ------
    InputError
        ``out`` is a file, or the recordings' outputs would collide (:func:`check_outputs`).
    """

    def __init__(self, out: Path, recordings: Sequence[Recording], formats: Sequence[str],
                 labels: Sequence[str]):
        if out.exists() and not out.is_dir():
            raise InputError(f"{out}: exists and is not a folder")
        check_outputs(recordings, formats, labels, out)
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.recordings, self.formats, self.labels = out, recordings, formats, labels
        self.index = ResumeIndex(out)
        self.keys: list[str | None] = [None] * len(recordings)
        self.summary: list[dict | None] = [None] * len(recordings)
        self.speakers: list[list[dict]] = [[] for _ in recordings]

    def done(self, model: str, options: AnalyzeOptions) -> set[int]:
        """Hash every recording; the indices of those an earlier run finished."""
        done = set()
        for i, recording in enumerate(self.recordings):
            content = content_hash(recording.path)
            if content is not None:
                self.keys[i] = recording_key(recording.path, content, model, options)
            if self.index.is_done(recording.name, self.keys[i], self.formats):
                done.add(i)
        return done

    def finish(self, i: int, result: Analysis | AudioError) -> None:
        """Write a fresh result's files, then enter it in the index and the tables."""
        recording = self.recordings[i]
        if isinstance(result, AudioError):
            self.index.forget(recording.name)
            self.summary[i] = summary_row(recording, None, self.labels, result.problem)
            return
        sizes = write_outputs(self.out, recording.name, result, self.formats, self.labels)
        if self.keys[i] is not None:
            self.index.record(recording.name, self.keys[i], sizes)
        self._tabulate(i, to_json(result))

    def read_back(self, i: int) -> Analysis:
        """A recording an earlier run finished, from its JSON (and into the tables)."""
        path = self.out / f"{self.recordings[i].name}.json"
        doc = json.loads(path.read_text(encoding="utf-8"))
        self._tabulate(i, doc)
        return analysis_from_json(doc)

    def _tabulate(self, i: int, doc: dict) -> None:
        # From the JSON document, fresh or read back: a resumed batch's tables are the
        # bytes of an uninterrupted one's.
        self.summary[i] = summary_row(self.recordings[i], doc, self.labels)
        self.speakers[i] = speaker_rows(self.recordings[i], doc, self.labels)

    def close(self) -> None:
        """Compact the index and write the tables."""
        self.index.compact()
        write_tables(self.out, self.summary, [row for rows in self.speakers for row in rows],
                     self.labels, self.recordings)


def analyze_many(model, paths: Iterable[str | os.PathLike], out: str | os.PathLike | None = None,
                 *, workers: int | None = None, dask: str | None = None,
                 progress: Callable[[BatchProgress], None] | None = None,
                 formats: Sequence[str] = ("json",), params: SegmenterParams | None = None,
                 adapt: str = "speaker", speakers: int | None = None,
                 min_speakers: int | None = None, max_speakers: int | None = None,
                 ) -> Iterator[tuple[str, Analysis | AudioError]]:
    """Analyze many recordings; see :meth:`sera.infer.Model.analyze_many`.

    The tables are written, and the index compacted, once the last result has been yielded.
    """
    check_adapt(adapt)
    check_speakers(speakers, min_speakers, max_speakers)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise InputError(f"output formats are {', '.join(FORMATS)}, not {unknown[0]!r}")
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, not {workers}")
    formats = ("json", *(fmt for fmt in FORMATS[1:] if fmt in formats))
    restricted = tuple(model.labels) if tuple(model.labels) != tuple(model.bundle.labels) \
        else None
    options = AnalyzeOptions(params or SegmenterParams(), adapt, speakers, restricted,
                             min_speakers, max_speakers)
    paths = list(paths)
    recordings = find_recordings(paths)
    if not recordings:
        raise InputError(f"no audio files in {', '.join(map(os.fspath, paths)) or 'no paths'}")
    folder = None if out is None else OutputFolder(Path(out), recordings, formats, model.labels)
    resumed = set() if folder is None else folder.done(model_fingerprint(model.config), options)
    refused = {i: AudioError(r.path, r.problem) for i, r in enumerate(recordings)
               if r.problem is not None}
    todo = [(i, recordings[i].path) for i in range(len(recordings))
            if i not in resumed and i not in refused]
    seconds = {**{i: _duration(path) for i, path in todo}, **dict.fromkeys(refused, 0.0)}
    state = BatchProgress(total=len(recordings), done=len(resumed), resumed=len(resumed),
                          failed=0, audio_s=sum(seconds.values()), audio_done_s=0.0)
    if progress is not None:
        progress(state)

    finished: dict[int, Analysis | AudioError] = {}
    next_up = 0

    def in_order() -> Iterator[tuple[str, Analysis | AudioError]]:
        """The results ready to be yielded in input order."""
        nonlocal next_up
        while next_up < len(recordings) and (next_up in resumed or next_up in finished):
            result = (folder.read_back(next_up) if next_up in resumed
                      else finished.pop(next_up))
            yield recordings[next_up].path, result
            next_up += 1

    yield from in_order()
    for i, result in itertools.chain(refused.items(),
                                     _results(model, todo, options, _workers(workers), dask)):
        if isinstance(result, str):
            result = AudioError(recordings[i].path, result)
        if folder is not None:
            folder.finish(i, result)
        finished[i] = result
        state = replace(state, done=state.done + 1,
                        failed=state.failed + isinstance(result, AudioError),
                        audio_done_s=state.audio_done_s + seconds[i], path=recordings[i].path)
        if progress is not None:
            progress(state)
        yield from in_order()
    if folder is not None:
        folder.close()


def _workers(workers: int | None) -> int:
    from sera.features.executors import cpu_count

    return cpu_count() if workers is None else workers


def _duration(path: str) -> float:
    """Seconds of audio in a file from its header; 0 when unreadable (its analysis says why)."""
    try:
        meta = info(path)
    except SeraError:
        return 0.0
    return meta.frames / meta.samplerate
