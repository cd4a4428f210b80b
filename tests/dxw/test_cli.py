"""Every `dxw` command answers --help; the small commands do what they say."""

import pytest

from dxw.cli import build_parser, main

COMMANDS = [
    [],
    ["demo"],
    ["db"],
    ["db", "url"],
    ["db", "start"],
    ["db", "stop"],
    ["db", "grant"],
    ["db", "scope"],
    ["simulator"],
    ["simulator", "serve"],
    ["run"],
    ["status"],
    ["backfill"],
    ["period"],
    ["manifest"],
    ["units"],
    ["units", "write-seeds"],
    ["ingest"],
    ["ingest", "dhis2"],
    ["ingest", "upload"],
    ["upload"],
    ["upload", "template"],
    ["upload", "inbox"],
    ["report"],
    ["airflow"],
    ["airflow", "up"],
    ["airflow", "down"],
    ["airflow", "status"],
    ["airflow", "trigger"],
    ["airflow", "worker"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "dxw")
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "usage: dxw" in capsys.readouterr().out


def test_every_subcommand_is_covered():
    parser = build_parser()
    top = next(a for a in parser._actions if a.dest == "command")
    assert {c[0] for c in COMMANDS if c} == set(top.choices)


def test_period_prints_both_conventions(capsys):
    assert main(["period", "2025-06-15"]) == 0
    out = capsys.readouterr().out
    assert "decree09  halfyear  2025S2  2025-06-15 .. 2025-12-14" in out
    assert "calendar  halfyear  2025S1  2025-01-01 .. 2025-06-30" in out


def test_bad_input_is_one_readable_line(capsys):
    assert main(["period", "14/06/2025"]) == 1
    assert capsys.readouterr().err.startswith("dxw: error:")


@pytest.mark.integration
def test_db_url_and_status(capsys, empty_warehouse):
    assert main(["db", "url"]) == 0
    assert capsys.readouterr().out.strip().startswith("postgresql://")
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "nothing landed yet" in out
    assert "nothing published yet" in out
