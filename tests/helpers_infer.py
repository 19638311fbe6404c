"""A small real model bundle for the inference tests, built once per test process.

No trained default model ships yet, so the tests train one: multinomial logistic regression
(``sera.models`` ``logreg``) on the ``stats`` functionals of about 200 RAVDESS clips, written
with :func:`sera.bundle.save_bundle`. ``stats`` reads a file trimmed of its leading and trailing
silence and is invariant to gain, so it sees an isolated clip much as it sees the same speech
found by the VAD in a conversation. (eGeMAPS measures the silence around the speech, e.g.
voiced segments per second: a model trained on eGeMAPS of whole RAVDESS files labelled 11 of
12 conversation segments "happy".)
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

#: Actors whose clips train the test model: two thirds of the clips of actors 01-10 (about 200).
TRAIN_ACTORS = range(1, 11)

FEATURES = "stats"


@cache
def real_bundle(ravdess_dir: Path, out: Path) -> Path:
    """Train the test model and write its bundle to ``out`` (once per process and place)."""
    from sera.adapt import Normalizer
    from sera.bundle import save_bundle
    from sera.cards import make_card
    from sera.corpora import scan
    from sera.features import extract_features
    from sera.labels import LABELS
    from sera.metrics import evaluate_predictions
    from sera.models import get_model_spec

    manifest = scan(ravdess_dir).manifest
    manifest = manifest[manifest["speaker"].isin([f"ravdess-{a:02d}" for a in TRAIN_ACTORS])]
    # Every third clip, so each actor and emotion is represented.
    manifest = manifest.iloc[::3].reset_index(drop=True)
    table = extract_features(manifest, FEATURES, workers=2)
    assert not table.failures, table.failures
    X = table.X
    y = np.array([LABELS.index(e) for e in table.frame["emotion"]])
    normalizer = Normalizer.fit(X)
    model = get_model_spec("logreg").build().fit(normalizer.transform(X), y)
    metrics = evaluate_predictions(y, model.predict(normalizer.transform(X)))
    training = {"corpora": ["ravdess"], "utterances": len(y), "actors": "01-10"}
    save_bundle(out, model=model, model_name="logreg",
                feature_config=table.feature_set.to_config(), sample_rate=16000,
                normalization=normalizer.to_config(),
                training=training, metrics=metrics,
                card=make_card(model_name="logreg", features=FEATURES, training=training,
                               metrics=metrics, evaluation="the training clips (a test model)",
                               data_licence="CC BY-NC-SA 4.0"))
    return out
