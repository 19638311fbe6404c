"""Many recordings: find them, analyze each once, write their outputs and the summary tables.

:func:`analyze_many` is what :meth:`sera.infer.Model.analyze_many` and ``sera analyze PATH...
--out DIR`` run. It works in four steps, a module each:

1. **Inputs** (:mod:`sera.batch.inputs`): files, folders (searched for audio) and CSV
   manifests (a ``path`` column, relative to the manifest's folder or absolute; the other
   columns are carried into the summary). Each recording gets an output *name*: its path
   relative to the folder or manifest it came from (a file argument: its file name), audio
   suffix dropped.
2. **Resume** (:mod:`sera.batch.resume`): ``DIR/.sera-index.jsonl`` holds, per output name,
   the key of what made it (the path, a SHA-256 of the file's bytes, the model's fingerprint,
   the analyze options, the sera version) and the size of each file written. A recording is
   skipped when its key matches and its files are there at those sizes.
3. **Work** (:mod:`sera.batch.work`): this process, a pool of worker processes (the model
   loaded once per worker by the pool's initializer) or a Dask cluster (:mod:`sera.scale`),
   each recording one task analysed with one feature thread. Workers send back the
   :class:`~sera.results.Analysis` (or the one-line problem); only this process writes files,
   so there is one writer of the index.
4. **Outputs** (:mod:`sera.batch.outputs`): ``DIR/<name>.json`` (the bytes ``sera analyze
   FILE --json`` prints), ``.csv`` / ``.srt`` beside it when asked for, each written to a
   temporary file and moved into place (``os.replace``), and only then recorded in the index:
   a run killed at any point (``kill -9``) leaves no file that a rerun takes as done unless it
   is complete. At the end ``DIR/summary.csv`` (one row per recording) and
   ``DIR/speakers.csv`` (one row per speaker of each recording), plus ``.parquet`` copies when
   pyarrow is importable. The tables are computed from the JSON documents, so a resumed run
   writes the same bytes as an uninterrupted one.

Results are yielded in input order; files are written as each recording finishes, so nothing
finished waits on a slower recording before it is safe on disk.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from sera.audio import info
from sera.batch.inputs import Recording, check_outputs, find_recordings
from sera.batch.outputs import FORMATS, speaker_rows, summary_row, write_outputs, write_tables
from sera.batch.resume import ResumeIndex, content_hash, model_fingerprint, recording_key
from sera.batch.work import AnalyzeOptions, analyze_all
from sera.conversation import check_adapt, check_speakers
from sera.errors import AudioError, InputError, SeraError
from sera.formats import analysis_from_json, to_json
from sera.progress import ProgressReport
from sera.results import Analysis
from sera.segment import SegmenterParams

#: What a batch reports progress of (:mod:`sera.progress`): recordings done, of all of them
#: (those an earlier run did included), and seconds of audio analysed, of what this run has
#: to analyse.
RECORDINGS, AUDIO_SECONDS = "recordings", "seconds of audio"


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
                 progress: ProgressReport | None = None,
                 formats: Sequence[str] = ("json",), params: SegmenterParams | None = None,
                 adapt: str = "speaker", num_speakers: int | None = None,
                 min_speakers: int | None = None, max_speakers: int | None = None,
                 ) -> Iterator[tuple[str, Analysis | AudioError]]:
    """Analyze many recordings; see :meth:`sera.infer.Model.analyze_many`.

    ``progress`` is told of :data:`RECORDINGS` (done of all, counting those an earlier run
    did: the first report, before any work, is how many that is) and of :data:`AUDIO_SECONDS`
    (seconds of audio this run analyses, rounded). The tables are written, and the index
    compacted, once the last result has been yielded.
    """
    check_adapt(adapt)
    check_speakers(num_speakers, min_speakers, max_speakers)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise InputError(f"output formats are {', '.join(FORMATS)}, not {unknown[0]!r}")
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, not {workers}")
    formats = ("json", *(fmt for fmt in FORMATS[1:] if fmt in formats))
    restricted = tuple(model.labels) if tuple(model.labels) != tuple(model.bundle.labels) \
        else None
    options = AnalyzeOptions(params or SegmenterParams(), adapt, num_speakers, restricted,
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
    report = progress or (lambda description, done, total: None)
    done, audio_s, audio_done_s = len(resumed), sum(seconds.values()), 0.0
    report(RECORDINGS, done, len(recordings))
    report(AUDIO_SECONDS, 0, round(audio_s))

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
                                     analyze_all(model, todo, options, _workers(workers), dask)):
        if isinstance(result, str):
            result = AudioError(recordings[i].path, result)
        if folder is not None:
            folder.finish(i, result)
        finished[i] = result
        done, audio_done_s = done + 1, audio_done_s + seconds[i]
        report(RECORDINGS, done, len(recordings))
        report(AUDIO_SECONDS, round(audio_done_s), round(audio_s))
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
