"""The documentation: every ``>>>`` example of its pages runs and prints what the page says,
and the site builds strictly (a warning is an error) and offline."""

from __future__ import annotations

import doctest
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(path for path in DOCS.rglob("*.md") if ">>> " in path.read_text())

#: A Markdown code fence: blanked before doctest reads a page, so that the fence closing an
#: example is not taken for the last line of its expected output.
FENCE = re.compile(r"^\s*```.*$", re.M)


def run_examples(page: Path) -> doctest.TestResults:
    """Run a page's examples with doctest, in one namespace, top to bottom; report failures
    on stdout."""
    text = FENCE.sub("", page.read_text())
    test = doctest.DocTestParser().get_doctest(text, {"__name__": "__docs__"}, page.name,
                                               str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=sys.stdout.write)
    return runner.summarize(verbose=False)


def test_every_guide_page_has_examples():
    """Each page of the user guide shows its part of the Python API by examples (the
    development page is commands only)."""
    guide = {path.name for path in (DOCS / "guide").glob("*.md")} - {"development.md"}
    assert len(guide) >= 10
    assert guide <= {page.name for page in PAGES}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(DOCS)))
def test_page_examples_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # every page starts in an empty folder
    failed, attempted = run_examples(page)
    assert attempted, page
    assert failed == 0, capsys.readouterr().out


def test_a_wrong_example_fails(tmp_path):
    """The runner reports an example whose output differs (it would pass anything if the
    fences or the parser swallowed the expected output)."""
    page = tmp_path / "page.md"
    page.write_text("```pycon\n>>> 1 + 1\n3\n```\n")
    assert tuple(run_examples(page)) == (1, 1)


#: An attribute that makes the browser fetch something (a stylesheet, a script, an image, a
#: font) from an absolute address: the site must load nothing from elsewhere.
REMOTE_ASSET = re.compile(
    r"<(?:script|img|iframe|source)\b[^>]*\bsrc=[\"']?(?:https?:)?//"
    r"|<link\b(?=[^>]*\brel=[\"']?(?:stylesheet|preload|preconnect|icon|manifest))"
    r"[^>]*\bhref=[\"']?(?:https?:)?//"
    r"|url\([\"']?(?:https?:)?//", re.I)


def test_remote_asset_pattern():
    assert REMOTE_ASSET.search('<script src="https://cdn.example/x.js">')
    assert REMOTE_ASSET.search('<link rel="stylesheet" href="//fonts.example/css">')
    assert not REMOTE_ASSET.search('<a href="https://github.com/resemble-ai/Resemblyzer">')
    assert not REMOTE_ASSET.search('<link rel="stylesheet" href="assets/main.css">')


def test_site_builds_strictly_and_offline(tmp_path):
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mkdocs is not installed (the docs extra: pip install '.[docs]')")
    site = tmp_path / "site"
    build = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-d", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-4000:]
    pages = list(site.rglob("*.html"))
    assert (site / "index.html").is_file() and len(pages) >= 20
    for page in pages:
        text = page.read_text()
        assert not REMOTE_ASSET.search(text), page.relative_to(site)
    for asset in site.rglob("*.css"):
        assert not REMOTE_ASSET.search(asset.read_text()), asset.relative_to(site)
    # The reference is generated from the docstrings: the public names have their entries.
    reference = (site / "reference" / "sera.html").read_text()
    for name in ("load", "Model", "Prediction", "Segment", "Analysis"):
        assert re.search(rf'id="sera\.[\w.]*\b{name}"', reference), name


def test_readme_is_a_front_page_whose_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 300
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert len(local) >= 10
    for link in local:
        assert (ROOT / link).exists(), link
