"""A dbt build parses only what changed since the last build (`dxw.transform.dbt_build.run_build`).

dbt parses the whole project again when the connection it parsed with is not the one it runs
with, and says so on its output ("Unable to do partial parsing because profile has changed").
The project's own parse state (`make manifest`) knows no server, so builds seeded with it parsed
the whole project every time; the builds now keep the state dbt wrote for their connection.
"""

import logging
from dataclasses import replace

import pytest

from dxw.settings import get_settings
from dxw.transform import dbt_build

FULL_PARSE = "Unable to do partial parsing"
# The seed without its tests (which read other tables): dbt loads it in about a second.
SEED_ALONE = ["--select", "units", "--indirect-selection", "empty"]


def dbt_output(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == dbt_build.__name__)


@pytest.mark.integration
def test_a_build_after_a_build_parses_only_what_changed(caplog, urls):
    settings = get_settings()
    state = dbt_build.partial_parse_state(settings)
    state.unlink(missing_ok=True)
    caplog.set_level(logging.INFO, logger=dbt_build.__name__)

    first = dbt_build.run_build(SEED_ALONE, settings)
    assert first.results["seed.dxw.units"]["status"] == "success"
    # Seeded with the project's state (parsed by `make manifest` for no server): a whole parse.
    assert FULL_PARSE in dbt_output(caplog)
    assert state.exists()

    caplog.clear()
    second = dbt_build.run_build(SEED_ALONE, settings)
    assert second.results["seed.dxw.units"]["status"] == "success"
    output = dbt_output(caplog)
    assert "Running with dbt=" in output  # dbt's output is what was read
    assert FULL_PARSE not in output


def test_each_project_folder_keeps_a_state_of_its_own(tmp_path):
    # A copy of the project (tests, a second checkout) parses its own files, never the original's.
    settings = get_settings()
    copy = replace(settings, project_dir=tmp_path)
    assert dbt_build.partial_parse_state(copy) != dbt_build.partial_parse_state(settings)
    assert (
        dbt_build.partial_parse_state(copy).parent.parent
        == dbt_build.partial_parse_state(settings).parent.parent
    )


def test_a_state_that_cannot_be_kept_leaves_the_build_as_it_was(tmp_path, caplog):
    # Keeping the state is for the next build only: a home that cannot take it (here its folder
    # is a file) is a warning, not a failed build.
    parsed = tmp_path / "partial_parse.msgpack"
    parsed.write_bytes(b"state")
    (tmp_path / "home").write_text("a file where the folder would be")
    state = tmp_path / "home" / "partial-parse" / "partial_parse.msgpack"
    caplog.set_level(logging.WARNING, logger=dbt_build.__name__)
    dbt_build._keep_parse_state(parsed, state)
    assert "not kept for the next build" in caplog.text
    kept = tmp_path / "kept" / "partial_parse.msgpack"
    dbt_build._keep_parse_state(parsed, kept)
    assert kept.read_bytes() == b"state"
    assert [p.name for p in kept.parent.iterdir()] == ["partial_parse.msgpack"]  # nothing left beside
