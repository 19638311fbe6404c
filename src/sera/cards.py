"""Model cards: what a bundle's ``card.md`` says of its model, data, figures, use and limits.

:func:`make_card` writes the card of any bundle; :func:`training_card` that of a recipe just
trained (its corpora's licences looked up in :data:`DATA_LICENCES`, which a model trained on
them inherits).
"""

from __future__ import annotations

from sera.models import get_model_spec

#: What sera knows of each corpus's licence, which a model trained on it inherits.
DATA_LICENCES = {
    "ravdess": "RAVDESS: CC BY-NC-SA 4.0 (non-commercial, share-alike)",
    "nemo": "nEMO: CC BY-NC-SA 4.0 (non-commercial, share-alike)",
    "emovo": "EMOVO: released for research use only, no open licence",
    "ased": "ASED: no licence stated by its authors (research use with citation)",
    "cremad": "CREMA-D: Open Database License (ODbL)",
    "tess": "TESS: CC BY-NC-ND 4.0 (non-commercial)",
    "savee": "SAVEE: free for research use (see the corpus's terms)",
    "emodb": "EmoDB: see the corpus's terms (research use)",
    "synthetic": "sera's synthetic corpus: machine-made, no restrictions",
}

#: Training-summary entries too long for the model card (they stay in config.json).
NOT_ON_CARD = ("history", "speaker_ids")


def training_card(*, model_name: str, features: str, training: dict, metrics: dict,
                  evaluation: str | None = None, extra: str = "") -> str:
    """The card of a recipe just trained: :func:`make_card` with the licences of its corpora.

    Parameters
    ----------
    model_name, features, metrics
        As for :func:`make_card`.
    training : dict
        The training summary (``TrainResult.training``); :data:`NOT_ON_CARD` entries left out.
    evaluation : str, optional
        How ``metrics`` were obtained (default: from the training split).
    extra : str
        Markdown appended to the card (e.g. cross-validation figures).
    """
    licences = [DATA_LICENCES.get(c, f"{c}: the licence of that corpus (unknown to sera)")
                for c in sorted(training.get("corpora", {}))]
    card = make_card(model_name=model_name, features=features,
                     training={k: v for k, v in training.items() if k not in NOT_ON_CARD},
                     metrics=metrics,
                     evaluation=evaluation or ("held-out speakers never heard in training "
                                               f"({training.get('split')} split)"
                                               if metrics else "trained on every speaker"),
                     data_licence="; ".join(licences) or "unknown")
    if extra:
        card = card.rstrip() + "\n\n" + extra.strip() + "\n"
    return card


def make_card(*, model_name: str, features: str, training: dict, metrics: dict,
              evaluation: str, data_licence: str,
              intended_use: str = "Research and demonstration of speech emotion recognition on "
                                  "short clips of acted speech.",
              limitations: str = "Trained on acted emotion: spontaneous speech, other languages, "
                                 "accents, recording conditions and age groups may be recognised "
                                 "far less well. Emotion labels are a coarse, culturally bound "
                                 "description of a voice; do not use the model to make decisions "
                                 "about people.") -> str:
    """The model card, markdown: model, features, data and its licence, figures, use, limits.

    Parameters
    ----------
    model_name : str
        The registry name; its description is included.
    features : str
        The feature set's name.
    training : dict
        Training-data and recipe summary; each item becomes one line.
    metrics : dict
        Evaluation figures: ``uar``, ``accuracy``, ``macro_f1``, ``n`` and optionally
        ``per_class`` (as :func:`sera.metrics.evaluate_predictions` gives them).
    evaluation : str
        How the figures were obtained (for example "leave-one-speaker-out over RAVDESS actors
        01-18").
    data_licence : str
        The licence of the training data, which a model trained on it inherits.
    """
    spec = get_model_spec(model_name)
    lines = [
        f"# sera model card: {spec.name}", "",
        "## Model", "",
        f"- **Model:** `{spec.name}`: {spec.description} ({spec.kind}, exported to ONNX)",
        f"- **Features:** `{features}`",
        "",
        "## Training data", "",
        *[f"- **{key}:** {_card_value(value)}" for key, value in training.items()],
        f"- **Licence of the data:** {data_licence}. The model is derived from this data and "
        f"is subject to the same terms.",
        "",
        "## Evaluation", "",
    ]
    if not metrics:
        lines += [f"Not evaluated: {evaluation}.", ""]
    elif "n" not in metrics:
        # Figures per corpus and condition only (the shipped model's): they follow the card.
        lines += [f"How the figures below were obtained: {evaluation}.", ""]
    else:
        lines += [
            f"How these figures were obtained: {evaluation}.", "",
            "| n | UAR | accuracy | macro-F1 |",
            "|---:|---:|---:|---:|",
            f"| {metrics['n']} | {metrics['uar']:.3f} | {metrics['accuracy']:.3f} "
            f"| {metrics['macro_f1']:.3f} |",
            "",
        ]
    if "per_class" in metrics:
        lines += ["| emotion | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        for label, figures in metrics["per_class"].items():
            cells = [_card_value(figures[key]) for key in ("precision", "recall", "f1")]
            lines.append(f"| {label} | {' | '.join(cells)} | {figures['support']} |")
        lines.append("")
    lines += ["## Intended use", "", intended_use, "", "## Limitations", "", limitations, ""]
    return "\n".join(lines)


def _card_value(value) -> str:
    """A figure or summary value as card text."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)
