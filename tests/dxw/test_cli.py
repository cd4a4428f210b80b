"""Every `dxw` command is wired to what it runs and refuses bad usage; the small commands do what they say."""

import argparse
import os
import subprocess
import sys

import pytest

from dxw.cli import build_parser, main
from dxw.settings import get_settings


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every command of the parser (``("db", "url")``...) with its parser, walked from argparse."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


def test_every_command_runs_a_handler_or_requires_an_action():
    # A command without a handler would parse and then fail in main with an AttributeError; a
    # group whose action were optional would do the same for `dxw db`.
    commands = dict(_commands(build_parser()))
    assert len(commands) > 25
    assert {("demo",), ("db",), ("db", "url"), ("upload", "template"), ("airflow", "up")} <= set(commands)
    for path, parser in commands.items():
        assert parser.description, path
        groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if groups:
            assert all(group.required for group in groups), path
        else:
            assert callable(parser.get_default("handler")), path


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["db"], "the following arguments are required: ACTION"),
        (["ingest"], "the following arguments are required: KIND"),
        (["backfill", "--from", "2022S1"], "the following arguments are required: --to"),
        (["upload", "template", "--unit", "024"], "the following arguments are required: --period"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
    ids=[
        "no command",
        "group without action",
        "ingest without kind",
        "missing option",
        "template",
        "unknown",
    ],
)
def test_bad_usage_exits_2_with_the_usage_and_what_is_missing(argv, refusal, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: dxw")
    assert refusal in err


def test_help_shows_a_commands_options_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["upload", "template", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: dxw upload template")
    assert "--unit UNIT" in out
    assert "--period PERIOD" in out


def test_period_prints_both_conventions(capsys):
    assert main(["period", "2025-06-15"]) == 0
    out = capsys.readouterr().out
    assert "decree09  halfyear  2025S2  2025-06-15 .. 2025-12-14" in out
    assert "calendar  halfyear  2025S1  2025-01-01 .. 2025-06-30" in out


def test_bad_input_is_one_readable_line(capsys):
    assert main(["period", "14/06/2025"]) == 1
    err = capsys.readouterr().err
    assert err == "dxw: error: date '14/06/2025' is not a date: write it YYYY-MM-DD, e.g. 2025-06-14\n"
    assert "Traceback" not in err


def test_verbose_shows_the_traceback_of_a_user_error(capsys):
    assert main(["-v", "period", "14/06/2025"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "dxw.errors.InputError: date '14/06/2025' is not a date" in err


def test_a_bad_number_in_a_setting_is_one_line_naming_it(capsys, monkeypatch):
    monkeypatch.setenv("DXW_LOCK_TIMEOUT_MS", "soon")
    get_settings.cache_clear()
    try:
        assert main(["upload", "inbox"]) == 2
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert capsys.readouterr().err == "dxw: DXW_LOCK_TIMEOUT_MS='soon' is not a number (default 1000)\n"


def test_a_bug_shows_its_traceback_and_exits_1():
    # The real command line in a process of its own: the exception is not caught into one line.
    script = (
        "import sys\n"
        "import dxw.cli\n"
        "def broken(args):\n"
        "    return {}['missing']\n"
        "dxw.cli.cmd_period = broken\n"
        "sys.exit(dxw.cli.main(['period', '2025-06-14']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "in broken" in result.stderr
    assert result.stderr.rstrip().endswith("KeyError: 'missing'")
    assert "dxw: error" not in result.stderr


def test_a_bugs_traceback_shows_no_password():
    # A library quoting the connection string in its error: the traceback masks the password.
    script = (
        "import os, sys\n"
        "import dxw.cli\n"
        "def broken(args):\n"
        "    raise RuntimeError('could not use ' + os.environ['DXW_DATABASE_URL'])\n"
        "dxw.cli.cmd_period = broken\n"
        "sys.exit(dxw.cli.main(['period', '2025-06-14']))\n"
    )
    env = {**os.environ, "DXW_DATABASE_URL": "postgresql://dxw:s3cret-Pw@db:5432/dxw"}
    command = [sys.executable, "-c", script]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "RuntimeError: could not use postgresql://dxw:***@db:5432/dxw" in result.stderr
    assert "s3cret" not in result.stderr


@pytest.mark.integration
def test_db_url_and_status(capsys, empty_warehouse):
    assert main(["db", "url"]) == 0
    assert capsys.readouterr().out.strip().startswith("postgresql://")
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "nothing landed yet" in out
    assert "nothing published yet" in out


def test_an_unreachable_warehouse_is_one_line(capsys, monkeypatch):
    # Nothing listens on port 9.
    monkeypatch.setenv("DXW_DATABASE_URL", "postgresql://nobody:s3cret@127.0.0.1:9/none")
    get_settings.cache_clear()
    try:
        assert main(["db", "url"]) == 1
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("dxw: error: cannot connect to postgresql://nobody:***@127.0.0.1:9/postgres: ")
    assert err.count("\n") == 1
    assert "s3cret" not in err
