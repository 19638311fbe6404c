"""``sera predict``, ``sera analyze``, ``sera listen`` and ``sera export``: running a model.

Nothing here imports torch: the model runs on onnxruntime (:mod:`sera.infer`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from sera.cli._app import (
    LABELS_HELP,
    app,
    err,
    fail,
    load_model,
    print_error,
    print_json,
    report_failures,
    shown,
    utf8_text,
)
from sera.cli._progress import progress_bars

ADAPT_HELP = ("Normalise features by the statistics of each group of clips: none (the training "
              "statistics), recording (each file), speaker or corpus (from the corpus layout "
              "of each folder or CSV manifest).")


def _check_recording_adapt(adapt: str) -> None:
    from sera.conversation import check_adapt

    try:
        check_adapt(adapt)
    except ValueError as error:
        fail(f"--adapt: {error}")


# --- sera predict ---------------------------------------------------------------------------

@app.command("predict")
def predict(
    paths: list[Path] = typer.Argument(..., help="Audio files, folders (searched for audio "
                                                 "files) or CSV manifests."),
    model_dir: Path | None = typer.Option(None, "--model", help="Model bundle directory "
                                                                "(default: the shipped model)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list on stdout."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV on stdout: path, label, "
                                                     "arousal, valence, one column per label, "
                                                     "error."),
    workers: int | None = typer.Option(None, "--workers", min=1,
                                       help="Processes computing features (default: one per "
                                            "CPU core, for long lists)."),
    adapt: str = typer.Option("none", "--adapt", help=ADAPT_HELP),
    group_by: str | None = typer.Option(None, "--group-by",
                                        help="Manifest column whose values group the clips "
                                             "for --adapt (default: speaker or corpus)."),
    dask: str | None = typer.Option(None, "--dask", metavar="ADDRESS",
                                    help="Compute features on a Dask cluster (a scheduler "
                                         "address, or 'local' for a LocalCluster)."),
    labels: str | None = typer.Option(None, "--labels", help=LABELS_HELP),
) -> None:
    """Predict the emotion of each audio file."""
    if as_json and as_csv:
        fail("choose one of --json and --csv")
    clips, groups, unreadable = _clips_and_groups(paths, adapt, group_by)
    if not clips:
        report_failures(unreadable)
        fail(f"no audio files in {', '.join(map(str, paths))}")
    model = load_model(model_dir, labels)
    with progress_bars() as progress:
        predictions, failures = model.predict_many(clips, adapt=adapt, groups=groups,
                                                   workers=workers, dask=dask,
                                                   progress=progress if len(clips) > 1 else None)
    # Results and failures in the order of the clips, then the folders that could not be read.
    rows = (_in_order(clips, [p.to_dict() for p in predictions],
                      [{"path": path, "error": problem} for path, problem in failures])
            + [{"path": path, "error": problem} for path, problem in unreadable])
    if as_json:
        print_json(rows)
    elif as_csv:
        _print_predictions_csv(rows, model.labels)
    else:
        _print_predictions_table(predictions, len(clips))
    if report_failures([*unreadable, *failures]):
        raise typer.Exit(1)


def _clips_and_groups(paths: list[Path], adapt: str, group_by: str | None,
                      ) -> tuple[list[str], list[str] | None, list[tuple[str, str]]]:
    """The files to classify, for ``adapt`` the group of each (:func:`sera.corpora.
    collect_clips`: speakers or corpora from the corpus layout), and the unreadable folders."""
    from sera.corpora.scan import collect_clips
    from sera.errors import InputError, check_choice
    from sera.options import ADAPTS

    try:
        check_choice("adaptation", adapt, ADAPTS)
    except InputError as error:
        fail(f"--adapt: {error}")
    column = group_by or (adapt if adapt in ("speaker", "corpus") else None)
    try:
        clips, groups, unreadable = collect_clips(paths, column)
    except InputError as error:
        fail(str(error))
    return clips, (groups if adapt != "none" else None), unreadable


def _in_order(clips: list[str], items: list[dict], failed: list[dict]) -> list[dict]:
    """Results and failures merged back into the order of ``clips``."""
    by_path: dict[str, list[dict]] = {}
    for item in [*items, *failed]:
        by_path.setdefault(item["path"], []).append(item)
    return [by_path[clip].pop(0) for clip in clips if by_path.get(clip)]


def _print_predictions_csv(rows: list[dict], labels) -> None:
    """``predict --csv``: a row per ``predict --json`` item."""
    import csv

    from sera.formats import affect_cell

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["path", "label", "arousal", "valence", *labels, "error"])
    for row in rows:
        if "error" in row:
            writer.writerow([utf8_text(row["path"]), "", "", "", *[""] * len(labels),
                             utf8_text(row["error"])])
        else:
            writer.writerow([utf8_text(row["path"]), row["label"],
                             *(affect_cell(row[key]) for key in ("arousal", "valence")),
                             *(f"{row['scores'][label]:.4f}" for label in labels), ""])


def _print_predictions_table(predictions, total: int) -> None:
    table = Table(title=f"{len(predictions)} of {total} file(s) classified",
                  title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("emotion")
    table.add_column("p", justify="right")
    table.add_column("runner-up")
    table.add_column("arousal", justify="right")
    table.add_column("valence", justify="right")
    for p in predictions:
        ranked = sorted(p.scores.items(), key=lambda item: -item[1])
        second = f"{ranked[1][0]} {ranked[1][1]:.2f}" if len(ranked) > 1 else ""
        table.add_row(shown(p.path), p.label, f"{p.scores[p.label]:.2f}", second,
                      *_affect_cells(p))
    err.print(table)


# --- sera analyze ---------------------------------------------------------------------------

@app.command("analyze")
def analyze(
    files: list[str] = typer.Argument(..., metavar="FILE_OR_PATH...",
                                      help="Audio file; - reads standard input (with --stream). "
                                           "With --out: files, folders (searched for audio "
                                           "files) and CSV manifests (a path column)."),
    model_dir: Path | None = typer.Option(None, "--model", help="Model bundle directory "
                                                                "(default: the shipped model)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV on stdout."),
    as_srt: bool = typer.Option(False, "--srt", help="Print SubRip subtitles on stdout."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a timeline PNG: waveform with "
                                                          "coloured utterance spans."),
    stream: bool = typer.Option(False, "--stream", help="Print each utterance as one JSON line "
                                                        "as soon as it ends."),
    rate: int = typer.Option(16000, "--rate", min=1, help="Sample rate of raw 16-bit PCM on "
                                                          "standard input (a WAV stream says "
                                                          "its own)."),
    adapt: str = typer.Option("speaker", "--adapt",
                              help="speaker: normalise each speaker's utterances by that "
                                   "speaker's statistics; recording: by the whole recording's "
                                   "(with --stream: of the utterances so far); none."),
    speakers: int | None = typer.Option(None, "--speakers", min=1,
                                        help="How many speakers (default: found from the "
                                             "voices; 1 turns diarization off)."),
    min_speakers: int | None = typer.Option(None, "--min-speakers", min=1,
                                            help="Least number of speakers to find (a meeting "
                                                 "of three to five: --min-speakers 3 "
                                                 "--max-speakers 5)."),
    max_speakers: int | None = typer.Option(None, "--max-speakers", min=1,
                                            help="Most speakers to find."),
    threshold: float | None = typer.Option(None, "--threshold",
                                           help="Speech probability that starts speech "
                                                "(default 0.5)."),
    min_silence: float | None = typer.Option(None, "--min-silence",
                                             help="Pause (s) that ends an utterance "
                                                  "(default 0.25)."),
    min_speech: float | None = typer.Option(None, "--min-speech",
                                            help="Shorter utterances (s) are dropped "
                                                 "(default 0.25)."),
    max_utterance: float | None = typer.Option(None, "--max-utterance",
                                               help="Longer speech (s) is split (default 10)."),
    labels: str | None = typer.Option(None, "--labels", help=LABELS_HELP),
    out: Path | None = typer.Option(None, "--out", help="Analyze many recordings into this "
                                                        "folder: a JSON per recording (--csv, "
                                                        "--srt add those files), summary.csv "
                                                        "and speakers.csv; a rerun resumes."),
    workers: int | None = typer.Option(None, "--workers", min=1,
                                       help="With --out: processes analysing recordings "
                                            "(default: one per CPU core)."),
    dask: str | None = typer.Option(None, "--dask", metavar="ADDRESS",
                                    help="With --out: analyze each recording on a Dask cluster "
                                         "(a scheduler address, or 'local')."),
) -> None:
    """Find every utterance of a recording and its emotion; with --out, of many recordings."""
    from sera.segment import SegmenterParams

    formats = [name for name, on in (("--json", as_json), ("--csv", as_csv), ("--srt", as_srt))
               if on]
    if out is None:
        if len(files) != 1:
            fail("give one recording, or --out DIR to analyze many")
        if workers is not None or dask is not None:
            fail("--workers and --dask analyze many recordings: give --out DIR")
    elif stream or plot is not None or "-" in files:
        fail("--out analyzes files, folders and manifests into DIR; it does not combine "
              "with --stream, --plot or standard input")
    if len(formats) > 1 and out is None:
        fail(f"choose one of {', '.join(formats)}")
    if stream and (formats or plot is not None):
        fail("--stream prints JSON lines; it does not combine with --json, --csv, --srt or "
              "--plot")
    file = files[0]
    if file == "-" and not stream:
        fail("reading standard input needs --stream")
    _check_recording_adapt(adapt)
    from sera.conversation import check_speakers

    try:
        check_speakers(speakers, min_speakers, max_speakers)
    except ValueError as error:
        fail(str(error))
    if stream and (min_speakers is not None or max_speakers is not None):
        fail("--min-speakers and --max-speakers bound the speakers of a whole recording; a "
              "stream takes --speakers (the most speakers to tell apart)")
    overrides = {"threshold": threshold, "min_silence": min_silence, "min_speech": min_speech,
                 "max_utterance": max_utterance}
    try:
        params = SegmenterParams(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as error:
        fail(str(error))
    model = load_model(model_dir, labels)
    if out is not None:
        extra = [fmt for fmt, on in (("csv", as_csv), ("srt", as_srt)) if on]
        failed = _analyze_into(model, files, out, workers, dask, extra,
                               {"params": params, "adapt": adapt, "num_speakers": speakers,
                                "min_speakers": min_speakers, "max_speakers": max_speakers})
        if failed:
            raise typer.Exit(1)
        return
    if stream:
        _stream_json_lines(model, file, rate, params, adapt, speakers)
        return
    from sera.formats import to_csv, to_json, to_srt

    with err.status(Text(f"analyzing {shown(file)}")):
        analysis = model.analyze(file, params=params, adapt=adapt, num_speakers=speakers,
                                 min_speakers=min_speakers, max_speakers=max_speakers)
    if as_json:
        print_json(to_json(analysis))
    elif as_csv:
        sys.stdout.write(to_csv(analysis, model.labels))
    elif as_srt:
        sys.stdout.write(to_srt(analysis))
    else:
        _print_segments_table(file, analysis)
    if plot is not None:
        from sera.errors import os_problem
        from sera.plots import plot_timeline

        try:
            plot_timeline(file, analysis, plot)
        except OSError as error:
            fail(f"{plot}: cannot write the timeline ({os_problem(error)})")
        err.print(f"timeline written to {shown(plot)}")


def _analyze_into(model, paths: list[str], out: Path, workers: int | None, dask: str | None,
                  formats: list[str], options: dict) -> int:
    """``sera analyze PATH... --out DIR``: the batch under progress bars, one line per failed
    recording, then what was done; how many failed."""
    from sera.batch import RECORDINGS

    recordings: list[tuple[int, int]] = []  # (done, total); the first: before any work
    failed = 0
    with progress_bars() as bars:
        def report(description: str, done: int, total: int | None) -> None:
            if description == RECORDINGS:
                recordings.append((done, total))
            if bars is not None:
                bars(description, done, total)

        for _, result in model.analyze_many(paths, out, workers=workers, dask=dask,
                                            progress=report, formats=formats, **options):
            if isinstance(result, Exception):
                failed += 1
                print_error(result)
    (resumed, total), (done, _) = recordings[0], recordings[-1]
    err.print(f"{total} recording(s): {done - resumed - failed} analysed, {resumed} already "
              f"done, {failed} failed; tables in {out / 'summary.csv'} and "
              f"{out / 'speakers.csv'}", soft_wrap=True, markup=False)
    return failed


def _stream_json_lines(model, file: str, rate: int, params, adapt: str,
                       speakers: int | None) -> None:
    """Analyze a pipe (``-``) or a file as a stream, one JSON line per utterance."""
    from sera.audio import mono_blocks, read_pipe

    if file == "-":
        sample_rate, chunks = read_pipe(sys.stdin.buffer, rate)
    else:
        sample_rate, chunks = mono_blocks(file, seconds=1.0)
    for segment in model.stream(chunks, sample_rate, params, adapt=adapt,
                                num_speakers=speakers):
        _print_json_line(segment.to_dict())


def _print_json_line(obj) -> None:
    import json

    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _print_segments_table(file: str, segments) -> None:
    table = Table(title=Text(f"{shown(file)}: {len(segments)} utterance(s)"),
                  title_justify="left")
    table.add_column("start", justify="right")
    table.add_column("end", justify="right")
    table.add_column("speaker")
    table.add_column("emotion")
    table.add_column("p", justify="right")
    table.add_column("arousal", justify="right")
    table.add_column("valence", justify="right")
    for s in segments:
        table.add_row(f"{s.start:.2f}", f"{s.end:.2f}", s.speaker, s.label,
                      f"{s.scores[s.label]:.2f}", *_affect_cells(s))
    err.print(table)


def _affect_cells(result) -> list[str]:
    """A prediction's or segment's arousal and valence for a table (blank when it has none)."""
    return ["" if value is None else f"{value:.2f}" for value in (result.arousal, result.valence)]


# --- sera listen ----------------------------------------------------------------------------

@app.command("listen")
def listen(
    model_dir: Path | None = typer.Option(None, "--model", help="Model bundle directory "
                                                                "(default: the shipped model)."),
    device: str | None = typer.Option(None, "--device", help="Input device name or number "
                                                             "(default: the system's)."),
    adapt: str = typer.Option("speaker", "--adapt",
                              help="speaker: normalise by the statistics of the speaker's "
                                   "utterances heard so far; recording: of all of them; none."),
    speakers: int | None = typer.Option(None, "--speakers", min=1,
                                        help="The most speakers to tell apart (1: no "
                                             "diarization)."),
) -> None:
    """Listen to the microphone; print each utterance's speaker and emotion as one JSON line as
    it ends.

    Stop with Ctrl-C (the utterance in progress is then classified too).
    """
    import queue

    from sera.infer import load

    _check_recording_adapt(adapt)
    try:
        import sounddevice as sd
    except ImportError:
        fail("sera listen needs the sounddevice package: pip install 'sera[listen]'")
    except OSError as error:  # sounddevice raises it when PortAudio itself is missing
        fail(f"no microphone available: {error} (install PortAudio, e.g. libportaudio2)")
    selected = int(device) if device is not None and device.isdigit() else device
    try:
        info = sd.query_devices(selected, "input")
    except (sd.PortAudioError, ValueError) as error:
        fail(f"no microphone available: {error}")
    sample_rate = int(info["default_samplerate"])
    model = load(model_dir)
    heard: queue.Queue = queue.Queue()

    def callback(indata, frames, time, status) -> None:
        heard.put(indata[:, 0].copy())

    def chunks():
        try:
            while True:
                yield heard.get()
        except KeyboardInterrupt:
            return

    with sd.InputStream(device=selected, channels=1, samplerate=sample_rate, dtype="float32",
                        blocksize=sample_rate // 10, callback=callback):
        err.print(f"listening on {info['name']} at {sample_rate} Hz (Ctrl-C to stop)")
        for segment in model.stream(chunks(), sample_rate, adapt=adapt,
                                    num_speakers=speakers):
            _print_json_line(segment.to_dict())


# --- sera export ----------------------------------------------------------------------------

@app.command("export")
def export(
    model_dir: Path | None = typer.Argument(None, help="Model bundle directory (default: the "
                                                       "shipped model)."),
    onnx: Path = typer.Option(..., "--onnx", help="Where to write the ONNX graph."),
) -> None:
    """Write a model's ONNX graph, checked to load and to match the bundle, and say what it
    takes and gives."""
    from sera.infer import load

    err.print(load(model_dir).export_onnx(onnx), soft_wrap=True, markup=False)
