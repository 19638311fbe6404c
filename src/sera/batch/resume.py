"""The resume index of a batch: what made each output, so that a rerun skips the recordings
already done with the same content, model and options."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sera.batch.outputs import FORMATS, write_atomic

if TYPE_CHECKING:
    from sera.batch.work import AnalyzeOptions
from sera.errors import (
    SeraError,
    os_problem,
)

#: The resume index inside the output folder (hidden, like the temporary files).
INDEX = ".sera-index.jsonl"

#: Bytes read at a time when hashing a recording.
HASH_CHUNK = 1 << 20


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
