"""The CLI's one error path: every command that stops on an error prints ``error: <one line>``
on stderr and exits with the status DESIGN.md gives (non-zero; 2 for a command line that cannot
run), whether the error is raised in a command or reaches :func:`sera.cli.main`."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from sera import cli
from sera.cli._app import FAILED, USAGE, app, fail
from sera.errors import InputError


def _main_with(monkeypatch, command) -> None:
    """Run :func:`sera.cli.main` over an app whose one command is ``command``."""
    monkeypatch.setattr(cli, "app", typer.Typer())
    cli.app.command("x")(command)
    monkeypatch.setattr("sys.argv", ["sera"])
    cli.main()


def test_a_sera_error_reaching_main_is_one_error_line_and_status_1(monkeypatch, capsys):
    def broken():
        raise InputError("bad.wav: not\naudio")

    with pytest.raises(SystemExit) as exit:
        _main_with(monkeypatch, broken)
    assert exit.value.code == FAILED == 1
    assert capsys.readouterr() == ("", "error: bad.wav: not\\naudio\n")


def test_a_missing_extra_is_one_error_line_naming_the_install(monkeypatch, capsys):
    def needs_torch():
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    with pytest.raises(SystemExit) as exit:
        _main_with(monkeypatch, needs_torch)
    assert exit.value.code == 1
    assert capsys.readouterr().err == ("error: this command needs torch, which the base "
                                       "install leaves out: pip install sera[train]\n")


def test_fail_prints_the_line_and_exits_with_the_status_given(capsys):
    with pytest.raises(SystemExit) as exit:
        fail("[red]x[/red]", USAGE)
    assert exit.value.code == 2
    assert capsys.readouterr() == ("", "error: [red]x[/red]\n")  # shown as it is, no markup


@pytest.mark.parametrize(("args", "status", "line"), [
    (["train"], USAGE, "error: name a corpus (PATH...) or a --recipe with [data] corpora"),
    (["predict", "a.wav", "--json", "--csv"], FAILED, "error: choose one of --json and --csv"),
])
def test_commands_stop_through_the_same_path(args, status, line):
    import sera.cli.infer  # noqa: F401  (registers the commands)
    import sera.cli.train  # noqa: F401

    result = CliRunner().invoke(app, args)
    assert result.exit_code == status
    assert result.output.splitlines() == [line]
