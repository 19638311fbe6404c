"""The HTML report: one self-contained page with the figures in the right order."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

from sera.labels import LABELS
from sera.metrics import breakdown, evaluate_predictions
from sera.report import write_report


@pytest.fixture(scope="module")
def evaluation():
    rng = np.random.default_rng(0)
    n = 140
    frame = pd.DataFrame({"speaker": rng.choice(["s1", "s2", "s3"], n),
                          "gender": rng.choice(["female", "male"], n),
                          "corpus": rng.choice(["ravdess", "synthetic"], n)})
    y_true = rng.integers(0, 6, n)  # surprise never occurs
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, 7, n))
    frame["emotion"] = [LABELS[k] for k in y_true]
    metrics = evaluate_predictions(y_true, y_pred)
    breakdowns = {by: breakdown(frame, y_true, y_pred, by=by) for by in ("corpus", "speaker")}
    # The records of sera.models.torch_train: training figures unprefixed, validation "val_".
    history = [{"epoch": e, "loss": 2 / e, "accuracy": 1 - 0.6 / e, "uar": 1 - 0.6 / e,
                "val_loss": 2.2 / e + 0.1, "val_accuracy": 0.7 - 0.5 / e,
                "val_uar": 0.65 - 0.5 / e, "lr": 1e-3} for e in range(1, 9)]
    return metrics, frame, breakdowns, history


def write(path, evaluation, **overrides):
    metrics, frame, breakdowns, history = evaluation
    arguments = dict(metrics=metrics, history=history, manifest=frame, breakdowns=breakdowns,
                     card="# Card\n\n## Training data\n\n- RAVDESS <script>alert(1)</script>\n",
                     warnings=["figures inflated by leakage"], subtitle="logreg on toy data")
    return write_report(path, **{**arguments, **overrides}).read_text()


def test_the_page_is_self_contained(tmp_path, evaluation):
    page = write(tmp_path / "report.html", evaluation)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|<iframe|@import", page, re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!data:)[a-z]+:""", page, re.IGNORECASE)
    assert not re.search(r"url\(", page)
    images = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3  # per-class bars, training curves, class distribution
    for data in images:
        svg = base64.b64decode(data).decode()
        assert "<svg" in svg and "xlink:href=\"http" not in svg


def test_figures_show_labels_in_order_and_both_learning_curves(tmp_path, evaluation):
    page = write(tmp_path / "report.html", evaluation)
    per_class, curves, distribution = (
        base64.b64decode(data).decode()
        for data in re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page))
    for svg in (per_class, distribution):
        ticks = [svg.index(f">{label}<") for label in LABELS]
        assert ticks == sorted(ticks)
    for text in (">training<", ">validation<", ">loss<", ">accuracy<", ">UAR<"):
        assert text in curves


def test_confusion_matrix_has_labels_in_order_rows_true_columns_predicted(tmp_path, evaluation):
    metrics = evaluation[0]
    page = write(tmp_path / "report.html", evaluation)
    table = page[page.index('<table class="confusion">'):]
    table = table[:table.index("</table>")]
    row_labels = re.findall(r'<th class="row">([a-z]+)</th>', table)
    assert row_labels == list(LABELS)
    header = table[:table.index('<th class="total">total</th>')]
    assert re.findall(r"<th>([a-z]+)</th>", header) == list(LABELS)
    matrix = np.array(metrics["confusion"]["matrix"])
    for i, true in enumerate(LABELS):
        for j, predicted in enumerate(LABELS):
            if matrix[i, j]:
                assert f'title="true {true}, predicted {predicted}: {matrix[i, j]}"' in table
    cells = re.findall(r'<td class="cell[^"]*"[^>]*>(\d+)<small>', table)
    assert [int(c) for c in cells] == [int(v) for v in matrix.ravel() if v]


def test_numbers_sections_card_and_warnings_are_on_the_page(tmp_path, evaluation):
    metrics, _, breakdowns, _ = evaluation
    page = write(tmp_path / "report.html", evaluation)
    for key in ("uar", "accuracy", "macro_f1"):
        assert f"{metrics[key]:.3f}" in page
    assert f">{metrics['n']:,}<" in page
    for label, figures in metrics["per_class"].items():
        row = re.search(rf"<tr><th>{label}</th>(.*?)</tr>", page).group(1)
        assert row.endswith(f"<td>{figures['support']}</td>")
    assert "<h2>Training curves</h2>" in page and "<h2>By speaker</h2>" in page
    for speaker, figures in breakdowns["speaker"].items():
        assert f"<th>{speaker}</th><td>{figures['n']}</td>" in page
    assert "<h2>Training data</h2>" in page
    assert "&lt;script&gt;" in page  # raw HTML in the card is shown, not run
    assert "figures inflated by leakage" in page and "logreg on toy data" in page


def test_optional_parts_are_left_out_and_output_is_deterministic(tmp_path, evaluation):
    metrics = evaluation[0]
    first = write_report(tmp_path / "a.html", metrics=metrics).read_text()
    again = write_report(tmp_path / "b.html", metrics=metrics).read_text()
    assert first == again
    assert "Training curves" not in first and "Model card" not in first
    assert "Class distribution" in first and "among those evaluated" in first
    assert first.count("data:image/svg+xml") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html"]


def test_calibration_and_per_corpus_sections(tmp_path, evaluation):
    from sera.calibration import reliability

    metrics = dict(evaluation[0])
    proba = np.full((4, 7), 0.05)
    proba[:, 0] = 0.7
    y = np.array([0, 0, 1, 2])
    metrics["reliability"] = {"adapted, calibrated": {**reliability(proba, y), "ece": 0.2},
                              "single clip, calibrated": {**reliability(proba, y), "ece": 0.1}}
    metrics["by_corpus"] = {"nemo (LOSO)": {"n": 4, "uar_single_clip": 0.412,
                                            "uar_adapted": 0.523, "ece_single_clip": 0.031,
                                            "ece_adapted": 0.044}}
    page = write(tmp_path / "report.html", evaluation, metrics=metrics)
    assert "<h2>Calibration</h2>" in page and "<h2>Per corpus</h2>" in page
    for figure in ("0.412", "0.523", "0.031", "0.044"):
        assert figure in page
    images = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    diagram = [base64.b64decode(d).decode() for d in images if "ECE 0.200" in
               base64.b64decode(d).decode()]
    assert len(diagram) == 1 and "ECE 0.100" in diagram[0]
    assert "Calibration" not in write(tmp_path / "plain.html", evaluation)
