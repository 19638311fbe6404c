"""The evaluation report: one self-contained HTML page.

Headline figures as cards, the confusion matrix as a colour-coded table (rows are the true
emotion, columns the predicted one, both in label order), per-class precision/recall/F1,
training curves, the class distribution, breakdowns per corpus/speaker/gender and the model
card. Styles are inline and figures are SVG embedded as data URIs, so the file can be mailed
or archived on its own and opens without a network.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sera import __version__

#: One colour per emotion, in label order (colour-blind-friendly, after Okabe & Ito).
EMOTION_COLOURS = ("#d55e00", "#009e73", "#7b3294", "#e6ab02", "#7f7f7f", "#0072b2", "#cc79a7")
#: Precision, recall, F1.
FIGURE_COLOURS = ("#94a3b8", "#2563eb", "#0f766e")
#: Learning-curve colours for the training and validation parts.
PART_COLOURS = {"train": "#2563eb", "val": "#ea580c"}


def write_report(out_html: str | os.PathLike, *, metrics: dict,
                 history: Sequence[dict] | None = None, manifest=None, card: str | None = None,
                 breakdowns: dict | None = None,
                 warnings: Sequence[str] = (), title: str = "sera evaluation report",
                 subtitle: str | None = None, robustness: dict | None = None,
                 cross_corpus: dict | None = None) -> Path:
    """Write the report page.

    Parameters
    ----------
    out_html : path-like
        The HTML file to write (written atomically).
    metrics : dict
        :func:`sera.metrics.evaluate_predictions` output (the ``sera evaluate --json`` document).
    history : sequence of dict, optional
        One dict per epoch; every key named ``loss``, ``accuracy`` or ``uar``, or ending in
        ``_loss``, ``_accuracy`` or ``_uar`` (``train_loss``, ``val_uar``, ...) is drawn; ``epoch``
        gives the x axis.
    manifest : pd.DataFrame, optional
        The utterances of the data set (``emotion`` and optionally ``corpus`` columns) for the
        class distribution; without it the distribution of the evaluated utterances is shown.
    card : str, optional
        The model card, markdown.
    breakdowns : dict, optional
        ``{column: {group: {"n", "accuracy", "uar", "macro_f1"}}}`` as
        :func:`sera.metrics.breakdown` gives per column.
    warnings : sequence of str
        Shown as banners above everything (for example, that a random split leaks).
    title, subtitle : str
        The page heading and a line under it (model, data, protocol).
    robustness : dict, optional
        ``{series name: sera.robustness.robustness_curve(...)}``: a plot of UAR per recording
        condition and the same figures as a table.
    cross_corpus : dict, optional
        :func:`sera.crosscorpus.cross_corpus_matrix` output: the train × test corpus UAR matrix.

    Returns
    -------
    Path
        The file written.
    """
    labels = list(metrics["confusion"]["labels"])
    sections = [
        _section("Confusion matrix", _confusion_table(metrics),
                 "Rows are the true emotion, columns the predicted one. The shade is the share of "
                 "the row, so the diagonal reads as each emotion's recall."),
        _section("Per-class figures", _per_class(metrics)),
    ]
    if history:
        sections.append(_section("Training curves", _curves(history),
                                 "Per epoch, on the training and validation parts; the dashed line "
                                 "marks the epoch with the best validation UAR."))
    sections.append(_section("Class distribution", _distribution(metrics, manifest, labels),
                             "Utterances per emotion among those evaluated." if manifest is None
                             else "Utterances per emotion in the data set."))
    if metrics.get("reliability"):
        sections.append(_section("Calibration", _reliability(metrics),
                                 "Reliability diagram: in each confidence bin, how often the top "
                                 "label was right against how sure the model was. On the "
                                 "diagonal, p = 0.8 is right eight times in ten. ECE is the "
                                 "count-weighted mean gap (10 bins)."))
    if metrics.get("by_corpus"):
        sections.append(_section("Per corpus", _by_corpus_table(metrics["by_corpus"]),
                                 "Each corpus's own figures: its speakers held out (leave one "
                                 "speaker out) or the whole corpus held out (leave one corpus "
                                 "out), one clip at a time and adapted to the speaker."))
    if robustness:
        sections.append(_section("Robustness to recording conditions",
                                 _robustness(robustness),
                                 "UAR under noise at a signal-to-noise ratio, the telephone band, "
                                 "a low-bitrate MP3 round trip and a gain of ±20 dB."))
    if cross_corpus:
        sections.append(_section("Cross-corpus UAR", _cross_corpus_table(cross_corpus),
                                 "Rows are the corpus trained on, columns the corpus tested on; "
                                 "the diagonal tests held-out speakers of the same corpus."))
    for column, groups in (breakdowns or {}).items():
        sections.append(_section(f"By {column}", _breakdown_table(column, groups)))
    if card:
        sections.append(_section("Model card", f'<div class="card-md">{_markdown(card)}</div>'))
    page = _PAGE.format(
        title=html.escape(title), css=_CSS, version=html.escape(__version__),
        subtitle=f'<p class="subtitle">{html.escape(subtitle)}</p>' if subtitle else "",
        warnings="".join(f'<div class="warning">&#9888; {html.escape(w)}</div>' for w in warnings),
        headline=_headline(metrics, len(labels)), sections="\n".join(sections))
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, out)
    return out


def _headline(metrics: dict, n_labels: int) -> str:
    """The four headline cards; UAR first and largest, with chance level beside it."""
    present = sum(1 for figures in metrics["per_class"].values() if figures["support"] > 0)
    chance = 1 / max(present, 1)
    cards = [
        ("UAR", _fmt(metrics["uar"]), f"unweighted average recall &middot; chance {chance:.2f}",
         metrics["uar"], "primary"),
        ("Accuracy", _fmt(metrics["accuracy"]), "share of utterances right", metrics["accuracy"],
         ""),
        ("Macro-F1", _fmt(metrics["macro_f1"]), "mean F1 over emotions", metrics["macro_f1"], ""),
        ("Utterances", f"{metrics['n']:,}", f"{present} of {n_labels} emotions present", None, ""),
    ]
    out = []
    for name, value, note, fraction, kind in cards:
        meter = ("" if fraction is None else
                 f'<div class="meter"><span style="width:{100 * fraction:.1f}%"></span>'
                 f'<i style="left:{100 * chance:.1f}%" title="chance"></i></div>')
        out.append(f'<div class="metric {kind}"><div class="name">{name}</div>'
                   f'<div class="value">{value}</div>{meter}<div class="note">{note}</div></div>')
    return f'<div class="metrics">{"".join(out)}</div>'


def _confusion_table(metrics: dict) -> str:
    """The confusion matrix as a table shaded by row share, with row and column totals."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    labels = metrics["confusion"]["labels"]
    matrix = np.asarray(metrics["confusion"]["matrix"], dtype=np.int64)
    totals = matrix.sum(axis=1)
    share = matrix / np.maximum(totals, 1)[:, None]
    cmap = colormaps["Blues"]
    rows = []
    for i, label in enumerate(labels):
        axis = (f'<th class="axis vertical" rowspan="{len(labels)}"><span>true emotion'
                f'</span></th>' if i == 0 else "")
        cells = []
        for j, predicted in enumerate(labels):
            kind = "cell diag" if i == j else "cell"
            if matrix[i, j] == 0:
                cells.append(f'<td class="{kind} zero">&middot;</td>')
                continue
            background = to_hex(cmap(0.08 + 0.87 * share[i, j]))
            ink = "#fff" if share[i, j] > 0.45 else "#1e293b"
            tip = f"true {label}, predicted {predicted}: {matrix[i, j]}"
            cells.append(f'<td class="{kind}" style="background:{background};color:{ink}" '
                         f'title="{html.escape(tip)}">{matrix[i, j]}'
                         f'<small>{100 * share[i, j]:.0f}%</small></td>')
        rows.append(f'<tr>{axis}<th class="row">{html.escape(label)}</th>{"".join(cells)}'
                    f'<td class="total">{totals[i]}</td></tr>')
    head = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    columns = "".join(f'<td class="total">{count}</td>' for count in matrix.sum(axis=0))
    return ('<div class="scroll"><table class="confusion">'
            f'<tr><td colspan="2"></td><th class="axis" colspan="{len(labels)}">predicted '
            f'emotion &rarr;</th><td></td></tr>'
            f'<tr><td colspan="2"></td>{head}<th class="total">total</th></tr>'
            + "".join(rows)
            + f'<tr><td></td><th class="row total">total</th>{columns}'
            f'<td class="total">{matrix.sum()}</td></tr></table></div>')


def _per_class(metrics: dict) -> str:
    """Grouped precision/recall/F1 bars beside the same figures as a table."""
    labels = list(metrics["per_class"])
    names = ("precision", "recall", "f1")
    values = np.array([[np.nan if metrics["per_class"][label][key] is None
                        else metrics["per_class"][label][key] for key in names]
                       for label in labels])
    with _style():
        fig, ax = _figure_and_axes(1, (7.2, 3.4))
        x = np.arange(len(labels))
        width = 0.26
        for k, (name, colour) in enumerate(zip(names, FIGURE_COLOURS, strict=True)):
            ax.bar(x + (k - 1) * width, np.nan_to_num(values[:, k]), width, color=colour,
                   label="F1" if name == "f1" else name)
        ax.set_xticks(x, labels)
        ax.set_ylim(0, 1)
        ax.yaxis.grid(True)
        ax.legend(ncols=3, loc="upper center", bbox_to_anchor=(0.5, 1.16), frameon=False)
        figure = _embed(fig)
    rows = "".join(
        f'<tr><th>{html.escape(label)}</th>'
        + "".join(f"<td>{_fmt(metrics['per_class'][label][key])}</td>" for key in names)
        + f"<td>{metrics['per_class'][label]['support']}</td></tr>"
        for label in labels)
    table = ('<table class="figures"><tr><th>emotion</th><th>precision</th><th>recall</th>'
             f'<th>F1</th><th>support</th></tr>{rows}</table>')
    return f'<div class="pair">{figure}{table}</div>'


def _curves(history: Sequence[dict]) -> str:
    """Loss, accuracy and UAR per epoch, training and validation, side by side."""
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    val_uar = [np.nan if row.get("val_uar") is None else row["val_uar"] for row in history]
    best = None if np.isnan(val_uar).all() else epochs[int(np.nanargmax(val_uar))]
    with _style():
        fig, axes = _figure_and_axes(3, (10.5, 3.0))
        for ax, (metric, name) in zip(axes, [("loss", "loss"), ("accuracy", "accuracy"),
                                             ("uar", "UAR")], strict=True):
            for key in sorted({k for row in history for k in row
                               if k == metric or k.endswith("_" + metric)}):
                part = "val" if key.startswith("val") else "train"
                series = [np.nan if row.get(key) is None else row[key] for row in history]
                ax.plot(epochs, series, color=PART_COLOURS[part], lw=2,
                        label="validation" if part == "val" else "training")
            if best is not None:
                ax.axvline(best, color="#64748b", ls="--", lw=1)
            ax.set_title(name, loc="left", fontweight="bold")
            ax.set_xlabel("epoch")
            ax.yaxis.grid(True)
        axes[0].legend(frameon=False)
        return _embed(fig)


def _distribution(metrics: dict, manifest, labels: list[str]) -> str:
    """Utterances per emotion, stacked by corpus when the manifest has several."""
    if manifest is None:
        counts = {"evaluated": np.array([metrics["per_class"][label]["support"]
                                         for label in labels])}
    else:
        by = manifest["corpus"] if "corpus" in manifest else np.full(len(manifest), "all")
        table = manifest.groupby([by, manifest["emotion"]]).size().unstack(fill_value=0)
        table = table.reindex(columns=labels, fill_value=0)
        counts = {str(corpus): row.to_numpy() for corpus, row in table.iterrows()}
    with _style():
        fig, ax = _figure_and_axes(1, (7.2, 2.9))
        x = np.arange(len(labels))
        bottom = np.zeros(len(labels))
        for k, (name, values) in enumerate(counts.items()):
            if len(counts) == 1:
                ax.bar(x, values, 0.7, color=EMOTION_COLOURS[:len(labels)])
            else:
                ax.bar(x, values, 0.7, bottom=bottom, label=name, color=PART_COLOURS["train"],
                       alpha=1 - 0.7 * k / len(counts))
            bottom += values
        for xi, total in zip(x, bottom, strict=True):
            ax.annotate(f"{int(total)}", (xi, total), ha="center", va="bottom", fontsize=9,
                        xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(x, labels)
        ax.set_ylabel("utterances")
        ax.set_ylim(0, max(bottom.max(), 1) * 1.15)
        ax.yaxis.grid(True)
        if len(counts) > 1:
            ax.legend(frameon=False, title="corpus", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _embed(fig)


def _robustness(curves: dict) -> str:
    """The robustness plot beside a table: one row per condition, one column per series."""
    from sera.robustness import robustness_figure

    with _style():
        figure = _embed(robustness_figure(curves))
    names = list(curves)
    conditions = list(dict.fromkeys(c for curve in curves.values() for c in curve))
    head = "".join(f"<th>{html.escape(name)}</th>" for name in names)
    rows = "".join(
        f'<tr><th>{html.escape(condition)}</th>'
        + "".join(f'<td>{_fmt(curves[name].get(condition, {}).get("uar"))}</td>'
                  for name in names)
        + f'<td>{max(curves[name].get(condition, {}).get("n", 0) for name in names)}</td></tr>'
        for condition in conditions)
    return (f'{figure}<div class="scroll"><table class="figures"><tr><th>condition</th>{head}'
            f'<th>n</th></tr>{rows}</table></div>')


def _cross_corpus_table(matrix: dict) -> str:
    """The train × test corpus UAR matrix, shaded by UAR like the confusion matrix."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    corpora = matrix["corpora"]
    cmap = colormaps["Blues"]
    rows = []
    for i, train_corpus in enumerate(corpora):
        axis = (f'<th class="axis vertical" rowspan="{len(corpora)}"><span>trained on'
                f'</span></th>' if i == 0 else "")
        cells = []
        for j, test_corpus in enumerate(corpora):
            uar, n = matrix["uar"][i][j], matrix["n"][i][j]
            kind = "cell diag" if i == j else "cell"
            if uar is None:
                cells.append(f'<td class="{kind} zero">&ndash;</td>')
                continue
            background = to_hex(cmap(0.08 + 0.87 * uar))
            ink = "#fff" if uar > 0.45 else "#1e293b"
            tip = f"trained on {train_corpus}, tested on {test_corpus}: UAR {uar:.3f}, n={n}"
            cells.append(f'<td class="{kind}" style="background:{background};color:{ink}" '
                         f'title="{html.escape(tip)}">{uar:.3f}<small>n={n}</small></td>')
        rows.append(f'<tr>{axis}<th class="row">{html.escape(train_corpus)}</th>'
                    f'{"".join(cells)}</tr>')
    head = "".join(f"<th>{html.escape(c)}</th>" for c in corpora)
    return ('<div class="scroll"><table class="confusion">'
            f'<tr><td colspan="2"></td><th class="axis" colspan="{len(corpora)}">tested on '
            f'&rarr;</th></tr><tr><td colspan="2"></td>{head}</tr>' + "".join(rows)
            + "</table></div>")


def _reliability(metrics: dict) -> str:
    """Reliability diagram(s): accuracy against confidence per bin, before and after
    calibration where both are given, with the ECE of each in the legend."""
    curves = metrics["reliability"]
    with _style():
        fig, ax = _figure_and_axes(1, (4.6, 4.2))
        ax.plot([0, 1], [0, 1], color="#94a3b8", linestyle="--", linewidth=1, label="perfect")
        for (name, curve), colour in zip(curves.items(), ("#ea580c", "#2563eb", "#0f766e"),
                                         strict=False):
            points = [(c, a) for c, a, n in zip(curve["confidence"], curve["accuracy"],
                                                curve["count"], strict=True) if n]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            ece = curve.get("ece")
            ax.plot(xs, ys, marker="o", color=colour,
                    label=f"{name} (ECE {ece:.3f})" if ece is not None else name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top probability)")
        ax.set_ylabel("accuracy")
        ax.legend(loc="upper left", fontsize=8)
        figure = _embed(fig)
    rows = "".join(f"<tr><th>{html.escape(name)}</th><td>{_fmt(curve.get('ece'))}</td></tr>"
                   for name, curve in curves.items())
    return (f'{figure}<div class="scroll"><table class="figures"><tr><th>scores</th>'
            f'<th>ECE</th></tr>{rows}</table></div>')


def _by_corpus_table(by_corpus: dict) -> str:
    """One row per test corpus and protocol: n, UAR single clip and adapted, ECE."""
    rows = []
    for name, figures in by_corpus.items():
        cells = "".join(f"<td>{_fmt(figures.get(key))}</td>" for key in
                        ("uar_single_clip", "uar_adapted", "ece_single_clip", "ece_adapted"))
        rows.append(f'<tr><th>{html.escape(str(name))}</th><td>{figures.get("n", "")}</td>'
                    f"{cells}</tr>")
    return ('<div class="scroll"><table class="figures"><tr><th>held out</th><th>n</th>'
            "<th>UAR single clip</th><th>UAR adapted</th><th>ECE single clip</th>"
            f'<th>ECE adapted</th></tr>{"".join(rows)}</table></div>')


def _breakdown_table(column: str, groups: dict) -> str:
    """One row per group, with a bar for its UAR."""
    rows = []
    for group, figures in groups.items():
        uar = figures["uar"]
        rows.append(f'<tr><th>{html.escape(str(group))}</th><td>{figures["n"]}</td>'
                    f'<td class="bar-cell"><span class="track"><span class="bar" '
                    f'style="width:{100 * uar:.1f}%"></span></span><b>{_fmt(uar)}</b></td>'
                    f'<td>{_fmt(figures["accuracy"])}</td>'
                    f'<td>{_fmt(figures["macro_f1"])}</td></tr>')
    return (f'<div class="scroll"><table class="figures breakdown"><tr>'
            f'<th>{html.escape(column)}</th><th>n</th><th class="bar-head">UAR</th>'
            f'<th>accuracy</th><th>macro-F1</th></tr>{"".join(rows)}</table></div>')


def _section(title: str, body: str, caption: str | None = None) -> str:
    """A titled panel of the page."""
    note = f'<p class="caption">{html.escape(caption)}</p>' if caption else ""
    return f'<section><h2>{html.escape(title)}</h2>{note}{body}</section>'


def _figure_and_axes(columns: int, size: tuple[float, float]):
    """A figure with one row of axes, made without pyplot (no backend, no global state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig, fig.subplots(1, columns)


def _embed(fig) -> str:
    """A figure as an SVG image embedded in the page."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="figure" alt="figure" src="data:image/svg+xml;base64,{data}">'


def _style():
    """Matplotlib settings shared by every figure: quiet axes, text kept as text, stable ids."""
    import matplotlib

    return matplotlib.rc_context({
        "svg.fonttype": "none", "svg.hashsalt": "sera", "font.size": 10,
        "font.family": ["DejaVu Sans", "sans-serif"],
        "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#94a3b8",
        "axes.labelcolor": "#334155", "xtick.color": "#334155", "ytick.color": "#334155",
        "grid.color": "#e2e8f0", "axes.axisbelow": True, "figure.facecolor": "white",
    })


def _markdown(text: str) -> str:
    """Markdown to HTML, with any raw HTML in it escaped."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _fmt(value) -> str:
    """A figure to three decimals; an undefined one as a dash."""
    return "&ndash;" if value is None else f"{value:.3f}"


_CSS = """
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --accent:#2563eb; --bg:#f1f5f9; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
header { background:linear-gradient(120deg,#1e3a8a,#2563eb 55%,#0ea5e9); color:#fff;
  padding:34px 0 84px; }
.wrap { max-width:1100px; margin:0 auto; padding:0 28px; }
h1 { margin:0; font-size:30px; letter-spacing:-.02em; }
.subtitle { margin:6px 0 0; opacity:.85; }
main { margin-top:-60px; }
.metrics { display:grid; grid-template-columns:1.35fr 1fr 1fr 1fr; gap:16px; }
.metric { background:#fff; border-radius:14px; padding:18px 20px;
  box-shadow:0 1px 3px rgba(15,23,42,.08),0 8px 24px rgba(15,23,42,.06); }
.metric .name { font-size:13px; text-transform:uppercase; letter-spacing:.08em; color:var(--muted);
  font-weight:600; }
.metric .value { font-size:34px; font-weight:700; letter-spacing:-.02em;
  font-variant-numeric:tabular-nums; }
.metric.primary .value { font-size:46px; color:var(--accent); }
.metric .note { font-size:13px; color:var(--muted); }
.meter { position:relative; height:6px; background:var(--line); border-radius:3px; margin:6px 0; }
.meter span { position:absolute; inset:0 auto 0 0; background:var(--accent); border-radius:3px; }
.meter i { position:absolute; top:-3px; width:2px; height:12px; background:#f97316; }
.warning { background:#fff7ed; border:1px solid #fdba74; color:#9a3412; border-radius:12px;
  padding:12px 16px; margin-bottom:16px; font-weight:600; }
section { background:#fff; border-radius:14px; padding:22px 26px; margin:18px 0;
  box-shadow:0 1px 3px rgba(15,23,42,.08); }
h2 { margin:0 0 4px; font-size:19px; }
.caption { margin:0 0 14px; color:var(--muted); font-size:14px; }
.figure { display:block; max-width:100%; height:auto; margin:8px auto 0; }
.pair { display:grid; grid-template-columns:1.5fr 1fr; gap:20px; align-items:center; }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; font-variant-numeric:tabular-nums; }
table.figures { width:100%; font-size:14px; }
table.figures th, table.figures td { padding:6px 10px; border-bottom:1px solid var(--line);
  text-align:right; }
table.figures th:first-child { text-align:left; }
table.figures tr:first-child th { color:var(--muted); font-weight:600; font-size:12px;
  text-transform:uppercase; letter-spacing:.05em; }
.bar-cell, th.bar-head { min-width:180px; text-align:left !important; }
.track { display:inline-block; width:120px; height:10px; background:var(--line);
  border-radius:5px; margin-right:10px; vertical-align:middle; overflow:hidden; }
.track .bar { display:block; height:100%; background:var(--accent); border-radius:5px; }
.bar-cell b { font-weight:600; }
table.confusion { margin:6px auto; }
table.confusion th { font-size:13px; font-weight:600; color:#334155; padding:4px 6px; }
table.confusion th.row { text-align:right; padding-right:10px; }
table.confusion th.axis { color:var(--muted); text-transform:uppercase; letter-spacing:.08em;
  font-size:11px; }
table.confusion th.vertical { width:26px; padding:0 4px; }
table.confusion th.vertical span { writing-mode:vertical-rl; transform:rotate(180deg);
  white-space:nowrap; }
td.cell { width:74px; height:54px; text-align:center; font-size:17px; font-weight:600;
  border:2px solid #fff; border-radius:6px; }
td.cell small { display:block; font-size:11px; font-weight:500; opacity:.8; }
td.cell.zero { color:#cbd5e1; background:#f8fafc; }
td.cell.diag { outline:2px solid rgba(15,23,42,.25); outline-offset:-2px; }
td.total { text-align:center; color:var(--muted); font-size:13px; padding:0 8px; }
.card-md { max-width:820px; }
.card-md h1 { font-size:22px; margin:0 0 8px; }
.card-md h2 { font-size:16px; margin:18px 0 6px; color:#1e3a8a; }
.card-md table { font-size:14px; margin:8px 0; }
.card-md th, .card-md td { border-bottom:1px solid var(--line); padding:4px 10px; }
.card-md code { background:#f1f5f9; padding:1px 5px; border-radius:4px; }
footer { color:var(--muted); font-size:13px; text-align:center; padding:10px 0 30px; }
@media (max-width:800px) { .metrics { grid-template-columns:1fr 1fr; } .pair { display:block; } }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><div class="wrap"><h1>{title}</h1>{subtitle}</div></header>
<main class="wrap">
{warnings}
{headline}
{sections}
</main>
<footer>Generated by sera {version}</footer>
</body>
</html>
"""
