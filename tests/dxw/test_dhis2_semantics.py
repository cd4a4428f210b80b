"""DHIS2's import semantics on hand-written data value sets (tests/fixtures/dhis2/, README there).

Every expected summary below is derived by hand from DHIS2's rules, stated next to it: the
importer (``DefaultDataValueSetService.importDataValue``) updates a value the system holds
(CREATE_AND_UPDATE, UPDATE; deletes it when the value is empty or marked deleted), deletes it
(DELETE) or ignores it (CREATE); it imports a value it does not hold (CREATE_AND_UPDATE, CREATE)
or ignores it (UPDATE, DELETE); a value sent with the number and comment it already holds
changes nothing and is ignored (dhis2-core #15900, DHIS2-15254: unchanged values show as
ignored); a value that cannot be placed is a conflict and counts as ignored; ``dryRun`` answers the same
summary and writes nothing. dxw ignores a deletion of a value it does not hold.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dxw.cli import main
from dxw.intake import imports
from dxw.intake.ingest import ensure_raw_tables
from dxw.settings import get_settings
from dxw.transform import dbt

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures" / "dhis2"
STC, SXD, SYT = "r40Ney4QhMx", "EPig5FqSXVL", "xI3E9bbNxbi"  # seed unit_crosswalk: 02.STC, 02.SXD, 02.SYT
REGIMES_CONNECTED, REGIMES_TOTAL = "TSOkheuACkg", "LN9VTJBErqV"  # seed dhis2_data_elements
SYSTEMS_CONNECTED, SYSTEMS_TOTAL = "t5A3hYWgmgm", "Tw7QhgrG8UG"


NOTE = "12 chế độ đã kết nối"


def counts(summary: imports.ImportSummary) -> tuple[str, int, int, int, int]:
    return summary.status, summary.imported, summary.updated, summary.ignored, summary.deleted


def raw_rows(conn, org_unit: str, period: str = "2025S1") -> list[tuple]:
    """Every landed row of an org unit and period, in landing order."""
    return conn.execute(
        "select v.batch_id, v.data_element, v.value, v.deleted, v.followup, v.created, v.last_updated, "
        "v.comment from raw.dhis2_data_values v join raw.load_batch b using (batch_id) "
        "where b.status = 'loaded' and v.org_unit = %s and v.period = %s order by v.batch_id, v.data_element",
        (org_unit, period),
    ).fetchall()


def current(conn, org_unit: str, period: str = "2025S1") -> dict[str, str]:
    """The warehouse's current values of an org unit (the latest row per data element, deletions out)."""
    latest: dict[str, tuple] = {}
    for row in raw_rows(conn, org_unit, period):
        latest[row[1]] = row
    return {element: row[2] for element, row in latest.items() if row[3] != "true"}


def batches(conn) -> list[tuple]:
    return conn.execute(
        "select status, period_id, row_count from raw.load_batch where dataset = 'dhis2_data_values' "
        "order by batch_id"
    ).fetchall()


def test_a_completed_data_set_lands_with_its_complete_date_flags_and_times(conn, empty_warehouse):
    summary = imports.import_dhis2_file(FIXTURES / "set-2025S1.json")
    # 4 values the warehouse does not hold, CREATE_AND_UPDATE: 4 imported.
    assert counts(summary) == ("SUCCESS", 4, 0, 0, 0)
    assert batches(conn) == [("loaded", "2025S1", 4)]
    # completeDate 09:30 without an offset: the reporting system's local time (UTC+7) = 02:30 UTC.
    (submitted,) = conn.execute("select submitted_at from raw.load_batch").fetchone()
    assert submitted == datetime(2025, 6, 12, 2, 30, tzinfo=UTC)
    # Period and org unit inherited from the set; followup as JSON booleans; created and
    # lastUpdated kept as sent (they differ for the first two values); an empty cell lands as null.
    rows = {row[1]: row[2:] for row in raw_rows(conn, STC)}
    june_10, june_11 = "2025-06-10T08:00:00.000", "2025-06-11T14:20:00.000"
    june_12 = "2025-06-12T09:15:00.000"
    assert rows == {
        REGIMES_CONNECTED: ("12", "false", "false", june_10, june_12, NOTE),
        REGIMES_TOTAL: ("15", "false", "false", june_10, june_12, None),
        SYSTEMS_CONNECTED: ("3", "false", "true", june_11, june_11, None),
        SYSTEMS_TOTAL: ("4", "false", "false", june_11, june_11, None),
    }


def test_corrections_delete_update_and_ignore_as_dhis2_counts_them(conn, empty_warehouse):
    imports.import_dhis2_file(FIXTURES / "set-2025S1.json")
    summary = imports.import_dhis2_file(FIXTURES / "corrections-2025S1.json")
    # Against the 4 values now held for 02.STC:
    #   TSOkheuACkg deleted: true, held        -> deleted
    #   LN9VTJBErqV same number, no comment as held, followup true -> ignored (unchanged)
    #   t5A3hYWgmgm empty value, held          -> deleted
    #   Tw7QhgrG8UG 4 -> 5, held               -> updated
    #   TSOkheuACkg for 02.SXD deleted: true, never held -> ignored (no conflict: nothing is wrong)
    assert counts(summary) == ("SUCCESS", 0, 1, 2, 2)
    assert summary.as_dict()["importCount"] == {"imported": 0, "updated": 1, "ignored": 2, "deleted": 2}
    # What changes something lands: 2 deletions and 1 update.
    assert batches(conn) == [("loaded", "2025S1", 4), ("loaded", "2025S1", 3)]
    assert current(conn, STC) == {REGIMES_TOTAL: "15", SYSTEMS_TOTAL: "5"}
    assert current(conn, SXD) == {}
    # The deletion of a value never held landed nothing for 02.SXD.
    assert raw_rows(conn, SXD) == []

    # Downstream, the deleted values are gone: staging holds 02.STC's two remaining values.
    ensure_raw_tables()
    from tests.conftest import URLS, WITHOUT_UNIT_TESTS

    assert (
        dbt.run(
            ["build", "--select", "+stg_dhis2__data_values", *WITHOUT_UNIT_TESTS],
            URLS.warehouse,
            get_settings(),
        )
        == 0
    )
    staged = conn.execute(
        "select data_element_uid, value from staging.stg_dhis2__data_values "
        "where source_unit_id = %s and period_id = '2025S1' order by 1",
        (STC,),
    ).fetchall()
    assert staged == [(REGIMES_TOTAL, 15), (SYSTEMS_TOTAL, 5)]


@pytest.mark.parametrize(
    ("name", "expected", "warnings"),
    [
        # 3 live values not held -> imported; Tw7QhgrG8UG deleted=true, not held -> ignored.
        ("current-header-2024S2.csv", ("SUCCESS", 3, 0, 1, 0), []),
        # 2 values not held -> imported.
        ("legacy-header-2024S2.csv", ("SUCCESS", 2, 0, 0, 0), []),
        # 2 values not held -> imported; the 9th column is not DHIS2's: ignored with a warning.
        (
            "reordered-unknown-column-2024S2.csv",
            ("WARNING", 2, 0, 0, 0),
            ["CSV column 9 'ghichu' is not one of DHIS2's: ignored"],
        ),
        # No header: DHIS2's positional layout, 2 values not held -> imported.
        ("headerless-2025S1.csv", ("SUCCESS", 2, 0, 0, 0), []),
    ],
)
def test_csv_exports_with_either_header_in_any_order_are_read(
    conn, empty_warehouse, name, expected, warnings
):
    summary = imports.import_dhis2_file(FIXTURES / name)
    assert counts(summary) == expected
    assert summary.warnings == warnings
    assert summary.conflicts == []


def test_csv_cells_land_under_their_columns(conn, empty_warehouse):
    imports.import_dhis2_file(FIXTURES / "current-header-2024S2.csv")
    imports.import_dhis2_file(FIXTURES / "legacy-header-2024S2.csv")
    imports.import_dhis2_file(FIXTURES / "reordered-unknown-column-2024S2.csv")
    # current header: the quoted comment keeps its comma; followup true is kept.
    sxd = {row[1]: row[2:] for row in raw_rows(conn, SXD, "2024S2")}
    assert sxd[REGIMES_TOTAL] == ("9", "false", "true", None, "2024-12-10T08:00:00.000", "rà soát, bổ sung")
    assert set(sxd) == {REGIMES_CONNECTED, REGIMES_TOTAL, SYSTEMS_CONNECTED}
    # legacy header: timestamp is lastUpdated; the empty attroptcombo is the default combo.
    syt = {row[1]: row[2:] for row in raw_rows(conn, SYT, "2024S2")}
    assert syt[REGIMES_CONNECTED] == ("10", "false", "false", None, "2024-12-05", None)
    # columns in another order: value, created and lastUpdated where their headers say.
    stc = {row[1]: row[2:] for row in raw_rows(conn, STC, "2024S2")}
    created, updated = "2024-11-28T07:30:00.000", "2024-12-01T16:45:00.000"
    assert stc[SYSTEMS_TOTAL] == ("13", "false", "true", created, updated, None)
    combos = conn.execute(
        "select distinct category_option_combo, attribute_option_combo from raw.dhis2_data_values"
    ).fetchall()
    assert combos == [("HllvX50cXC0", "HllvX50cXC0")]


def test_complete_date_is_the_submission_of_the_sets_own_org_unit_only(conn, empty_warehouse):
    summary = imports.import_dhis2_file(FIXTURES / "completed-with-other-unit-2024S2.json")
    assert counts(summary) == ("SUCCESS", 4, 0, 0, 0)
    # DHIS2 registers completeDate for the set's data set, period and org unit (02.STC): its
    # values land with it (16:00 Hà Giang time = 09:00 UTC); 02.SXD's values in the same file are
    # not completed by it and land without a submission time (its lastUpdated will tell).
    landed = conn.execute(
        "select v.org_unit, b.submitted_at, b.details ->> 'submitted_at_basis' "
        "from raw.dhis2_data_values v join raw.load_batch b using (batch_id) "
        "group by 1, 2, 3 order by 1"
    ).fetchall()
    assert landed == [
        (SXD, None, None),
        (STC, datetime(2024, 12, 12, 9, 0, tzinfo=UTC), "completeDate"),
    ]


def test_a_csv_with_old_mac_line_ends_is_read(conn, empty_warehouse, tmp_path):
    # The legacy header and two values, every line ended by a lone carriage return (an export
    # saved by an old Mac tool); a quoted comment holds one too.
    path = tmp_path / "cr-only.csv"
    path.write_bytes(
        b"dataelement,period,orgunit,catoptcombo,attroptcombo,value,storedby,timestamp,comment,followup\r"
        b"TSOkheuACkg,2024S2,xI3E9bbNxbi,HllvX50cXC0,,10,syt,2024-12-05,"
        b'"d\xc3\xb2ng 1\rd\xc3\xb2ng 2",false\r'
        b"LN9VTJBErqV,2024S2,xI3E9bbNxbi,HllvX50cXC0,,12,syt,2024-12-05,,false\r"
    )
    assert counts(imports.import_dhis2_file(path)) == ("SUCCESS", 2, 0, 0, 0)
    rows = {row[1]: (row[2], row[7]) for row in raw_rows(conn, SYT, "2024S2")}
    assert rows == {REGIMES_CONNECTED: ("10", "dòng 1\rdòng 2"), REGIMES_TOTAL: ("12", None)}


def test_import_strategies_behave_as_in_dhis2(conn, empty_warehouse):
    path = FIXTURES / "set-2025S1.json"
    # UPDATE with nothing held: every value is new -> 4 ignored, nothing lands.
    assert counts(imports.import_dhis2_file(path, import_strategy="UPDATE")) == ("SUCCESS", 0, 0, 4, 0)
    assert batches(conn) == []
    # CREATE with nothing held -> 4 imported; CREATE again, all held -> 4 ignored, nothing lands.
    assert counts(imports.import_dhis2_file(path, import_strategy="CREATE")) == ("SUCCESS", 4, 0, 0, 0)
    assert counts(imports.import_dhis2_file(path, import_strategy="CREATE")) == ("SUCCESS", 0, 0, 4, 0)
    assert batches(conn) == [("loaded", "2025S1", 4)]
    # UPDATE with all held, the same numbers and comments -> 4 ignored (unchanged), nothing lands.
    assert counts(imports.import_dhis2_file(path, import_strategy="UPDATE")) == ("SUCCESS", 0, 0, 4, 0)
    assert batches(conn) == [("loaded", "2025S1", 4)]
    # DELETE: every value of the payload that is held is deleted, whatever its number -> 4 deleted.
    assert counts(imports.import_dhis2_file(path, import_strategy="DELETE")) == ("SUCCESS", 0, 0, 0, 4)
    assert current(conn, STC) == {}
    # DELETE again: nothing held any more -> 4 ignored.
    assert counts(imports.import_dhis2_file(path, import_strategy="DELETE")) == ("SUCCESS", 0, 0, 4, 0)
    # A deleted value is not held: CREATE imports it again.
    assert counts(imports.import_dhis2_file(path, import_strategy="CREATE")) == ("SUCCESS", 4, 0, 0, 0)
    assert current(conn, STC) == {
        REGIMES_CONNECTED: "12",
        REGIMES_TOTAL: "15",
        SYSTEMS_CONNECTED: "3",
        SYSTEMS_TOTAL: "4",
    }


def test_a_dry_run_answers_the_same_summary_and_lands_nothing(conn, empty_warehouse):
    imports.import_dhis2_file(FIXTURES / "set-2025S1.json")
    before = (batches(conn), current(conn, STC))
    dry = imports.import_dhis2_file(FIXTURES / "corrections-2025S1.json", dry_run=True)
    # The same counts as the real import in the test above, and nothing changed.
    assert counts(dry) == ("SUCCESS", 0, 1, 2, 2)
    assert dry.batches == {}
    assert (batches(conn), current(conn, STC)) == before
    real = imports.import_dhis2_file(FIXTURES / "corrections-2025S1.json")
    assert counts(real) == counts(dry)


def test_cli_takes_the_import_strategy_and_dry_run(conn, empty_warehouse, capsys):
    path = FIXTURES / "set-2025S1.json"
    assert main(["ingest", "dhis2", str(path)]) == 0
    capsys.readouterr()
    assert main(["ingest", "dhis2", str(path), "--import-strategy", "DELETE", "--dry-run", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    # DELETE of 4 held values -> 4 deleted, on a dry run: nothing lands.
    assert answer["importOptions"] == {"importStrategy": "DELETE", "dryRun": True}
    assert answer["importCount"] == {"imported": 0, "updated": 0, "ignored": 0, "deleted": 4}
    assert answer["batches"] == {}
    assert len(current(conn, STC)) == 4
    assert main(["ingest", "dhis2", str(FIXTURES / "reordered-unknown-column-2024S2.csv")]) == 0
    assert "warning: CSV column 9 'ghichu' is not one of DHIS2's: ignored" in capsys.readouterr().out


def test_a_raw_table_of_an_earlier_release_gains_the_new_columns_and_keeps_its_rows(conn, empty_warehouse):
    # The layout before `created` and `deleted` were kept (dhis2.FIELDS of the previous release).
    conn.execute("create schema raw")
    conn.execute(
        "create table raw.dhis2_data_values (batch_id bigint not null default "
        "current_setting('dxw.batch_id')::bigint, period_id text not null default "
        "current_setting('dxw.period_id'), data_element text, period text, org_unit text, "
        "category_option_combo text, attribute_option_combo text, value text, stored_by text, "
        "last_updated text, comment text, followup text)"
    )
    conn.execute(
        "insert into raw.dhis2_data_values values (1, '2025S1', 'TSOkheuACkg', '2025S1', 'r40Ney4QhMx', "
        "'HllvX50cXC0', 'HllvX50cXC0', '12', 'x', '2025-06-12T09:15:00.000', null, 'false')"
    )
    ensure_raw_tables()
    columns = [
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'dhis2_data_values' order by ordinal_position"
        )
    ]
    assert columns[-2:] == ["created", "deleted"]
    assert conn.execute("select value, created, deleted from raw.dhis2_data_values").fetchall() == [
        ("12", None, None)
    ]
