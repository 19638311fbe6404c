"""The house rules, checked on the source: data flows one way (DESIGN.md), modules stay small,
and only the CLI draws.

Each module of ``src/sera`` belongs to one stage below; a module may import (at the top or
inside a function) only modules of its own stage or of earlier ones. A new module must be
given a stage here, which is the moment to decide where it sits.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Stages, earliest first. ``x*`` is a package and everything in it.
STAGES: list[tuple[str, ...]] = [
    ("sera.errors", "sera.options", "sera.labels", "sera.results", "sera.progress"),
    ("sera.audio",),
    ("sera.corpora*", "sera.segment", "sera.augment", "sera.splits", "sera.scale"),
    ("sera.features*", "sera.speaker*"),
    ("sera.adapt", "sera.calibration", "sera.scoring", "sera.metrics"),
    ("sera.models*",),
    ("sera.bundle", "sera.cards", "sera.recipes"),
    ("sera.train", "sera.crossval", "sera.crosscorpus", "sera.evaluate", "sera.robustness",
     "sera.report", "sera.plots"),
    ("sera.conversation", "sera.summary", "sera.formats", "sera.infer", "sera.batch*"),
    ("sera.serve*", "sera.cli*", "sera.__main__"),
]

#: The longest a module may grow before it is split by job.
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "sera").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _stage(name: str) -> int | None:
    for i, members in enumerate(STAGES):
        for member in members:
            if name == member or (member.endswith("*") and
                                  (name == member[:-1] or name.startswith(member[:-1] + "."))):
                return i
    return None


def _imports(path: Path) -> set[str]:
    """The sera modules a file imports anywhere (top level or inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("sera."):
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names
                             if f"{node.module}.{alias.name}" in MODULES)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("sera."))
    return names


def _later_imports(name: str, path: Path) -> list[str]:
    stage = _stage(name)
    return sorted(dep for dep in _imports(path)
                  if dep in MODULES and _stage(dep) is not None and _stage(dep) > stage)


@pytest.mark.parametrize("name", [name for name in MODULES if name != "sera"])
def test_every_module_has_a_stage_and_imports_no_later_one(name):
    assert _stage(name) is not None, f"{name}: give it a stage in STAGES"
    later = _later_imports(name, MODULES[name])
    assert not later, f"{name} (stage {_stage(name)}) imports a later stage: {later}"


def test_a_backward_import_is_caught_even_inside_a_function(tmp_path):
    fake = tmp_path / "store.py"
    fake.write_text("import numpy\n\ndef f():\n    from sera.train import fit\n"
                    "    import sera.infer\n")
    assert _later_imports("sera.features.store", fake) == ["sera.infer", "sera.train"]
    assert _later_imports("sera.cli.infer", fake) == []


@pytest.mark.parametrize("name", list(MODULES))
def test_no_module_is_longer_than_its_job(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines; split it by job"


def test_only_the_cli_draws_progress_bars():
    drawing = sorted(name for name, path in MODULES.items()
                     if not name.startswith("sera.cli") and "rich.progress" in path.read_text())
    assert not drawing, f"library modules drawing bars (report through sera.progress): {drawing}"
