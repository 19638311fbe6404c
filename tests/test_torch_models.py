"""The PyTorch models (seed-cnn1d, compact-cnn) and the shared training loop."""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from sera.errors import SeraError
from sera.models.compact import CompactCNN, CompactCNNNetwork, spec_augment
from sera.models.seed_cnn1d import KerasSameMaxPool1d, SeedCNN1D, SeedCNN1DNetwork
from sera.models.torch_train import (
    CHECKPOINT_NAME,
    HISTORY_KEYS,
    MONITORABLE,
    balanced_class_weights,
    stratified_holdout,
    unweighted_average_recall,
)

# Tiny log-mel-like patches and a compact network small enough for many quick fits.
SHAPE = (16, 32)
TINY = {"channels": (4, 8)}


def random_data(n: int, shape=SHAPE, seed: int = 0):
    """Random features with random labels over all seven classes."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(0, 7, n)


# -- seed-cnn1d -------------------------------------------------------------------------------

def test_seed_cnn1d_has_the_keras_parameter_count_and_output_shape():
    network = SeedCNN1DNetwork(2376)
    trainable = sum(p.numel() for p in network.parameters())
    running_stats = sum(b.numel() for name, b in network.named_buffers()
                        if name.endswith(("running_mean", "running_var")))
    assert trainable + running_stats == 7_193_223
    assert running_stats == 4_352
    assert network.head[0].in_features == 75 * 128
    with torch.no_grad():
        assert network.eval()(torch.zeros(2, 2376)).shape == (2, 7)


def test_seed_cnn1d_batchnorm_uses_keras_defaults():
    norms = [m for m in SeedCNN1DNetwork(64).modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(norms) == 6
    assert all(m.momentum == pytest.approx(0.01) and m.eps == pytest.approx(1e-3) for m in norms)


def keras_same_max_pool(x: np.ndarray, pool: int, stride: int = 2) -> np.ndarray:
    """TensorFlow's "same" max pooling, written out: windows start at i*stride - pad_left and
    only count the positions inside the signal."""
    length = x.shape[-1]
    out = math.ceil(length / stride)
    pad_left = max((out - 1) * stride + pool - length, 0) // 2
    return np.stack([x[..., max(i * stride - pad_left, 0):i * stride - pad_left + pool].max(-1)
                     for i in range(out)], axis=-1)


@pytest.mark.parametrize("length", [297, 298, 149, 7])
@pytest.mark.parametrize("pool", [3, 5])
def test_keras_same_pooling_matches_tensorflow_semantics(length, pool):
    # All-negative input: zero padding instead of -inf would show up as zeros.
    x = -1 - np.random.default_rng(length).random((2, 3, length)).astype(np.float32)
    pooled = KerasSameMaxPool1d(pool)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(pooled, keras_same_max_pool(x, pool))


def test_seed_cnn1d_flattens_time_major_like_keras():
    network = SeedCNN1DNetwork(64).eval()
    x = torch.randn(2, 64)
    captured = {}
    network.head[0].register_forward_hook(lambda m, args, out: captured.update(flat=args[0]))
    with torch.no_grad():
        blocks = network.blocks(x.unsqueeze(1))  # (N, channels, steps)
        network(x)
    channels = blocks.shape[1]
    # Keras's Flatten of (steps, channels): element t * channels + c is step t, channel c.
    assert torch.equal(captured["flat"][:, 1], blocks[:, 1, 0])
    assert torch.equal(captured["flat"][:, channels], blocks[:, 0, 1])


def test_seed_cnn1d_fits_and_exports_an_onnx_graph_that_matches(tmp_path):
    X, y = random_data(24, shape=(128,))
    model = SeedCNN1D(max_epochs=1, batch_size=24).fit(X, y)
    assert len(model.history) == 1
    assert_onnx_matches(model, tmp_path / "seed.onnx", random_data(5, shape=(128,), seed=1)[0])


# -- compact-cnn ------------------------------------------------------------------------------

def test_compact_cnn_is_small_and_takes_any_number_of_frames():
    network = CompactCNNNetwork().eval()
    assert sum(p.numel() for p in network.parameters()) < 1_000_000
    with torch.no_grad():
        for frames in (300, 173):
            assert network(torch.zeros(3, 64, frames)).shape == (3, 7)


def test_compact_cnn_refuses_inputs_that_are_not_patches():
    X, y = random_data(20, shape=(64,))
    with pytest.raises(ValueError, match=r"\(n_mels, frames\) patches"):
        CompactCNN().fit(X, y)


def test_spec_augment_zeroes_whole_bands_within_the_width_limits():
    x = torch.randn(6, 16, 40) + 10  # no natural zeros
    out = spec_augment(x, np.random.default_rng(0), freq_masks=1, freq_mask_width=3,
                       time_masks=1, time_mask_width=5).numpy()
    zero = out == 0
    kept = ~zero
    np.testing.assert_array_equal(out[kept], x.numpy()[kept])
    for sample in zero:
        rows = sample.all(axis=1)  # masked mel bins
        cols = sample.all(axis=0)  # masked frames
        np.testing.assert_array_equal(sample, rows[:, None] | cols[None, :])
        assert rows.sum() <= 3 and cols.sum() <= 5
    assert zero.any()
    again = spec_augment(x, np.random.default_rng(0), freq_masks=1, freq_mask_width=3,
                         time_masks=1, time_mask_width=5).numpy()
    np.testing.assert_array_equal(out, again)


def test_compact_cnn_exports_an_onnx_graph_that_matches(tmp_path):
    X, y = random_data(40)
    model = CompactCNN(max_epochs=2, **TINY).fit(X, y)
    assert_onnx_matches(model, tmp_path / "compact.onnx", random_data(5, seed=1)[0])


def assert_onnx_matches(model, path, X):
    model.export_onnx(path)
    graph = onnx.load(path)
    assert graph.opset_import[0].version >= 17
    [features], [probabilities] = graph.graph.input, graph.graph.output
    assert features.name == "features" and probabilities.name == "probabilities"
    assert features.type.tensor_type.shape.dim[0].dim_param  # a named, dynamic batch axis
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = model.predict_proba(X)
    for batch in (X, X[:1]):
        [got] = session.run(["probabilities"], {"features": batch})
        assert got.dtype == np.float32 and got.shape == (len(batch), 7)
        np.testing.assert_allclose(got, expected[:len(batch)], atol=1e-4)
    np.testing.assert_allclose(expected.sum(axis=1), 1, atol=1e-5)


# -- the training loop ------------------------------------------------------------------------

def test_uar_ignores_classes_that_are_only_predicted():
    # Class 2 is only predicted: it lowers class 0's recall and adds no zero recall of its own.
    assert unweighted_average_recall(np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])) == 0.75


def test_balanced_class_weights_are_inverse_frequency():
    y = np.array([0, 0, 0, 1, 3, 3])
    weights = balanced_class_weights(y)
    assert weights.shape == (7,) and weights.dtype == np.float32
    assert weights[2] == 0 and weights[4:].sum() == 0  # absent classes
    np.testing.assert_allclose(weights[[0, 1, 3]] * np.array([3, 1, 2]), weights[1])
    assert weights[y].mean() == pytest.approx(1.0)


def test_stratified_holdout_is_seeded_disjoint_and_per_class():
    y = np.repeat(np.arange(5), [40, 20, 30, 10, 1])
    train, val = stratified_holdout(y, 0.1, seed=3)
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(len(y)))
    assert np.bincount(y[val], minlength=5).tolist() == [4, 2, 3, 1, 0]
    again = stratified_holdout(y, 0.1, seed=3)
    np.testing.assert_array_equal(val, again[1])
    assert not np.array_equal(val, stratified_holdout(y, 0.1, seed=4)[1])
    # Classes too small for a whole sample each share the rounding; all keep one for training.
    small = np.repeat(np.arange(7), 3)
    small_train, small_val = stratified_holdout(small, 0.1, seed=0)
    assert small_val.size == 2 and len(np.unique(small[small_val])) == 2
    assert len(np.unique(small[small_train])) == 7


def test_monitor_must_be_a_logged_metric():
    assert set(MONITORABLE) <= set(HISTORY_KEYS)
    X, y = random_data(30)
    with pytest.raises(ValueError, match="not a logged metric"):
        CompactCNN(monitor="val_acc", **TINY).fit(X, y)


def test_history_records_every_metric_per_epoch():
    X, y = random_data(40)
    model = CompactCNN(max_epochs=2, **TINY).fit(X, y)
    assert [record["epoch"] for record in model.history] == [1, 2]
    for record in model.history:
        assert tuple(record) == HISTORY_KEYS
        assert all(0 <= record[k] <= 1 for k in ("accuracy", "uar", "val_accuracy", "val_uar"))
        assert record["loss"] > 0 and record["val_loss"] > 0 and record["lr"] == 3e-3


def expected_schedule(values, lr, factor, lr_patience, patience):
    """Learning rates and stopping epoch implied by a monitored (maximised) series: PyTorch's
    ReduceLROnPlateau (cut after more than ``lr_patience`` bad epochs, counter reset) and early
    stopping after ``patience`` bad epochs in a row."""
    best, bad_for_lr, bad, lrs = -np.inf, 0, 0, []
    for epoch, value in enumerate(values, start=1):
        lrs.append(lr)
        if value > best:
            best, bad_for_lr, bad = value, 0, 0
        else:
            bad_for_lr, bad = bad_for_lr + 1, bad + 1
        if bad_for_lr > lr_patience:
            lr, bad_for_lr = lr * factor, 0
        if bad >= patience:
            return lrs, epoch
    return lrs, None


def test_early_stopping_and_lr_schedule_follow_validation_uar_on_random_labels():
    # Random labels: nothing to learn, so validation UAR wanders around chance and plateaus.
    X, y = random_data(80)
    X_val, y_val = random_data(40, seed=1)
    settings = {"patience": 5, "lr_patience": 1, "lr": 3e-3, "channels": (8, 16)}
    model = CompactCNN(max_epochs=40, **settings).fit(X, y, X_val, y_val)
    history = model.history
    val_uar = [record["val_uar"] for record in history]
    lrs, stop_epoch = expected_schedule(val_uar, 3e-3, 0.5, lr_patience=1, patience=5)

    assert stop_epoch == len(history) < 40
    assert [record["lr"] for record in history] == pytest.approx(lrs)
    assert min(lrs) < 3e-3  # the rate was actually cut
    best_epoch = int(np.argmax(val_uar)) + 1  # the first best epoch
    assert best_epoch < len(history)
    # The best epoch's weights are restored: the model scores the best validation UAR, and it
    # is the model a run that ended at the best epoch gives.
    assert unweighted_average_recall(y_val, model.predict(X_val)) == val_uar[best_epoch - 1]
    until_best = CompactCNN(max_epochs=best_epoch, **settings).fit(X, y, X_val, y_val)
    np.testing.assert_array_equal(model.predict_proba(X_val), until_best.predict_proba(X_val))


def test_same_seed_gives_the_same_model_and_another_seed_another():
    X, y = random_data(60)
    first = CompactCNN(max_epochs=3, **TINY).fit(X, y).predict_proba(X)
    second = CompactCNN(max_epochs=3, **TINY).fit(X, y).predict_proba(X)
    other = CompactCNN(max_epochs=3, seed=1, **TINY).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_without_validation_data_a_stratified_tenth_is_held_out():
    X, y = random_data(60)
    internal = CompactCNN(max_epochs=2, **TINY).fit(X, y)
    train, val = stratified_holdout(y, 0.1, seed=0)
    explicit = CompactCNN(max_epochs=2, **TINY).fit(X[train], y[train], X[val], y[val])
    assert internal.history == explicit.history
    np.testing.assert_array_equal(internal.predict_proba(X), explicit.predict_proba(X))


def test_resumed_training_ends_where_an_uninterrupted_run_does(tmp_path):
    X, y = random_data(60)
    X_val, y_val = random_data(20, seed=1)
    straight = CompactCNN(max_epochs=6, patience=50, lr_patience=1, **TINY)
    straight.fit(X, y, X_val, y_val)

    CompactCNN(max_epochs=3, patience=50, lr_patience=1, checkpoint_dir=tmp_path,
               **TINY).fit(X, y, X_val, y_val)
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]  # no temporary files left
    resumed = CompactCNN(max_epochs=6, patience=50, lr_patience=1, checkpoint_dir=tmp_path,
                         resume=True, **TINY).fit(X, y, X_val, y_val)

    assert resumed.history == straight.history
    np.testing.assert_array_equal(resumed.predict_proba(X_val), straight.predict_proba(X_val))


def test_resume_refuses_a_checkpoint_from_other_parameters_or_data(tmp_path):
    X, y = random_data(40)
    CompactCNN(max_epochs=1, checkpoint_dir=tmp_path, **TINY).fit(X, y)
    with pytest.raises(SeraError, match="other model parameters"):
        CompactCNN(max_epochs=2, lr=1e-4, checkpoint_dir=tmp_path, resume=True, **TINY).fit(X, y)
    with pytest.raises(SeraError, match="other training or validation data"):
        CompactCNN(max_epochs=2, checkpoint_dir=tmp_path, resume=True, **TINY).fit(X + 1, y)
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(SeraError, match=f"{CHECKPOINT_NAME}: not a readable checkpoint"):
        CompactCNN(max_epochs=2, checkpoint_dir=tmp_path, resume=True, **TINY).fit(X, y)


def test_training_draws_nothing_and_reports_epochs_and_batches(capfd):
    X, y = random_data(40)
    reports = []
    model = CompactCNN(max_epochs=2, batch_size=16, progress=lambda *call: reports.append(call),
                       **TINY).fit(X, y)
    assert capfd.readouterr() == ("", "")  # the library reports; only the CLI draws bars
    epochs = [call for call in reports if call[0] == "epochs"]
    assert epochs == [("epochs", 0, 2), ("epochs", 1, 2), ("epochs", 2, 2)]
    batches = [call for call in reports if call[0] == "batches"]
    n_batches = -(-36 // 16)  # 40 samples less the 10 % held out for validation
    assert batches == [("batches", done, n_batches) for done in range(1, n_batches + 1)] * 2
    assert len(model.history) == 2


def test_a_last_batch_of_one_sample_is_skipped_not_fatal():
    X, y = random_data(33, shape=(64,))
    model = SeedCNN1D(max_epochs=1, batch_size=16)
    model.fit(X[:17], y[:17], X[17:], y[17:])  # batches of 16 and 1: BatchNorm needs 2
    assert len(model.history) == 1 and np.isfinite(model.history[0]["loss"])


def test_params_are_the_model_parameters_without_run_options(tmp_path):
    params = CompactCNN(checkpoint_dir=tmp_path, resume=True).params
    assert params["channels"] == [16, 32, 64, 128] and params["seed"] == 0
    assert not {"checkpoint_dir", "resume", "progress"} & set(params)
