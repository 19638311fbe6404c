"""The training loop every PyTorch model in sera shares.

:class:`TorchClassifier` is a scikit-learn style estimator; a model subclasses it and supplies
its network (:meth:`TorchClassifier._build_network`) and, optionally, an input augmentation used
during training only (:meth:`TorchClassifier._augment_batch`). The loop gives every model:

- early stopping and learning-rate-on-plateau (``torch.optim.lr_scheduler.ReduceLROnPlateau``)
  that watch one named metric of the logged history (``monitor``, validation UAR by default). The
  name must be one of :data:`MONITORABLE`, the keys every history record carries; anything else
  raises before training starts, so a callback can never silently watch a metric that is not
  logged. At the end the weights of the best epoch are restored;
- class weights for imbalance: inverse class frequency in the cross-entropy loss;
- seeds: one ``seed`` drives the weight initialisation, the shuffling (a seeded DataLoader
  generator), dropout and the batch augmentations; deterministic algorithms are switched on for
  the duration of ``fit``, so the same data and parameters give the same model;
- an optional mixup (``mixup_alpha``) on the training batches;
- progress reported per epoch and per batch to a ``progress`` callback (:mod:`sera.progress`);
- a checkpoint after every epoch (``checkpoint_dir``, :mod:`sera.models.checkpoint`), written
  atomically, holding the weights, optimizer, scheduler, early-stopping state, history and every
  random-number state; ``resume`` continues from it and ends exactly where an uninterrupted run
  would;
- a validation set: ``X_val, y_val`` when given, else a stratified, seeded ``val_fraction`` of the
  training data held out inside ``fit`` (see :func:`stratified_holdout`).
"""

from __future__ import annotations

import abc
import contextlib
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.metrics import recall_score
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import DataLoader, TensorDataset

from sera.errors import InputError, check_choice
from sera.labels import LABELS
from sera.models.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    fingerprint,
    read_checkpoint,
    write_checkpoint,
)
from sera.options import OPTIMIZERS, Optimizer
from sera.progress import ProgressReport

N_CLASSES = len(LABELS)

#: The keys of every per-epoch history record, in order.
HISTORY_KEYS = ("epoch", "loss", "accuracy", "uar", "val_loss", "val_accuracy", "val_uar", "lr")

#: The history keys early stopping and the LR schedule may watch. Losses are minimised, the
#: others maximised.
MONITORABLE = ("loss", "accuracy", "uar", "val_loss", "val_accuracy", "val_uar")

#: Constructor parameters that say how to run a fit, not what model to fit: left out of
#: :attr:`TorchClassifier.params` and of the checkpoint's parameter check.
OPERATIONAL_PARAMS = ("checkpoint_dir", "resume", "progress")


def unweighted_average_recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (UAR).

    A class that is only predicted lowers the recall of the true classes it was confused with;
    it does not add a zero recall of its own.

    Parameters
    ----------
    y_true, y_pred : np.ndarray
        Integer class indices, shape ``(n,)``.

    Returns
    -------
    float
    """
    present = np.unique(y_true)
    return float(recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0))


def balanced_class_weights(y: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Inverse-frequency class weights ``n / (k * n_c)`` (scikit-learn's "balanced").

    Parameters
    ----------
    y : np.ndarray
        Integer class indices of the training samples, shape ``(n,)``.
    n_classes : int
        Length of the returned vector.

    Returns
    -------
    np.ndarray
        float32, shape ``(n_classes,)``; classes absent from ``y`` get weight 0. The weights
        average to 1 over the training samples, so the loss keeps its usual scale.
    """
    present = np.unique(y)
    weights = np.zeros(n_classes, dtype=np.float32)
    weights[present] = compute_class_weight("balanced", classes=present, y=y)
    return weights


def stratified_holdout(
    y: np.ndarray, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into training and validation, stratified by class, seeded.

    ``round(fraction * n)`` samples (at least one) go to validation, shared among the classes in
    proportion to their size (largest remainders get the rounding), except that every class
    keeps at least one sample for training. Which samples of a class go is a seeded draw.

    Parameters
    ----------
    y : np.ndarray
        Integer class indices, shape ``(n,)``.
    fraction : float
        Share to hold out, in ``(0, 1)``.
    seed : int
        Seed of the draw within each class.

    Returns
    -------
    train_index, val_index : np.ndarray
        Sorted, disjoint integer index arrays covering ``range(n)``.

    Raises
    ------
    InputError
        If the data are too few to hold anything out.
    """
    if not 0.0 < fraction < 1.0:
        raise InputError(f"val_fraction must be between 0 and 1, not {fraction}")
    classes, counts = np.unique(y, return_counts=True)
    quota = fraction * counts
    take = np.floor(quota).astype(int)
    short = max(1, round(fraction * len(y))) - take.sum()
    take[np.argsort(take - quota, kind="stable")[:short]] += 1
    take = np.minimum(take, counts - 1)
    rng = np.random.default_rng(seed)
    val_index = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == label))[:n]
                                        for label, n in zip(classes, take, strict=True)]))
    if val_index.size == 0:
        raise InputError(
            f"{len(y)} training samples are too few to hold out {fraction:.0%} for validation; "
            "pass X_val and y_val"
        )
    return np.setdiff1d(np.arange(len(y)), val_index), val_index


def mixup(
    x: torch.Tensor, targets: torch.Tensor, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each sample (and its target distribution) with another sample of the batch.

    The mixing weight ``lam ~ Beta(alpha, alpha)`` is folded to ``max(lam, 1 - lam)``, so every
    mixed sample keeps its own label as the dominant one (used for the training accuracy).

    Parameters
    ----------
    x : torch.Tensor
        A batch of inputs, shape ``(B, ...)``.
    targets : torch.Tensor
        One-hot or soft targets, shape ``(B, n_classes)``.
    alpha : float
        Beta distribution parameter (> 0).
    rng : np.random.Generator
        Source of the weight and the pairing.

    Returns
    -------
    x, targets : torch.Tensor
    """
    lam = rng.beta(alpha, alpha)
    lam = float(max(lam, 1.0 - lam))
    partner = torch.from_numpy(rng.permutation(x.shape[0]))
    return lam * x + (1 - lam) * x[partner], lam * targets + (1 - lam) * targets[partner]


class EarlyStopping:
    """Track the best value of a monitored metric and the weights that gave it.

    Parameters
    ----------
    patience : int
        Training stops once this many epochs in a row have not improved on the best value.
    mode : {"max", "min"}
        Whether larger or smaller values are better. Improvement is strict.
    """

    def __init__(self, patience: int, mode: str = "max"):
        self.patience = patience
        self.mode = mode
        self.best = -np.inf if mode == "max" else np.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def update(self, value: float, epoch: int, network: nn.Module) -> None:
        """Record one epoch's value; keep a copy of the weights if it is the best so far."""
        improved = value > self.best if self.mode == "max" else value < self.best
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            self.wait += 1

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` epochs in a row went without improvement."""
        return self.wait >= self.patience

    def state_dict(self) -> dict:
        return {"best": float(self.best), "best_epoch": self.best_epoch, "wait": self.wait,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.wait, self.best_state = state["wait"], state["best_state"]


class _WithSoftmax(nn.Module):
    """The network followed by a softmax: the graph ``predict_proba`` runs and ONNX exports."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.network(features), dim=1)


class _DeterministicAlgorithms:
    """Switch ``torch.use_deterministic_algorithms`` on for a block, then restore it.

    Its companion, filling every uninitialised tensor with NaN (a debugging aid that catches
    reads of uninitialised memory), stays off: it costs about a tenth of the training time.
    """

    def __enter__(self):
        self.previous = (torch.are_deterministic_algorithms_enabled(),
                         torch.utils.deterministic.fill_uninitialized_memory)
        torch.use_deterministic_algorithms(True)
        torch.utils.deterministic.fill_uninitialized_memory = False

    def __exit__(self, *exc):
        torch.use_deterministic_algorithms(self.previous[0])
        torch.utils.deterministic.fill_uninitialized_memory = self.previous[1]


class TorchClassifier(BaseEstimator, abc.ABC):
    """Base estimator for sera's PyTorch models: the shared training loop.

    Subclasses implement ``_build_network(input_shape) -> nn.Module`` (returning logits over
    the seven :data:`sera.labels.LABELS`) and may override ``_augment_batch``. Their
    ``__init__`` lists every parameter explicitly (scikit-learn's ``get_params`` reads it).

    Parameters
    ----------
    seed : int
        Seeds the initialisation, the internal validation split, shuffling, dropout and the batch
        augmentations.
    max_epochs : int
        Upper bound on the number of epochs.
    batch_size : int
        Training (and inference) batch size.
    lr : float
        Initial learning rate.
    optimizer : {"adam", "rmsprop"}
        The optimizer.
    weight_decay : float
        L2 penalty passed to the optimizer.
    patience : int
        Early stopping: stop after this many epochs in a row without improvement of ``monitor``.
    lr_patience : int
        ReduceLROnPlateau's patience: the learning rate is multiplied by ``lr_factor`` after
        ``lr_patience + 1`` epochs in a row without improvement (PyTorch's convention).
    lr_factor : float
        Multiplier applied to the learning rate on a plateau.
    min_lr : float
        The learning rate never drops below this.
    monitor : str
        The history key both callbacks watch, one of :data:`MONITORABLE`.
    mixup_alpha : float
        Mixup's Beta parameter; 0 turns mixup off.
    val_fraction : float
        Without ``X_val``, the share of the training data held out (stratified, seeded) to
        validate on.
    checkpoint_dir : str or None
        Directory for the per-epoch checkpoint ``last.pt``; None writes none.
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir`` if there is one (a fresh run
        otherwise). The checkpoint must come from the same parameters (``max_epochs`` aside) and
        the same data.
    progress : ProgressReport, optional
        Told of each epoch (``"epochs"``, of ``max_epochs``) and each batch of the epoch
        (``"batches"``) as training goes (:mod:`sera.progress`).
    """

    def __init__(self, *, seed=0, max_epochs=50, batch_size=64, lr=1e-3, optimizer="adam",
                 weight_decay=0.0, patience=10, lr_patience=4, lr_factor=0.5, min_lr=1e-5,
                 monitor="val_uar", mixup_alpha=0.0, val_fraction=0.1, checkpoint_dir=None,
                 resume=False, progress: ProgressReport | None = None):
        self.seed = seed
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.patience = patience
        self.lr_patience = lr_patience
        self.lr_factor = lr_factor
        self.min_lr = min_lr
        self.monitor = monitor
        self.mixup_alpha = mixup_alpha
        self.val_fraction = val_fraction
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.progress = progress

    # -- what a model supplies ---------------------------------------------------------------

    @abc.abstractmethod
    def _build_network(self, input_shape: tuple[int, ...]) -> nn.Module:
        """Return a network mapping ``(N, *input_shape)`` float32 to ``(N, 7)`` logits."""

    def _augment_batch(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Augment a training batch (training only). The base class leaves it unchanged."""
        return x

    # -- the estimator -------------------------------------------------------------------------

    @property
    def params(self) -> dict:
        """The model's parameters for a bundle's config (run-time options left out)."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in self.get_params().items() if k not in OPERATIONAL_PARAMS}

    def fit(self, X, y, X_val=None, y_val=None):
        """Train the network.

        Parameters
        ----------
        X : array-like
            float32 features, shape ``(n, *shape)``, already normalised.
        y : array-like
            Integer indices into :data:`sera.labels.LABELS`, shape ``(n,)``.
        X_val, y_val : array-like, optional
            Validation data; without them a stratified ``val_fraction`` of ``X`` is held out.

        Returns
        -------
        self
        """
        if self.monitor not in MONITORABLE:
            raise InputError(f"monitor={self.monitor!r} is not a logged metric; "
                             f"choose one of {', '.join(MONITORABLE)}")
        if self.max_epochs < 1:
            raise InputError(f"max_epochs must be at least 1, not {self.max_epochs}")
        if self.resume and self.checkpoint_dir is None:
            raise InputError("resume=True needs a checkpoint_dir")
        X, y = _check_xy(X, y)
        if len(X) < 2:
            raise InputError(f"need at least 2 training samples, got {len(X)}")
        if X_val is None:
            train_index, val_index = stratified_holdout(y, self.val_fraction, self.seed)
            X, y, X_val, y_val = X[train_index], y[train_index], X[val_index], y[val_index]
        else:
            X_val, y_val = _check_xy(X_val, y_val)
            if X_val.shape[1:] != X.shape[1:]:
                raise InputError(f"X_val has shape {X_val.shape[1:]} per sample, "
                                 f"X has {X.shape[1:]}")
        with _DeterministicAlgorithms():
            network, history = self._train(X, y, X_val, y_val)
        self.input_shape_ = tuple(X.shape[1:])
        self.network_ = network.eval()
        self.history = history
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, float32, shape ``(n, 7)`` in the order of ``LABELS``."""
        check_is_fitted(self, "network_")
        X = _check_x(X)
        if X.shape[1:] != self.input_shape_:
            raise InputError(f"X has shape {X.shape[1:]} per sample; the model was fitted on "
                             f"{self.input_shape_}")
        graph = _WithSoftmax(self.network_).eval()
        with torch.no_grad():
            batches = [graph(torch.from_numpy(X[i:i + self.batch_size]))
                       for i in range(0, len(X), self.batch_size)]
        if not batches:
            return np.zeros((0, N_CLASSES), dtype=np.float32)
        return torch.cat(batches).numpy().astype(np.float32, copy=False)

    def predict(self, X) -> np.ndarray:
        """Most probable class index per sample, shape ``(n,)``."""
        return self.predict_proba(X).argmax(axis=1)

    def export_onnx(self, path) -> Path:
        """Write the fitted network, softmax included, as an ONNX graph.

        The graph maps input ``features`` ``(N, *shape)`` float32 (dynamic batch axis) to output
        ``probabilities`` ``(N, 7)`` float32, opset 18, weights inside the one file.

        Returns
        -------
        Path
            ``path``.
        """
        check_is_fitted(self, "network_")
        path = Path(path)
        graph = _WithSoftmax(self.network_).eval()
        example = torch.zeros((2, *self.input_shape_), dtype=torch.float32)
        batch = torch.export.Dim("N", min=1)
        with _quiet_onnx_exporter():
            torch.onnx.export(
                graph, (example,), path, input_names=["features"],
                output_names=["probabilities"], opset_version=18, dynamo=True,
                external_data=False, dynamic_shapes={"features": {0: batch}}, verbose=False,
            )
        return path

    # -- the loop ------------------------------------------------------------------------------

    def _train(self, X, y, X_val, y_val) -> tuple[nn.Module, list[dict]]:
        torch.manual_seed(self.seed)
        network = self._build_network(tuple(X.shape[1:]))
        optimizer = self._make_optimizer(network)
        mode = "min" if self.monitor.endswith("loss") else "max"
        scheduler = ReduceLROnPlateau(optimizer, mode=mode, factor=self.lr_factor,
                                      patience=self.lr_patience, threshold=0.0,
                                      threshold_mode="abs", min_lr=self.min_lr)
        stopper = EarlyStopping(self.patience, mode)
        shuffle_generator = torch.Generator().manual_seed(self.seed)
        augment_rng = np.random.default_rng(self.seed)
        class_weights = torch.from_numpy(balanced_class_weights(y))
        history: list[dict] = []

        checkpoint = (Path(self.checkpoint_dir) / CHECKPOINT_NAME
                      if self.checkpoint_dir is not None else None)
        identity = {"params": self._checkpoint_params(),
                    "data": fingerprint(X, y, X_val, y_val)}
        if self.resume and checkpoint.is_file():
            state = read_checkpoint(checkpoint, identity)
            network.load_state_dict(state["network"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            stopper.load_state_dict(state["early_stopping"])
            history = state["history"]
            torch.set_rng_state(state["torch_rng"])
            shuffle_generator.set_state(state["shuffle_rng"])
            augment_rng.bit_generator.state = json.loads(state["augment_rng"])

        # BatchNorm cannot train on a batch of one: such a last batch is skipped (a different
        # random sample each epoch).
        loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
                            batch_size=self.batch_size, shuffle=True,
                            drop_last=len(X) % self.batch_size == 1,
                            generator=shuffle_generator)
        report = self.progress or (lambda description, done, total: None)
        report("epochs", len(history), self.max_epochs)
        while len(history) < self.max_epochs and not stopper.should_stop:
            epoch = len(history) + 1
            lr = optimizer.param_groups[0]["lr"]
            loss, accuracy, uar = self._train_epoch(
                network, loader, optimizer, class_weights, augment_rng,
                lambda done: report("batches", done, len(loader)))
            val_loss, val_accuracy, val_uar = _evaluate(network, X_val, y_val,
                                                        class_weights, self.batch_size)
            record = dict(zip(HISTORY_KEYS, (epoch, loss, accuracy, uar, val_loss,
                                             val_accuracy, val_uar, lr), strict=True))
            history.append(record)
            stopper.update(record[self.monitor], epoch, network)
            scheduler.step(record[self.monitor])
            if checkpoint is not None:
                write_checkpoint(checkpoint, {
                    **identity, "format": CHECKPOINT_FORMAT,
                    "network": network.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "early_stopping": stopper.state_dict(), "history": history,
                    "torch_rng": torch.get_rng_state(),
                    "shuffle_rng": shuffle_generator.get_state(),
                    "augment_rng": json.dumps(augment_rng.bit_generator.state),
                })
            report("epochs", epoch, self.max_epochs)
        network.load_state_dict(stopper.best_state)
        return network, history

    def _train_epoch(self, network, loader, optimizer, class_weights, augment_rng, on_batch):
        """One pass over the training data, calling ``on_batch(done)`` after each batch;
        returns the epoch's loss, accuracy and UAR.

        The figures are running ones, over the (augmented) training batches in training mode,
        as Keras reports them.
        """
        network.train()
        total_loss, predicted, truth = 0.0, [], []
        for done, (xb, yb) in enumerate(loader, start=1):
            xb = self._augment_batch(xb, augment_rng)
            targets = F.one_hot(yb, N_CLASSES).float()
            if self.mixup_alpha > 0:
                xb, targets = mixup(xb, targets, self.mixup_alpha, augment_rng)
            logits = network(xb)
            loss = F.cross_entropy(logits, targets, weight=class_weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(yb)
            predicted.append(logits.argmax(dim=1))
            truth.append(yb)
            on_batch(done)
        predicted, truth = torch.cat(predicted).numpy(), torch.cat(truth).numpy()
        return (total_loss / len(truth), float(np.mean(predicted == truth)),
                unweighted_average_recall(truth, predicted))

    def _make_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        optimizers: dict[Optimizer, type[torch.optim.Optimizer]] = {
            "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}
        optimizer = optimizers[check_choice("optimizer", self.optimizer, OPTIMIZERS)]
        return optimizer(network.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def _checkpoint_params(self) -> str:
        """The parameters a checkpoint must share with the run that resumes it, as JSON."""
        params = {k: v for k, v in self.params.items() if k != "max_epochs"}
        return json.dumps({"model": type(self).__name__, **params}, sort_keys=True)


def _evaluate(network, X, y, class_weights, batch_size) -> tuple[float, float, float]:
    """Weighted loss, accuracy and UAR of the network in evaluation mode."""
    network.eval()
    with torch.no_grad():
        logits = torch.cat([network(torch.from_numpy(X[i:i + batch_size]))
                            for i in range(0, len(X), batch_size)])
        targets = F.one_hot(torch.from_numpy(y), N_CLASSES).float()
        loss = F.cross_entropy(logits, targets, weight=class_weights).item()
    predicted = logits.argmax(dim=1).numpy()
    return loss, float(np.mean(predicted == y)), unweighted_average_recall(y, predicted)


def _check_x(X) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim < 2:
        raise InputError(f"X must have shape (n, *shape), got {X.shape}")
    return X


def _check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = _check_x(X)
    y = np.asarray(y)
    if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
        raise InputError(f"y must be {len(X)} integer class indices, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise InputError(f"class indices must lie in 0..{N_CLASSES - 1}")
    return X, y.astype(np.int64)


@contextlib.contextmanager
def _quiet_onnx_exporter():
    """Hide the torch.export-based exporter's chatter (missing optional packages such as
    torchvision, deprecations inside torch itself): none of it concerns the exported model."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)
