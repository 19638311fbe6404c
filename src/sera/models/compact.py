"""``compact-cnn``: a small 2-D CNN on log-mel patches that trains in seconds per epoch on 2 cores.

Input: the ``logmel`` feature set, ``(n_mels, frames)`` per clip (64 × ~300 for 3 s at a 10 ms
hop). Four blocks of Conv2d 3×3 with stride 2 → BatchNorm → ReLU, 16 → 32 → 64 → 128 channels,
each halving both axes; then the mean over frequency, mean and max pooling over time (so any
number of frames works), dropout and one linear layer: about 100 k parameters. Strided
convolutions instead of convolution + 2×2 max pooling: on a 2-core CPU the full-resolution
BatchNorm, ReLU and pooling cost three to four times the training time of everything else, and
in one speaker-independent trial on RAVDESS (train actors 1-12, validate 13-15, test 16-18) the
strided network scored no worse (test UAR 0.46 against 0.43). During training only, each batch gets
SpecAugment (random frequency and time bands set to 0, the mean of the normalised features) and
mixup.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sera.errors import InputError
from sera.labels import LABELS
from sera.models.torch_train import TorchClassifier


def band_masks(
    rng: np.random.Generator, batch: int, size: int, count: int, max_width: int
) -> np.ndarray:
    """Boolean masks of ``count`` random bands per sample along one axis.

    Each band has a width drawn uniformly from ``0..min(max_width, size)`` and a uniform start.

    Returns
    -------
    np.ndarray
        bool, shape ``(batch, size)``; True inside a band.
    """
    widths = rng.integers(0, min(max_width, size) + 1, size=(batch, count))
    starts = rng.integers(0, size - widths + 1)
    steps = np.arange(size)
    inside = (steps >= starts[..., None]) & (steps < (starts + widths)[..., None])
    return inside.any(axis=1)


def spec_augment(
    x: torch.Tensor, rng: np.random.Generator, *, freq_masks: int = 2, freq_mask_width: int = 8,
    time_masks: int = 2, time_mask_width: int = 25,
) -> torch.Tensor:
    """SpecAugment's frequency and time masking (Park et al., 2019), without time warping.

    Parameters
    ----------
    x : torch.Tensor
        A batch of normalised spectrogram patches, shape ``(B, n_mels, frames)``.
    rng : np.random.Generator
        Source of the bands.
    freq_masks, time_masks : int
        Bands per sample along each axis.
    freq_mask_width, time_mask_width : int
        Largest band width, in mel bins and frames.

    Returns
    -------
    torch.Tensor
        ``x`` with the bands set to 0.
    """
    batch, n_mels, frames = x.shape
    freq = band_masks(rng, batch, n_mels, freq_masks, freq_mask_width)
    time = band_masks(rng, batch, frames, time_masks, time_mask_width)
    masked = torch.from_numpy(freq[:, :, None] | time[:, None, :])
    return x.masked_fill(masked, 0.0)


class CompactCNNNetwork(nn.Module):
    """Strided conv blocks over a log-mel patch, global pooling, dropout, linear.

    Parameters
    ----------
    channels : sequence of int
        Output channels of each Conv2d (3×3, stride 2) → BatchNorm → ReLU block.
    dropout : float
        Dropout before the linear layer.
    n_classes : int
        Number of outputs.
    """

    def __init__(self, channels=(16, 32, 64, 128), dropout: float = 0.3,
                 n_classes: int = len(LABELS)):
        super().__init__()
        layers: list[nn.Module] = []
        previous = 1
        for width in channels:
            layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU()]
            previous = width
        self.blocks = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * previous, n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.blocks(features.unsqueeze(1)).mean(dim=2)  # (N, C, frames')
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.classifier(self.dropout(pooled))


class CompactCNN(TorchClassifier):
    """A compact CNN on ``logmel`` patches with SpecAugment and mixup, for CPU training.

    Parameters
    ----------
    channels : tuple of int
        Channels of the conv blocks; each block halves both axes.
    dropout : float
        Dropout before the classifier.
    freq_masks, freq_mask_width, time_masks, time_mask_width : int
        SpecAugment: bands per sample and their largest width (mel bins, frames); 0 bands turn
        it off.
    mixup_alpha : float
        Mixup's Beta parameter (0 turns it off).

    The other parameters are those of :class:`sera.models.torch_train.TorchClassifier`.
    """

    def __init__(self, *, channels=(16, 32, 64, 128), dropout=0.3, freq_masks=2,
                 freq_mask_width=8, time_masks=2, time_mask_width=25, mixup_alpha=0.2, seed=0,
                 max_epochs=60, batch_size=32, lr=3e-3, optimizer="adam", weight_decay=1e-4,
                 patience=12, lr_patience=4, lr_factor=0.5, min_lr=1e-5, monitor="val_uar",
                 val_fraction=0.1, checkpoint_dir=None, resume=False, progress=None):
        super().__init__(
            seed=seed, max_epochs=max_epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
            weight_decay=weight_decay, patience=patience, lr_patience=lr_patience,
            lr_factor=lr_factor, min_lr=min_lr, monitor=monitor, mixup_alpha=mixup_alpha,
            val_fraction=val_fraction, checkpoint_dir=checkpoint_dir, resume=resume,
            progress=progress)
        self.channels = channels
        self.dropout = dropout
        self.freq_masks = freq_masks
        self.freq_mask_width = freq_mask_width
        self.time_masks = time_masks
        self.time_mask_width = time_mask_width

    def _build_network(self, input_shape: tuple[int, ...]) -> nn.Module:
        if len(input_shape) != 2:
            raise InputError(f"compact-cnn takes (n_mels, frames) patches, got samples of "
                             f"shape {input_shape}")
        return CompactCNNNetwork(tuple(self.channels), self.dropout)

    def _augment_batch(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        return spec_augment(x, rng, freq_masks=self.freq_masks,
                            freq_mask_width=self.freq_mask_width, time_masks=self.time_masks,
                            time_mask_width=self.time_mask_width)
