"""Pretrained speech encoders as a feature set: ``hf:<model id or local path>``.

Embeddings of wav2vec 2.0, HuBERT, WavLM (any ``transformers`` audio encoder that an
``AutoFeatureExtractor`` and ``AutoModel`` load and that returns ``hidden_states``), averaged
over time, from one layer or the mean of all layers:

>>> from sera.features import get_feature_set
>>> fs = get_feature_set("hf:facebook/wav2vec2-base", layer=6)   # doctest: +SKIP
>>> fs.shape                                                      # doctest: +SKIP
(768,)

Models are read from a local folder (``save_pretrained`` output) or from the user's Hugging
Face cache; sera never downloads (``local_files_only``): fetch a model first with
``hf download MODEL_ID``. The encoders run with PyTorch, so a model bundle
trained on ``hf:`` features needs ``torch`` and ``transformers`` at inference too (the
other feature sets run on numpy alone).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

from sera.errors import FeatureError
from sera.features.sets import FeatureSet

#: The prefix that names an encoder in every command's ``--set`` / ``--features``.
PREFIX = "hf:"

#: ``layer`` value that averages every hidden state (the input embeddings and each layer).
MEAN = "mean"


class HFFeatures(FeatureSet):
    """Time-averaged hidden states of a pretrained speech encoder.

    Parameters
    ----------
    model : str
        A Hugging Face model id present in the local cache, or a local folder (made absolute).
    layer : int or "mean"
        The hidden state to pool: 0 is the input of the transformer (the projected CNN
        features), ``n`` the output of its n-th layer; ``"mean"`` averages all of them.
    sample_rate : int
        16,000: the rate the encoders were trained at (checked against the model's own).

    Raises
    ------
    FeatureError
        torch or transformers is not importable, the model is absent from the local path
        and the cache, or ``layer`` is not one of the model's.
    """

    name = "hf"
    defaults = {"model": "", "layer": MEAN, "sample_rate": 16000}

    def __init__(self, **params: Any):
        super().__init__(**params)
        model = self.params["model"]
        if not model:
            raise FeatureError("feature set 'hf:' needs a model id or a local path "
                               "(e.g. hf:facebook/wav2vec2-base)")
        # A folder is named by its absolute path, so the same folder is the same set
        # (and the same feature-store key) from any working directory.
        self.params["model"] = os.path.abspath(model) if os.path.isdir(model) else model
        config = _model_config(self.params["model"])
        self.params["layer"] = _layer(params.get("layer", MEAN), config.num_hidden_layers,
                                      self.params["model"])
        self.hidden_size = int(config.hidden_size)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    @property
    def names(self) -> list[str]:
        return [f"emb{i:04d}" for i in range(self.hidden_size)]

    def transform(self, y: np.ndarray) -> np.ndarray:
        import torch

        extractor, model = _encoder(self.params["model"])
        if extractor.sampling_rate != self.sample_rate:
            raise FeatureError(f"{PREFIX}{self.params['model']}: the model expects "
                               f"{extractor.sampling_rate} Hz, not {self.sample_rate} Hz")
        inputs = extractor(np.asarray(y, dtype=np.float32), sampling_rate=self.sample_rate,
                           return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**inputs, output_hidden_states=True).hidden_states
        layer = self.params["layer"]
        states = torch.stack(hidden).mean(dim=0) if layer == MEAN else hidden[layer]
        return states[0].mean(dim=0).numpy().astype(np.float32)


def _layer(value: Any, n_layers: int, model: str) -> int | str:
    """``"mean"`` or a layer index in ``[0, n_layers]`` (ints given as text are accepted)."""
    if value == MEAN:
        return MEAN
    try:
        index = int(value)
    except (TypeError, ValueError):
        index = None
    if index is None or isinstance(value, float) or not 0 <= index <= n_layers:
        raise FeatureError(f"{PREFIX}{model}: layer must be 'mean' or 0 to {n_layers}, "
                           f"not {value!r}")
    return index


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as err:
        raise FeatureError(f"feature set 'hf:' needs torch and transformers "
                           f"(pip install 'sera[train,hf]'): {err}") from None


@lru_cache(maxsize=8)
def _model_config(model: str):
    """The model's ``transformers`` configuration, from the local path or cache only."""
    _require_torch()
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError) as err:
        raise _absent(model, err) from None


@lru_cache(maxsize=2)
def _encoder(model: str):
    """``(feature extractor, model in eval mode)``, loaded once per process."""
    from transformers import AutoFeatureExtractor, AutoModel
    from transformers.utils import logging

    # Loading shows a progress bar per call: noise in every worker's output.
    bars = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        extractor = AutoFeatureExtractor.from_pretrained(model, local_files_only=True)
        encoder = AutoModel.from_pretrained(model, local_files_only=True).eval()
    except (OSError, ValueError) as err:
        raise _absent(model, err) from None
    finally:
        if bars:
            logging.enable_progress_bar()
    return extractor, encoder


def _absent(model: str, err: BaseException) -> FeatureError:
    if os.path.isdir(model):
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return FeatureError(f"{PREFIX}{model}: not a loadable model folder: {reason}")
    return FeatureError(f"{PREFIX}{model}: neither a local folder nor in the Hugging Face cache "
                        f"(sera never downloads: fetch it first with `hf download "
                        f"{model}`, or give the folder of a saved model)")
