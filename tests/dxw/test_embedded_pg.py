"""The embedded PostgreSQL: initialised once, reused between runs, stopped cleanly."""

from dataclasses import replace

import psycopg
import pytest

from dxw import embedded_pg
from dxw.settings import get_settings

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
    finally:
        embedded_pg.stop(settings)
