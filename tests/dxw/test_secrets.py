"""No password in output, logs, the ledger or error messages; configuration errors in one line (issue 15)."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from dxw.cli import main
from dxw.intake.ingest import ingest
from dxw.secrets import mask_url, scrub
from dxw.settings import get_settings
from dxw.sources import dms, portal
from dxw.sources.contract import SourceError
from dxw.warehouse import database

PASSWORD = "s3cret-Pw"
TOKEN = "tok-9f8e7d"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://dxw:s3cret-Pw@db:5432/dxw", "postgresql://dxw:***@db:5432/dxw"),
        # Unencoded "@" or "/" in the password: masking must not depend on parsing the URL.
        ("postgresql://u:s3cret@Pw@host:notaport/db", "postgresql://u:***@host:notaport/db"),
        ("postgresql://u:s3cret/Pw@host/db", "postgresql://u:***@host/db"),
        ("http://user:s3cret-Pw@host/", "http://user:***@host/"),
        ("https://h/api?token=tok-9f8e7d&x=1&api_key=k", "https://h/api?token=***&x=1&api_key=***"),
        ("https://h/api?password=a%20b#top", "https://h/api?password=***#top"),
        ("postgresql://postgres@127.0.0.1:5432/dxw", "postgresql://postgres@127.0.0.1:5432/dxw"),
        # Unencoded "#" or "?" in the password start a fragment or a query early (found by an
        # outside attack: the whole password was shown).
        ("postgresql://u:s3c#ret-Pw@host:5432/db", "postgresql://u:***@host:5432/db"),
        ("postgresql://u:s3c?ret-Pw@host:5432/db", "postgresql://u:***@host:5432/db"),
        # A libpq key/value connection string.
        ("host=h password=s3cret-Pw dbname=db", "host=h password=*** dbname=db"),
        ("host=h password='s3cret Pw' dbname=db", "host=h password=*** dbname=db"),
    ],
)
def test_mask_url(url, shown):
    assert mask_url(url) == shown


def test_scrub_replaces_the_secrets_of_a_url_wherever_a_library_quoted_them():
    url = "http://user:s3cret-Pw@h:1/x?token=tok-9f8e7d"
    message = "Max retries exceeded with url: /x?token=tok-9f8e7d (user s3cret-Pw, tok-9f8e7d)"
    assert PASSWORD not in scrub(message, url)
    assert TOKEN not in scrub(message, url)


@pytest.fixture
def environment(monkeypatch):
    """Set DXW_* variables for one test; the settings are read again after."""
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def _cli(environment, capsys, variables: dict[str, str], *argv: str) -> tuple[int, str]:
    for name, value in variables.items():
        environment.setenv(name, value)
    get_settings.cache_clear()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://u:s3cret-Pw@127.0.0.1:5432", "names no database"),
        ("postgresql://u:s3cret-Pw@127.0.0.1:5432/", "names no database"),
        ("postgresql://u:s3cret@Pw@host:notaport/db", "more than one '@'"),
        ("postgresql://u:s3cret@Pw@host:5432/db", "more than one '@'"),
        ("postgresql://u:s3cret-Pw@host:99999/db", "the port is not a number"),
        ("postgresql://u:s3cret-Pw@host:notaport/db", "the port is not a number"),
        ("postgresql://u:s3cret Pw@host/db", "contains a space"),
        ("mysql://u:s3cret-Pw@host/db", "not a PostgreSQL URL"),
        ("postgresql://u:s3cret#Pw@host:5432/db", "holds a '#'"),
        ("postgresql://u:s3cret?Pw@host:5432/db", "the port is not a number"),
        ("postgresql://u:s3cret-Pw@host:5432/db#frag", "holds a '#'"),
        ("postgresql://u:s3cret-Pw@[::1/db", "is not a URL dxw can read"),
        ("host=h password=s3cret-Pw dbname=db", "contains a space"),
    ],
)
def test_a_bad_database_url_is_one_line_naming_the_problem_without_the_password(
    environment, capsys, url, problem
):
    code, output = _cli(environment, capsys, {"DXW_DATABASE_URL": url}, "db", "url")
    assert code == 2
    assert output.startswith("dxw: DXW_DATABASE_URL (")
    assert problem in output
    assert output.count("\n") == 1
    for piece in ("s3cret", "Pw@", "cret Pw", "cret#Pw", "cret?Pw"):
        assert piece not in output


def test_an_uncreatable_home_is_one_line_naming_the_variable_and_the_path(environment, capsys):
    # A path under a regular file cannot be created, even by root.
    code, output = _cli(environment, capsys, {"DXW_HOME": "/etc/passwd/dxw"}, "status")
    assert (code, output) == (
        2,
        "dxw: DXW_HOME=/etc/passwd/dxw cannot be created (Not a directory): "
        "point DXW_HOME at a folder dxw may write\n",
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a folder whatever its mode")
def test_a_read_only_home_is_one_line(environment, capsys, tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o555)
    code, output = _cli(environment, capsys, {"DXW_HOME": str(home)}, "status")
    assert code == 2
    assert (
        output
        == f"dxw: DXW_HOME={home} is not writable by this user: point DXW_HOME at a folder dxw may write\n"
    )


@pytest.mark.integration
def test_the_warehouse_url_is_printed_masked(environment, capsys, urls):
    # The owner's login is trusted by the embedded server, so a URL carrying a password works.
    url = urls.warehouse.replace("://postgres@", f"://postgres:{PASSWORD}@", 1)
    assert PASSWORD in url
    code, output = _cli(environment, capsys, {"DXW_DATABASE_URL": url}, "db", "url")
    assert (code, output) == (0, mask_url(url) + "\n")
    assert PASSWORD not in output
    code, output = _cli(environment, capsys, {"DXW_DATABASE_URL": url}, "db", "url", "--show-password")
    assert (code, output) == (0, url + "\n"), "asked for explicitly, the URL is given whole"


@pytest.mark.integration
def test_dxw_run_shows_the_warehouse_masked_and_its_errors_without_the_password(tmp_path, urls):
    # The real `dxw run`, in a process of its own (it exports Airflow's environment); an unknown
    # DAG fails fast after the warehouse line is printed.
    url = urls.warehouse.replace("://postgres@", f"://postgres:{PASSWORD}@", 1)
    env = {**os.environ, "DXW_DATABASE_URL": url}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dxw"), "run", "no_such_dag"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert f"warehouse: {mask_url(url)}" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert "no DAG 'no_such_dag'" in result.stderr
    log_file = Path(result.stdout.split("logs: ", 1)[1].split()[0])
    assert PASSWORD not in log_file.read_text(errors="replace")


@pytest.mark.integration
def test_source_urls_are_stored_masked_in_the_ledger_and_errors(conn, empty_warehouse, simulator):
    # The simulator ignores credentials: the user-info of the URL is all the test changes.
    simulator.clear_faults()
    with_password = simulator.url.replace("http://", f"http://reader:{PASSWORD}@", 1)
    result = ingest(dms.DATASET, "2025S1", with_password)
    assert result.status == "loaded"
    details, names = conn.execute(
        "select b.details::text, string_agg(d.name, ' ') from raw.load_batch b "
        "join raw.source_document d using (batch_id) where b.batch_id = %s group by b.details::text",
        (result.batch_id,),
    ).fetchone()
    assert mask_url(with_password) in details
    assert PASSWORD not in details + names

    # A source that cannot be reached: requests quotes the query (a token) in its error.
    unreachable = f"http://reader:{PASSWORD}@127.0.0.1:1/?token={TOKEN}"
    quick = replace(get_settings(), http_retries=0)
    with pytest.raises(SourceError, match="request for page 1 failed") as failed:
        ingest(portal.ENDPOINTS[0].dataset, "2025S1", unreachable, quick)
    error, details = conn.execute(
        "select error, details::text from raw.load_batch where status = 'failed' "
        "order by batch_id desc limit 1"
    ).fetchone()
    assert "token=***" in details
    for text in (str(failed.value), error, details):
        assert PASSWORD not in text
        assert TOKEN not in text


def test_database_check_url_accepts_a_good_url():
    assert database.check_url("postgresql://u:p%40ss@host:5432/dxw") == "postgresql://u:p%40ss@host:5432/dxw"
