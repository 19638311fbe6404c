"""Training checkpoints of the torch models: one file per run, written atomically, read back
only if it belongs to the run that resumes it.

A checkpoint is a ``torch.save`` dict holding ``format`` (:data:`CHECKPOINT_FORMAT`), the
``params`` and ``data`` identity of the run, and whatever state the training loop keeps
(:class:`sera.models.torch_train.TorchClassifier`). It is loaded with ``weights_only=True``:
tensors and plain data, never arbitrary pickles.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import torch

from sera.errors import SeraError

#: The file name of the checkpoint in a ``checkpoint_dir``.
CHECKPOINT_NAME = "last.pt"

#: The ``format`` value every sera checkpoint carries.
CHECKPOINT_FORMAT = "sera-torch-checkpoint"


def fingerprint(*arrays: np.ndarray) -> str:
    """SHA-256 of the training and validation data, to refuse resuming on other data."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write_checkpoint(path: Path, state: dict) -> None:
    """Save atomically: a temporary file in the same directory, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_checkpoint(path: Path, identity: dict) -> dict:
    """Load a checkpoint (tensors and plain data only, never arbitrary pickles) and check it
    belongs to this run."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise SeraError(f"{path}: not a readable checkpoint ({error.__class__.__name__})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise SeraError(f"{path}: not a sera training checkpoint")
    if state["params"] != identity["params"]:
        raise SeraError(f"{path}: made with other model parameters; resume with the same ones "
                        "or remove the checkpoint")
    if state["data"] != identity["data"]:
        raise SeraError(f"{path}: made on other training or validation data; resume on the "
                        "same data or remove the checkpoint")
    return state
