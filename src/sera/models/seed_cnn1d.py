"""``seed-cnn1d``: the seed project's Keras 1-D CNN, layer for layer, in PyTorch.

The input is the 2,376-dim ``seed`` feature vector, which Keras saw as ``(2376, 1)`` (channels
last) and PyTorch sees as one channel ``(1, 2376)``. Five blocks of Conv1D ("same" padding) →
ReLU → BatchNorm → MaxPool1D (stride 2, Keras "same" padding), then Flatten → Dense 512 ReLU →
BatchNorm → Dense 7 (softmax is applied by ``predict_proba`` and inside the exported graph).
Lengths 2376 → 1188 → 594 → 297 → 149 → 75; 7,193,223 parameters in Keras's count, 4,352 of
them the BatchNorm running statistics. Initialisation and BatchNorm settings follow Keras's
defaults (Glorot-uniform kernels, zero biases, momentum 0.99, epsilon 1e-3).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sera.errors import InputError
from sera.labels import LABELS
from sera.models.torch_train import TorchClassifier

#: (filters, kernel size, pool size) of the five convolution blocks.
BLOCKS = ((512, 5, 5), (512, 5, 5), (256, 5, 5), (256, 3, 5), (128, 3, 3))
DENSE_UNITS = 512

#: Keras BatchNormalization defaults: its momentum 0.99 is PyTorch's 1 - 0.99.
KERAS_BN = {"momentum": 0.01, "eps": 1e-3}


class KerasSameMaxPool1d(nn.Module):
    """MaxPool1D with Keras/TensorFlow "same" padding.

    The output has ``ceil(L / stride)`` steps; the ``max((out - 1) * stride + pool - L, 0)``
    padding steps go half left, the odd one right, and are ``-inf`` so they never win.
    """

    def __init__(self, pool_size: int, stride: int = 2):
        super().__init__()
        self.pool_size = pool_size
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        out_length = same_pool_length(length, self.stride)
        pad = max((out_length - 1) * self.stride + self.pool_size - length, 0)
        x = F.pad(x, (pad // 2, pad - pad // 2), value=float("-inf"))
        return F.max_pool1d(x, self.pool_size, self.stride)


def same_pool_length(length: int, stride: int = 2) -> int:
    """Output length of a Keras "same" pooling layer."""
    return math.ceil(length / stride)


class SeedCNN1DNetwork(nn.Module):
    """The seed's network; maps ``(N, L)`` feature vectors to ``(N, 7)`` logits.

    Parameters
    ----------
    length : int
        Length ``L`` of the input vector (2,376 for the ``seed`` feature set).
    n_classes : int
        Number of outputs.
    """

    def __init__(self, length: int, n_classes: int = len(LABELS)):
        super().__init__()
        layers: list[nn.Module] = []
        channels, steps = 1, length
        for filters, kernel, pool in BLOCKS:
            layers += [nn.Conv1d(channels, filters, kernel, padding="same"), nn.ReLU(),
                       nn.BatchNorm1d(filters, **KERAS_BN), KerasSameMaxPool1d(pool)]
            channels, steps = filters, same_pool_length(steps)
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(steps * channels, DENSE_UNITS), nn.ReLU(),
            nn.BatchNorm1d(DENSE_UNITS, **KERAS_BN), nn.Linear(DENSE_UNITS, n_classes),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv1d | nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.blocks(features.unsqueeze(1))  # (N, C, T)
        # Keras flattens channels-last (time-major): (N, T, C) -> (N, T * C).
        return self.head(h.transpose(1, 2).flatten(1))


class SeedCNN1D(TorchClassifier):
    """The seed's 1-D CNN on the ``seed`` feature vector, trained by the shared loop.

    Parameters are those of :class:`sera.models.torch_train.TorchClassifier`; the defaults are
    the seed's recipe (batch 64, up to 50 epochs) with Adam.
    """

    def __init__(self, *, seed=0, max_epochs=50, batch_size=64, lr=1e-3, optimizer="adam",
                 weight_decay=0.0, patience=10, lr_patience=4, lr_factor=0.5, min_lr=1e-5,
                 monitor="val_uar", mixup_alpha=0.0, val_fraction=0.1, checkpoint_dir=None,
                 resume=False, progress=None):
        super().__init__(
            seed=seed, max_epochs=max_epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
            weight_decay=weight_decay, patience=patience, lr_patience=lr_patience,
            lr_factor=lr_factor, min_lr=min_lr, monitor=monitor, mixup_alpha=mixup_alpha,
            val_fraction=val_fraction, checkpoint_dir=checkpoint_dir, resume=resume,
            progress=progress)

    def _build_network(self, input_shape: tuple[int, ...]) -> nn.Module:
        if len(input_shape) != 1:
            raise InputError(f"seed-cnn1d takes feature vectors (n, L), got samples of shape "
                             f"{input_shape}")
        return SeedCNN1DNetwork(input_shape[0])
