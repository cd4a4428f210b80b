"""The embedded PostgreSQL: initialised once, reused between runs, stopped cleanly."""

from dataclasses import replace

import psycopg
import pytest

from dxw.settings import get_settings
from dxw.warehouse import embedded_pg

pytestmark = pytest.mark.integration


def test_start_reuse_stop_restart(tmp_path):
    settings = replace(get_settings(), home=tmp_path / "home", database_url=None)
    first = embedded_pg.start(settings)
    try:
        assert embedded_pg.start(settings) == first, "a second start must reuse the running server"
        with psycopg.connect(first.url("postgres")) as conn:
            conn.execute("create table kept (x int)")
            conn.execute("insert into kept values (42)")
            conn.commit()
        assert embedded_pg.stop(settings) is True
        assert embedded_pg.running(settings) is None
        assert embedded_pg.stop(settings) is False
        again = embedded_pg.start(settings)
        assert again.port == first.port, "the port is remembered between runs"
        with psycopg.connect(again.url("postgres")) as conn:
            assert conn.execute("select x from kept").fetchone() == (42,)
            # Connections kept for dxw's own roles (pg_use_reserved_connections), beside the
            # superuser's: BI logins at their limits cannot take the loader's last slots.
            assert conn.execute("show reserved_connections").fetchone() == ("10",)
    finally:
        embedded_pg.stop(settings)


def _login(server: embedded_pg.EmbeddedServer, user: str, password: str | None = None) -> str:
    """The user the server says we are, or the error it refused the login with."""
    secret = f":{password}" if password is not None else ""
    try:
        with psycopg.connect(f"postgresql://{user}{secret}@127.0.0.1:{server.port}/postgres") as conn:
            return conn.execute("select current_user").fetchone()[0]
    except psycopg.OperationalError as exc:
        return f"refused: {exc}"


def test_every_login_but_the_owner_needs_its_password_also_on_a_server_of_an_earlier_release(tmp_path):
    # An earlier release initialised with --auth=trust for everyone: simulated by writing that
    # pg_hba.conf back and reloading. The next start must rewrite it and reload the running server.
    settings = replace(get_settings(), home=tmp_path / "home", database_url=None)
    server = embedded_pg.start(settings)
    try:
        hba = server.data_dir / "pg_hba.conf"
        assert hba.read_text() == embedded_pg.PG_HBA
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("create role bi_reader login password 'the-right-one'")
            conn.execute("create role no_password login")
            hba.write_text("host all all 127.0.0.1/32 trust\n")
            conn.execute("select pg_reload_conf()")
        assert _login(server, "bi_reader", "anything") == "bi_reader", "the old file trusts everyone"

        assert embedded_pg.start(settings) == server
        assert hba.read_text() == embedded_pg.PG_HBA
        wrong = _login(server, "bi_reader", "the-wrong-one")
        assert wrong.startswith("refused:")
        assert "password authentication failed" in wrong
        assert "the-wrong-one" not in wrong
        assert _login(server, "bi_reader", "the-right-one") == "bi_reader"
        assert _login(server, "no_password").startswith("refused:")
        assert _login(server, "no_password", "").startswith("refused:")
        assert _login(server, embedded_pg.SUPERUSER) == embedded_pg.SUPERUSER, "dxw's own login needs none"

        # Idempotent: a start on an up-to-date file changes nothing, and a restart keeps it.
        before = hba.stat().st_mtime_ns
        assert embedded_pg.start(settings) == server
        assert hba.stat().st_mtime_ns == before
        embedded_pg.stop(settings)
        restarted = embedded_pg.start(settings)
        assert _login(restarted, "bi_reader", "the-wrong-one").startswith("refused:")
        assert _login(restarted, embedded_pg.SUPERUSER) == embedded_pg.SUPERUSER
    finally:
        embedded_pg.stop(settings)


def test_the_bi_login_of_the_test_warehouse_is_checked(urls):
    # dxw_bi got DXW_BI_PASSWORD from `dxw db grant` (tests/conftest.py sets it).
    from dxw.settings import get_settings as current

    host = urls.warehouse.split("@", 1)[1]
    for password, admitted in ((current().bi_password, True), ("not-" + current().bi_password, False)):
        try:
            with psycopg.connect(f"postgresql://dxw_bi:{password}@{host}") as conn:
                conn.execute("select 1")
            outcome = True
        except psycopg.OperationalError:
            outcome = False
        assert outcome is admitted
