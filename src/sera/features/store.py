"""The feature store: a manifest's features in one Parquet file, computed in parallel, cached.

Layout of the file (the column contract of DESIGN.md): the manifest columns (``path``
absolute, ``corpus``, ``speaker``, ``gender``, ``emotion``, ``intensity``, ``text``), then
``sha1`` (of the file's bytes) and ``augment`` (``"none"`` for an original, else the
augmentation kind), then one float32 column per feature value in the set's order, and nothing
after. The Parquet metadata key ``sera`` holds JSON: format and version, the sera version, the
feature set's configuration and output shape, the augmentation settings, whether the run
finished, and the files that failed.

A row is keyed by the file's content hash, the feature configuration and the augmentation
kind: a second run over the same store reuses every row whose key still matches and computes
only what changed. The file is rewritten atomically (temporary file in the same folder, fsync,
``os.replace``) at the end and every :data:`CHECKPOINT_SECONDS` during a long run, so a run
that is killed leaves a valid store holding what it had finished, and the next run resumes.

The files are processed by one of the executors of :mod:`sera.features.executors` (this
process, a local process pool, a Dask cluster); results come back to this process, which alone
reads and writes the store.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import sera
from sera.corpora import COLUMNS as MANIFEST_COLUMNS
from sera.errors import FeatureError, first_line, os_problem
from sera.features.executors import ORIGINAL, Augmentation, compute
from sera.features.registry import get_feature_set
from sera.features.sets import FeatureSet
from sera.progress import ProgressReport, track

#: Columns between the manifest's and the features: content hash and augmentation kind.
ROW_COLUMNS: tuple[str, ...] = (*MANIFEST_COLUMNS, "sha1", "augment")

#: Parquet metadata key of the store's JSON description.
METADATA_KEY = b"sera"
FORMAT = "sera-features"
FORMAT_VERSION = 1

#: Least time between two checkpoint writes of a long run, in seconds.
CHECKPOINT_SECONDS = 30.0

#: Rewriting the store may take at most this share of a run's time: a checkpoint waits at
#: least ``CHECKPOINT_COST_RATIO`` times as long as the previous write took.
CHECKPOINT_COST_RATIO = 10.0

@dataclass
class FeatureTable:
    """Features of a manifest, one row per utterance (and per augmented copy).

    Attributes
    ----------
    frame : pandas.DataFrame
        :data:`ROW_COLUMNS`, then the float32 feature columns.
    failures : list of (str, str)
        ``(path, problem)`` for each file that could not be processed.
    meta : dict
        The store's description (see the module docstring).
    computed, reused : int
        Rows computed, and rows taken from the existing store, by the run that made the table
        (0 for a table read from disk).
    """

    frame: pd.DataFrame
    failures: list[tuple[str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    computed: int = 0
    reused: int = 0

    @property
    def feature_names(self) -> list[str]:
        """The feature columns, in order."""
        return list(self.frame.columns[len(ROW_COLUMNS):])

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one row's features (e.g. ``(2376,)`` or ``(64, 300)``)."""
        return tuple(self.meta["shape"])

    @property
    def X(self) -> np.ndarray:
        """Features as float32 ``(n_rows, *shape)``."""
        values = self.frame[self.feature_names].to_numpy(dtype=np.float32)
        return values.reshape(len(self.frame), *self.shape)

    @property
    def feature_set(self) -> FeatureSet:
        """The feature set that computed the table."""
        return get_feature_set(self.meta["feature_set"])


def extract_features(manifest: pd.DataFrame, feature_set: str | dict | FeatureSet, *,
                     out: str | os.PathLike | None = None, workers: int = 1,
                     augment: Augmentation | None = None, dask: str | None = None,
                     progress: ProgressReport | None = None) -> FeatureTable:
    """Compute (or reuse) the features of every utterance of a manifest.

    Parameters
    ----------
    manifest : pandas.DataFrame
        At least a ``path`` column; the other manifest columns are carried over where present.
    feature_set : str, dict or FeatureSet
        Anything :func:`sera.features.get_feature_set` accepts.
    out : path, optional
        The Parquet store to reuse and (atomically) update; afterwards it holds exactly this
        run's rows. With another feature configuration nothing in it is reused.
    workers : int
        Processes; 1 computes in this process.
    dask : str, optional
        Compute on a Dask cluster instead of local processes: a scheduler address
        (``"tcp://host:port"``) or ``"local"`` (a LocalCluster of two worker processes for
        this call). The workers read the files (they need sera and the files at the same
        paths); this process writes the store. Results are those of the process pool.
    augment : Augmentation, optional
        Adds one row per file and ``augment.kinds`` entry: the features of the augmented
        waveform (only give it training utterances).
    progress : ProgressReport, optional
        Told of each file computed (``"features <set>"``, of the files not reused;
        :mod:`sera.progress`).

    Returns
    -------
    FeatureTable
        Rows in manifest order (each original followed by its augmented copies).

    Raises
    ------
    FeatureError
        ``out`` exists but is not a sera feature store, or the manifest has no ``path``.
    sera.scale.DaskError
        With ``dask``: the cluster cannot be reached or lost a task.
    """
    feature_set = get_feature_set(feature_set)
    rows = _manifest_rows(manifest)
    kinds = (ORIGINAL, *(augment.kinds if augment is not None else ()))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "sera_version": sera.__version__,
            "feature_set": feature_set.to_config(), "shape": list(feature_set.shape),
            "augment": _augment_meta(augment), "complete": False, "failures": []}
    out = Path(out) if out is not None else None
    if out is not None and out.parent.is_dir():
        remove_stale_temporaries(out)
    cached = _read_cache(out, meta) if out is not None and out.exists() else {}

    hashes = [_sha1(path) for path in rows["path"]]
    vectors: dict[tuple[int, str], np.ndarray] = {}
    for i, digest in enumerate(hashes):
        for kind in kinds:
            if (digest, kind) in cached:
                vectors[i, kind] = cached[digest, kind]
    reused = len(vectors)
    todo = [(i, path, tuple(k for k in kinds if (i, k) not in vectors))
            for i, path in enumerate(rows["path"])
            if any((i, k) not in vectors for k in kinds)]
    kinds_todo = {i: todo_kinds for i, _, todo_kinds in todo}
    failures: dict[int, str] = {}

    def table(complete: bool) -> pa.Table:
        meta.update(complete=complete, failures=[[rows["path"][i], failures[i]]
                                                 for i in sorted(failures)])
        return _arrow_table(rows, hashes, kinds, vectors, feature_set.names, meta)

    checkpoint = _Checkpoint(out)
    description = f"features {feature_set.name}" + (f" ({reused} rows cached)" if reused else "")
    with closing(compute(todo, feature_set, augment, workers, dask)) as results:
        try:
            for i, result in track(results, progress if todo else None, description,
                                   total=len(todo)):
                if isinstance(result, str):
                    failures[i] = result
                else:
                    vectors.update(zip([(i, kind) for kind in kinds_todo[i]], result,
                                       strict=True))
                if checkpoint.due():
                    checkpoint.write(table(complete=False))
        except BaseException:
            # Keep what is done (Ctrl-C, a bug): the next run resumes from it.
            if out is not None:
                checkpoint.write(table(complete=False))
            raise
    final = table(complete=True)
    if out is not None:
        checkpoint.write(final)
    return FeatureTable(frame=final.to_pandas(), failures=list(map(tuple, meta["failures"])),
                        meta=meta, computed=len(vectors) - reused, reused=reused)


def read_features(path: str | os.PathLike) -> FeatureTable:
    """Read a feature store written by :func:`extract_features`.

    Raises
    ------
    FeatureError
        Missing, unreadable, or not a sera feature store.
    """
    meta, table = _read_store(Path(path))
    return FeatureTable(frame=table.to_pandas(), failures=list(map(tuple, meta["failures"])),
                        meta=meta)


class _Checkpoint:
    """Atomic rewrites of the store: due at most every :data:`CHECKPOINT_SECONDS`, and
    rarer when writing is slow (see :data:`CHECKPOINT_COST_RATIO`)."""

    def __init__(self, out: Path | None):
        self.out = out
        self.last = time.monotonic()
        self.cost = 0.0

    def due(self) -> bool:
        elapsed = time.monotonic() - self.last
        return (self.out is not None
                and elapsed >= max(CHECKPOINT_SECONDS, CHECKPOINT_COST_RATIO * self.cost))

    def write(self, table: pa.Table) -> None:
        start = time.monotonic()
        _write_atomic(table, self.out)
        self.last = time.monotonic()
        self.cost = self.last - start


def _write_atomic(table: pa.Table, out: Path) -> None:
    """Write ``table`` to ``out`` so that ``out`` is always either the old or the new file.

    Raises
    ------
    FeatureError
        The store cannot be written (a full disk, a folder that cannot be written): one line
        naming it and the system's reason; the temporary file is removed.
    """
    try:
        _replace(table, out)
    except OSError as err:
        raise FeatureError(f"{out}: cannot write the feature store ({os_problem(err)})") from None


def remove_stale_temporaries(out: Path) -> None:
    """Remove the temporary files (``.NAME.PID.tmp``) that runs killed while writing ``out``
    left beside it: those of processes that no longer exist."""
    for tmp in out.parent.glob(f".{glob.escape(out.name)}.*.tmp"):
        pid = tmp.name[len(out.name) + 2:-len(".tmp")]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _replace(table: pa.Table, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    # A name of this process's own (not mkstemp's, whose file mode would be 0600).
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        # Dictionary encoding and statistics help the few text columns, not the features.
        pq.write_table(table, tmp, use_dictionary=list(ROW_COLUMNS),
                       write_statistics=list(ROW_COLUMNS))
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _arrow_table(rows: dict[str, list], hashes: list[str | None], kinds: tuple[str, ...],
                 vectors: dict[tuple[int, str], np.ndarray], names: list[str],
                 meta: dict) -> pa.Table:
    """The store's table: every (row, kind) that has features, in manifest then kind order."""
    keys = [(i, kind) for i in range(len(hashes)) for kind in kinds if (i, kind) in vectors]
    columns = {name: pa.array([values[i] for i, _ in keys], type=pa.string())
               for name, values in rows.items()}
    columns["sha1"] = pa.array([hashes[i] for i, _ in keys], type=pa.string())
    columns["augment"] = pa.array([kind for _, kind in keys], type=pa.string())
    matrix = (np.stack([vectors[key] for key in keys], axis=1) if keys
              else np.empty((len(names), 0), dtype=np.float32))
    columns.update(zip(names, map(pa.array, matrix), strict=True))
    return pa.Table.from_pydict(columns).replace_schema_metadata(
        {METADATA_KEY: json.dumps(meta).encode()})


def _read_store(path: Path) -> tuple[dict, pa.Table]:
    """The sera metadata and the table of a store, from one open file: a running extraction
    replaces the file at every checkpoint, and opening it twice by name could pair one
    version's footer with another's pages."""
    try:
        with open(path, "rb") as file:
            parquet = pq.ParquetFile(file)
            meta = _check_meta(path, parquet.schema_arrow.metadata or {})
            table = parquet.read()
    except (OSError, pa.ArrowException) as err:
        raise FeatureError(f"{path}: not a readable Parquet file ({first_line(err)})") from None
    _check_columns(path, table, meta)
    return meta, table


#: What the ``sera`` metadata of a store must hold, and of which type.
META_TYPES = {"feature_set": dict, "shape": list, "failures": list}


def _check_meta(path: Path, metadata: dict) -> dict:
    if METADATA_KEY not in metadata:
        raise FeatureError(f"{path}: not a sera feature store (no '{METADATA_KEY.decode()}' "
                           f"metadata)")
    try:
        meta = json.loads(metadata[METADATA_KEY])
    except (ValueError, RecursionError):
        raise FeatureError(f"{path}: its '{METADATA_KEY.decode()}' metadata is not valid "
                           f"JSON") from None
    if not isinstance(meta, dict):
        raise FeatureError(f"{path}: its '{METADATA_KEY.decode()}' metadata is not a JSON "
                           f"object")
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise FeatureError(f"{path}: feature store format {meta.get('format_version')!r} is not "
                           f"{FORMAT} version {FORMAT_VERSION}")
    for key, kind in META_TYPES.items():
        if not isinstance(meta.get(key), kind):
            raise FeatureError(f"{path}: its '{METADATA_KEY.decode()}' metadata has no "
                               f"{kind.__name__} \"{key}\"")
    return meta


def _check_columns(path: Path, table: pa.Table, meta: dict) -> None:
    """The store's columns: the row columns first, then one per feature value."""
    names = table.column_names
    if names[:len(ROW_COLUMNS)] != list(ROW_COLUMNS):
        missing = [name for name in ROW_COLUMNS if name not in names]
        raise FeatureError(f"{path}: not a sera feature store (columns "
                           f"{', '.join(missing) or 'out of order'} missing)")
    try:
        width = int(np.prod(meta["shape"]))
    except (TypeError, ValueError):
        raise FeatureError(f"{path}: its metadata gives no valid feature shape") from None
    if len(names) - len(ROW_COLUMNS) != width:
        raise FeatureError(f"{path}: {len(names) - len(ROW_COLUMNS)} feature columns, but its "
                           f"shape {tuple(meta['shape'])} needs {width}")


def _read_cache(out: Path, meta: dict) -> dict[tuple[str, str], np.ndarray]:
    """Reusable rows of an existing store, by ``(sha1, kind)``: none if the feature
    configuration differs; augmented ones only if the augmentation settings are known and equal.
    """
    old, table = _read_store(out)
    if old["feature_set"] != meta["feature_set"]:
        return {}
    same_augment = (meta["augment"] is not None and meta["augment"]["params"] is not None
                    and old["augment"] is not None
                    and old["augment"]["params"] == meta["augment"]["params"])
    features = table.columns[len(ROW_COLUMNS):]
    matrix = (np.column_stack([column.to_numpy() for column in features]) if table.num_rows
              else np.empty((0, len(features)), dtype=np.float32))
    return {(digest, kind): row
            for digest, kind, row in zip(table["sha1"].to_pylist(), table["augment"].to_pylist(),
                                         matrix, strict=True)
            if digest is not None and (kind == ORIGINAL or same_augment)}


def _augment_meta(augment: Augmentation | None) -> dict | None:
    if augment is None:
        return None
    return {"kinds": list(augment.kinds), "params": getattr(augment, "params", None)}


def _manifest_rows(manifest: pd.DataFrame) -> dict[str, list[str | None]]:
    """The manifest columns as lists of str or None; ``path`` made absolute."""
    if "path" not in manifest.columns:
        raise FeatureError("the manifest has no 'path' column")
    rows = {}
    for name in MANIFEST_COLUMNS:
        values = manifest[name].tolist() if name in manifest.columns else [None] * len(manifest)
        rows[name] = [None if _missing(v) else str(v) for v in values]
    rows["path"] = [os.path.abspath(path) for path in rows["path"]]
    return rows


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _sha1(path: str) -> str | None:
    """SHA-1 of a file's bytes; None if it cannot be read (loading it will say why)."""
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()



def cached_features(manifest: pd.DataFrame, feature_set, *,
                    cache_dir: str | os.PathLike | None, workers: int = 1, augment=None,
                    progress: ProgressReport | None = None) -> FeatureTable:
    """Features of a manifest through a Parquet store in ``cache_dir``.

    The store's name is a digest of the set of files, the feature set and the augmentation, so
    runs over the same files reuse each other's work. A combined set (``compare+stats``) keeps a
    store per part, so ``stats`` rows computed once serve every set that contains it.

    Parameters
    ----------
    manifest : pandas.DataFrame
        The utterances (manifest columns).
    feature_set : str, dict or FeatureSet
        As :func:`sera.features.get_feature_set` takes it.
    cache_dir : path or None
        The folder of the stores; ``None`` computes without a store.
    workers, augment, progress
        As for :func:`extract_features`.
    """
    fs = get_feature_set(feature_set)
    if getattr(fs, "parts", None) and cache_dir is not None:
        # A combined set is its parts side by side: each part keeps a store of its own, so
        # `stats` rows computed once serve `stats`, `egemaps+stats` and `compare+stats`.
        tables = [cached_features(manifest, part, cache_dir=cache_dir, workers=workers,
                                  augment=augment, progress=progress) for part in fs.parts]
        return _side_by_side(tables, fs)
    out = None
    if cache_dir is not None:
        key = json.dumps([sorted(manifest["path"]), fs.to_config(),
                          augment.params if augment is not None else None], sort_keys=True)
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        out = Path(cache_dir) / f"{fs.name}-{digest}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
    table = extract_features(manifest, fs, out=out, workers=workers, augment=augment,
                             progress=progress)
    return table


def _side_by_side(tables: list[FeatureTable], fs) -> FeatureTable:
    """One table of a combined feature set from the tables of its parts (rows every part has,
    in the first part's order)."""
    keys = [list(zip(t.frame["path"], t.frame["augment"], strict=True)) for t in tables]
    common = set(keys[0]).intersection(*map(set, keys[1:]))
    first = tables[0].frame
    keep = np.array([k in common for k in keys[0]])
    blocks = [first.loc[keep, list(ROW_COLUMNS)].reset_index(drop=True)]
    for table, key in zip(tables, keys, strict=True):
        position = {k: i for i, k in enumerate(key)}
        rows = [position[k] for k, kept in zip(keys[0], keep, strict=True) if kept]
        values = table.X.reshape(len(table.frame), int(np.prod(table.shape)))[rows]
        blocks.append(pd.DataFrame(values, columns=[f"{table.feature_set.name}:{n}" for n in
                                                    table.feature_names]))
    failures = sorted({f for t in tables for f in t.failures})
    meta = {**tables[0].meta, "feature_set": fs.to_config(), "shape": list(fs.shape)}
    return FeatureTable(frame=pd.concat(blocks, axis=1), failures=failures, meta=meta)
