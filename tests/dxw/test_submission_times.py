"""When a unit submitted its report is recorded at intake (Plan 86 VI.6), never taken from the load.

The simulator's schedule (dxw.simulator.submissions) is checked here against its own
documentation, so the demo's mix of on-time, late and missing units is known in advance.
"""

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dxw.cli import main
from dxw.intake import imports, upload_folder
from dxw.periods import parse
from dxw.simulator import dhis2_data, submissions
from dxw.simulator.upload_data import drop_uploads, write_filled
from dxw.units import legacy_units

S1 = parse("2025S1")
HA_GIANG = ZoneInfo("Asia/Ho_Chi_Minh")


def ledger_times(conn, dataset):
    return conn.execute(
        "select scope, submitted_at, details ->> 'submitted_at_basis' from raw.load_batch "
        "where dataset = %s and status = 'loaded' order by batch_id",
        (dataset,),
    ).fetchall()


def test_the_schedule_has_most_units_on_time_some_late_and_one_missing():
    # The documented schedule: deadline = 14 June + 5 days = 19 June 2025 (Hà Giang time).
    # The 26 provincial bodies that exist on the 14 June 2025 cut-off (after the Decree 45/2025
    # mergers of 1 March, data/provincial_bodies.csv) and 11 districts have the duty; 02.SXD,
    # 02.HND and district 031 submit 9 days after the cut-off (23 June: late); district 035 never
    # submits; the other 33 submit 1-4 days after the cut-off (15-18 June: on time).
    deadline = datetime(2025, 6, 19, 23, 59, 59, tzinfo=HA_GIANG)
    duty = [
        u.code
        for u in legacy_units()
        if u.level in ("department", "district") and (u.valid_to or "9999") >= "2025-06-14"
    ]
    assert len(duty) == 37
    times = {code: submissions.submitted_at(code, S1) for code in duty}
    missing = {code for code, at in times.items() if at is None}
    late = {code for code, at in times.items() if at is not None and at > deadline}
    assert missing == {"035"}
    assert late == {"02.SXD", "02.HND", "031"}
    assert all(at.date().isoformat() <= "2025-06-18" for code, at in times.items() if at and code not in late)


def test_departments_enter_their_data_set_when_they_submit():
    by_unit = {}
    for value in dhis2_data.data_values(S1):
        by_unit.setdefault(value["orgUnit"], set()).add(value["lastUpdated"])
    department = next(u for u in dhis2_data.reporting_units(S1) if u.code == "02.SXD")
    # 02.SXD is late: 9 days after the 14 June cut-off, i.e. 23 June, local time without a zone.
    (stamp,) = by_unit[department.dhis2_uid("2004-01-01")]
    assert stamp.startswith("2025-06-23T")


@pytest.mark.integration
def test_an_inbox_file_is_submitted_when_it_arrived(tmp_path, monkeypatch, conn, empty_warehouse):
    from dxw.settings import get_settings

    monkeypatch.setenv("DXW_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    try:
        inbox = upload_folder.folders()["inbox"]
        dropped = {path.parent.name: path for path in drop_uploads(inbox, "2025S1")}
        assert "035" not in dropped
        assert len(dropped) == 10
        upload_folder.process("031/" + dropped["031"].name)
    finally:
        get_settings.cache_clear()
    expected = submissions.submitted_at("031", S1)
    assert ledger_times(conn, "unit_upload_observations") == [("031", expected, "inbox_arrival")]
    assert expected.date().isoformat() == "2025-06-23"


@pytest.mark.integration
def test_an_upload_by_hand_takes_the_given_time_or_now(tmp_path, capsys, conn, empty_warehouse):
    path = write_filled(tmp_path / "bao-cao.xlsx", "024", "2025S1")
    assert main(["ingest", "upload", str(path), "--submitted-at", "2025-06-19T23:30"]) == 0
    before = datetime.now(UTC)
    imports.import_upload(write_filled(tmp_path / "khac.xlsx", "026", "2025S1"))
    (_, given, basis), (_, now, now_basis) = ledger_times(conn, "unit_upload_observations")
    # 23:30 in Hà Giang is 16:30 UTC.
    assert (given, basis) == (datetime(2025, 6, 19, 16, 30, tzinfo=UTC), "given")
    assert now >= before
    assert now_basis == "intake"


@pytest.mark.integration
def test_a_data_value_set_is_submitted_at_its_complete_date(tmp_path, conn, empty_warehouse):
    document = dhis2_data.as_json(S1)
    # One department's set, as its data entry completes it: DHIS2 records completeDate for the
    # set's own org unit and period.
    unit = document["dataValues"][0]["orgUnit"]
    document["dataValues"] = [v for v in document["dataValues"] if v["orgUnit"] == unit]
    document.update(orgUnit=unit, completeDate="2025-06-17T10:00:00.000")
    path = tmp_path / "h1.json"
    path.write_text(json.dumps(document))
    imports.import_dhis2_file(path)
    # No zone: the reporting system's local time, 10:00 in Hà Giang = 03:00 UTC.
    assert ledger_times(conn, "dhis2_data_values") == [
        ("", datetime(2025, 6, 17, 3, 0, tzinfo=UTC), "completeDate")
    ]
