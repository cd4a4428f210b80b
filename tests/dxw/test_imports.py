"""Files into the warehouse: DHIS2 data value sets and unit uploads, landed, gated, summarised."""

import json
import zipfile

import pytest
from openpyxl import load_workbook

from dxw.cli import main
from dxw.errors import InputError
from dxw.intake import imports, upload_folder
from dxw.intake.uploads.template import HEADER_ROW
from dxw.periods import parse
from dxw.serving.reports import terminal
from dxw.simulator import dhis2_data
from dxw.simulator.upload_data import write_filled

pytestmark = pytest.mark.integration

S1 = parse("2025S1")


def ledger(conn, dataset):
    return conn.execute(
        "select status, scope, row_count from raw.load_batch where dataset = %s order by batch_id", (dataset,)
    ).fetchall()


def current_values(conn):
    return dict(
        conn.execute(
            "select distinct on (v.data_element, v.org_unit) v.data_element || '/' || v.org_unit, v.value "
            "from raw.dhis2_data_values v join raw.load_batch b using (batch_id) where b.status = 'loaded' "
            "order by v.data_element, v.org_unit, v.batch_id desc"
        ).fetchall()
    )


# -- DHIS2 ---------------------------------------------------------------------------------------


def test_dhis2_import_summary_counts_imported_updated_ignored_and_conflicts(tmp_path, conn, empty_warehouse):
    document = dhis2_data.as_json(S1)
    document["dataValues"].append({**document["dataValues"][0], "orgUnit": "ZZZZZZZZZZZ"})
    first_file = tmp_path / "h1.json"
    first_file.write_text(json.dumps(document))
    first = imports.import_dhis2_file(first_file)
    # 30 departments x 2 indicators x (numerator, denominator) + the pilot district's 2 values.
    assert (first.status, first.imported, first.updated, first.ignored) == ("WARNING", 106, 0, 1)
    assert first.conflicts[0].object == "ZZZZZZZZZZZ"
    assert "Organisation unit not found" in first.as_dict()["conflicts"][0]["value"]
    assert ledger(conn, "dhis2_data_values") == [("loaded", "", 106)]

    # The same values as CSV with one number corrected: one update, the rest unchanged.
    text = dhis2_data.as_csv(S1)
    header, first_line, rest = text.split("\n", 2)
    cells = first_line.split(",")
    cells[5] = str(int(cells[5]) + 1)
    corrected = tmp_path / "h1.csv"
    corrected.write_text("\n".join([header, ",".join(cells), rest]))
    second = imports.import_dhis2_file(corrected)
    # The corrected number is updated; the 105 values sent with the number and comment already
    # held change nothing and are ignored (current DHIS2: dhis2-core #15900, DHIS2-15254). Only
    # the change lands.
    assert (second.status, second.imported, second.updated, second.ignored) == ("SUCCESS", 0, 1, 105)
    assert current_values(conn)[f"{cells[0]}/{cells[2]}"] == cells[5]
    assert ledger(conn, "dhis2_data_values") == [("loaded", "", 106), ("loaded", "", 1)]

    # Importing the same file again: every value is held as sent, 106 ignored, nothing lands.
    third = imports.import_dhis2_file(corrected)
    assert (third.imported, third.updated, third.ignored, third.batches) == (0, 0, 106, {})
    assert len(ledger(conn, "dhis2_data_values")) == 2


def test_a_file_of_conflicts_only_is_an_error_and_lands_nothing(tmp_path, conn, empty_warehouse):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"dataValues": [{"dataElement": "x", "period": "2025S1", "orgUnit": "y"}]}))
    summary = imports.import_dhis2_file(path)
    assert summary.status == "ERROR"
    assert summary.batches == {}
    assert conn.execute("select to_regclass('raw.dhis2_data_values') is not null").fetchone() == (True,)
    assert conn.execute("select count(*) from raw.dhis2_data_values").fetchone() == (0,)


def test_cli_prints_the_import_summary(tmp_path, capsys, empty_warehouse):
    path = tmp_path / "values.csv"
    path.write_text(dhis2_data.as_csv(S1))
    assert main(["ingest", "dhis2", str(path), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["status"] == "SUCCESS"
    assert answer["importCount"] == {"imported": 106, "updated": 0, "ignored": 0, "deleted": 0}
    assert main(["ingest", "dhis2", str(path), "--period", "2024S2"]) == 1
    assert "outside the import's period 2024S2" in capsys.readouterr().out


# -- Unit uploads --------------------------------------------------------------------------------


def upload_rows(conn):
    return conn.execute(
        "select b.scope, u.unit_code, u.indicator_code, u.numerator, u.denominator, u.value "
        "from raw.unit_upload_observations u join raw.load_batch b using (batch_id) "
        "where b.status = 'loaded' order by u.batch_id, u.indicator_code"
    ).fetchall()


def test_an_accepted_upload_lands_as_the_units_submission(tmp_path, conn, empty_warehouse):
    path = write_filled(tmp_path / "bao-cao.xlsx", "024", "2025S1")
    outcome = imports.import_upload(path, report_dir=tmp_path / "out")
    assert (outcome.status, outcome.unit_code, outcome.period_id) == ("accepted", "024", "2025S1")
    assert (outcome.accepted, outcome.rejected, outcome.load_status, outcome.report) == (6, 0, "loaded", None)
    rows = upload_rows(conn)
    assert len(rows) == 6
    assert {r[0] for r in rows} == {"024"}
    kept = conn.execute(
        "select name, byte_count from raw.source_document where batch_id = %s", (outcome.batch_id,)
    ).fetchone()
    assert kept == ("bao-cao.xlsx", path.stat().st_size)


def test_resubmission_replaces_the_units_previous_submission_and_keeps_history(
    tmp_path, conn, empty_warehouse
):
    first = write_filled(tmp_path / "lan-1.xlsx", "024", "2025S1")
    imports.import_upload(first)
    other = imports.import_upload(write_filled(tmp_path / "khac.xlsx", "026", "2025S1"))
    book = load_workbook(first)
    book.active.cell(HEADER_ROW + 1, 6).value = 1
    second = tmp_path / "lan-2.xlsx"
    book.save(second)
    again = imports.import_upload(second)
    assert again.load_status == "loaded"
    latest = conn.execute(
        "select distinct on (scope) scope, batch_id from raw.load_batch "
        "where dataset = 'unit_upload_observations' and status = 'loaded' order by scope, batch_id desc"
    ).fetchall()
    assert latest == [("024", again.batch_id), ("026", other.batch_id)]
    assert [s for s, _, _ in ledger(conn, "unit_upload_observations")] == ["loaded"] * 3
    # The same file a third time changes nothing.
    assert imports.import_upload(second).load_status == "unchanged"


def test_rows_with_errors_go_back_to_the_unit_in_vietnamese(tmp_path, conn, empty_warehouse):
    path = write_filled(tmp_path / "loi.xlsx", "027", "2025S1", variant="with_errors")
    outcome = imports.import_upload(path, report_dir=tmp_path / "out")
    assert outcome.status == "partial"
    assert outcome.reasons == {"numerator_gt_denominator": 1, "unknown_indicator": 1}
    assert "từ chối 2 dòng" in outcome.summary_vi
    sheet = load_workbook(outcome.report).worksheets[0]
    text = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
    assert "lớn hơn mẫu số" in text
    assert "DIST_SMART_TOURISM" in text
    # Only the good rows landed; neither bad one did.
    landed = {r[2] for r in upload_rows(conn)}
    assert len(landed) == 5
    assert "DIST_SMART_TOURISM" not in landed


def test_messy_numbers_are_read_as_the_unit_meant(tmp_path, conn, empty_warehouse):
    clean = imports.import_upload(write_filled(tmp_path / "sach.xlsx", "026", "2025S1"))
    messy = imports.import_upload(write_filled(tmp_path / "lon-xon.xlsx", "026", "2025S1", variant="messy"))
    assert (clean.accepted, messy.accepted, messy.rejected) == (6, 6, 0)
    # The same figures, written "12.345" / "85,5 %" / "không có" under an extra title row.
    figures = conn.execute(
        "select batch_id, indicator_code, numerator, denominator from raw.unit_upload_observations "
        "order by indicator_code"
    ).fetchall()
    by_batch = {b: sorted(r[1:] for r in figures if r[0] == b) for b in (clean.batch_id, messy.batch_id)}
    assert by_batch[clean.batch_id] == by_batch[messy.batch_id]


def test_a_hostile_file_is_refused_whole_and_nothing_lands(tmp_path, conn, empty_warehouse):
    bomb = tmp_path / "bom.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * 200_000_000)
    outcome = imports.import_upload(bomb, unit_code="024", period_id="2025S1", report_dir=tmp_path / "out")
    assert (outcome.status, outcome.accepted) == ("rejected", 0)
    assert outcome.report.read_text(encoding="utf-8-sig").startswith("Tệp,Lý do từ chối")
    assert ledger(conn, "unit_upload_observations") == [("failed", "024", 0)]
    assert conn.execute("select to_regclass('raw.unit_upload_observations')").fetchone() == (None,)


def test_the_landing_folder_loads_archives_and_reports(tmp_path, monkeypatch, conn, empty_warehouse):
    from dxw.settings import get_settings

    monkeypatch.setenv("DXW_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    try:
        inbox = upload_folder.folders()["inbox"]
        (inbox / "027").mkdir()
        write_filled(inbox / "027" / "bao-cao.xlsx", "027", "2025S1", variant="with_errors")
        (inbox / "027" / "dang-tai.xlsx.part").write_bytes(b"still uploading")
        (inbox / "lien-ket.xlsx").symlink_to("/etc/passwd")
        assert upload_folder.pending() == ["027/bao-cao.xlsx"]
        result = upload_folder.process("027/bao-cao.xlsx")
        assert result["status"] == "partial"
        assert not (inbox / "027" / "bao-cao.xlsx").exists()
        assert (tmp_path / "uploads" / "outbox" / "027" / "bao-cao.tu-choi.xlsx").exists()
        assert result["archived"].startswith(str(tmp_path / "uploads" / "archive" / "2025S1" / "027"))
        with pytest.raises(InputError, match="not a file of the upload inbox"):
            upload_folder.process("../../etc/passwd")
    finally:
        get_settings.cache_clear()


def test_cli_loads_an_upload_and_writes_a_template(tmp_path, capsys, empty_warehouse):
    template = tmp_path / "mau.xlsx"
    assert main(["upload", "template", "--unit", "024", "--period", "2025S1", "--out", str(template)]) == 0
    assert load_workbook(template).active["A2"].value.startswith("Đơn vị: 024")
    path = write_filled(tmp_path / "bao-cao.xlsx", "024", "2025S1")
    assert main(["ingest", "upload", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bao-cao.xlsx: accepted (unit 024, 2025S1)" in out
    assert "Đã nhận 6 dòng" in out


def write_csv(path, lines):
    path.write_text("Mã đơn vị,Mã chỉ tiêu,Tử số,Mẫu số\n" + "".join(f"{line}\n" for line in lines), "utf-8")
    return path


def test_a_file_of_no_data_answers_lands_as_a_submission_without_figures(tmp_path, conn, empty_warehouse):
    path = write_csv(
        tmp_path / "khong-so-lieu.csv",
        [
            "024,DIST_HOUSEHOLD_BROADBAND,không có số liệu,không có số liệu",
            "024,DIST_EPAYMENT_ACCOUNTS,N/A,N/A",
        ],
    )
    outcome = imports.import_upload(path, unit_code="024", period_id="2025S1", report_dir=tmp_path / "out")
    assert (outcome.status, outcome.accepted, outcome.rejected, outcome.no_data) == ("accepted", 0, 0, 2)
    assert outcome.load_status == "loaded"
    # The ledger shows the unit's submission; its two rows land flagged "no data", without figures
    # (issue 14: a visible state downstream, never 0/0).
    assert ledger(conn, "unit_upload_observations") == [("loaded", "024", 2)]
    assert upload_rows(conn) == [
        ("024", "024", "DIST_EPAYMENT_ACCOUNTS", None, None, None),
        ("024", "024", "DIST_HOUSEHOLD_BROADBAND", None, None, None),
    ]
    assert conn.execute("select bool_and(no_data) from raw.unit_upload_observations").fetchone() == (True,)
    details = conn.execute(
        "select details from raw.load_batch where batch_id = %s", (outcome.batch_id,)
    ).fetchone()
    assert [(n["unitCode"], n["indicatorCode"]) for n in details[0]["no_data"]] == [
        ("024", "DIST_HOUSEHOLD_BROADBAND"),
        ("024", "DIST_EPAYMENT_ACCOUNTS"),
    ]
    # The data team's table of uploads shows it: 0 accepted, 0 rejected, 2 no data, 0 warnings.
    assert terminal.uploads_table("2025S1").splitlines()[-1].split() == [
        "024",
        "loaded",
        "0",
        "0",
        "2",
        "0",
        "khong-so-lieu.csv",
    ]
    # The unit gets a receipt, not a rejection report.
    assert outcome.report.name == "khong-so-lieu.bien-nhan.xlsx"
    assert "Không có số liệu" in load_workbook(outcome.report).sheetnames


def test_a_no_data_answer_in_a_resubmission_removes_the_earlier_figure(tmp_path, conn, empty_warehouse):
    imports.import_upload(
        write_csv(tmp_path / "lan-1.csv", ["024,DIST_HOUSEHOLD_BROADBAND,5000,10000"]), "024", "2025S1"
    )
    again = imports.import_upload(
        write_csv(tmp_path / "lan-2.csv", ["024,DIST_HOUSEHOLD_BROADBAND,không có số liệu,không có số liệu"]),
        "024",
        "2025S1",
    )
    assert (again.load_status, again.no_data) == ("loaded", 1)
    # Staging reads each unit's latest loaded submission: the "no data" answer, no figure.
    latest = conn.execute(
        "select batch_id from raw.load_batch where dataset = 'unit_upload_observations' and scope = '024' "
        "and status = 'loaded' order by batch_id desc limit 1"
    ).fetchone()
    assert latest == (again.batch_id,)
    rows = (
        "select indicator_code, numerator, denominator, no_data from raw.unit_upload_observations "
        "where batch_id = %s"
    )
    assert conn.execute(rows, latest).fetchall() == [("DIST_HOUSEHOLD_BROADBAND", None, None, True)]


def test_denominators_far_from_the_previous_half_year_are_warned_and_recorded(
    tmp_path, conn, empty_warehouse
):
    before = write_csv(
        tmp_path / "2024S2.csv",
        ["024,DIST_HOUSEHOLD_BROADBAND,5000,10000", "024,DIST_EPAYMENT_ACCOUNTS,30000,60000"],
    )
    assert imports.import_upload(before, "024", "2024S2").warnings == 0  # no earlier half-year: no warning
    # Households 13000 vs 10000: +3000/10000 = +30 % > 20 %, warned. Adult population 66000 vs
    # 60000: +6000/60000 = +10 %, inside the band.
    now = write_csv(
        tmp_path / "2025S1.csv",
        ["024,DIST_HOUSEHOLD_BROADBAND,6000,13000", "024,DIST_EPAYMENT_ACCOUNTS,33000,66000"],
    )
    outcome = imports.import_upload(now, "024", "2025S1", report_dir=tmp_path / "out")
    assert (outcome.status, outcome.accepted, outcome.warnings, outcome.load_status) == (
        "accepted",
        2,
        1,
        "loaded",
    )
    assert {r[2]: r[4] for r in upload_rows(conn) if r[0] == "024"}["DIST_HOUSEHOLD_BROADBAND"] == 13000
    (warning,) = conn.execute(
        "select details -> 'warnings' from raw.load_batch where batch_id = %s", (outcome.batch_id,)
    ).fetchone()[0]
    assert (
        warning["indicatorCode"],
        warning["denominator"],
        warning["previous"],
        warning["previousPeriod"],
    ) == (
        "DIST_HOUSEHOLD_BROADBAND",
        13000,
        10000,
        "2024S2",
    )
    assert "tăng 30%" in warning["reason"]
    sheet = load_workbook(outcome.report)["Cảnh báo"]
    assert [c.value for c in sheet[2]][3] == "DIST_HOUSEHOLD_BROADBAND"
    assert "1 cảnh báo" in outcome.summary_vi


def test_commune_count_off_the_registry_is_rejected_at_upload(tmp_path, conn, empty_warehouse):
    # TP Hà Giang has 8 commune-level units in units.csv (see tests/dxw/uploads/test_validate.py).
    path = write_csv(
        tmp_path / "xa.csv", ["024,DIST_COMMUNE_BROADBAND,7,7", "024,DIST_HOUSEHOLD_BROADBAND,1,2"]
    )
    outcome = imports.import_upload(path, "024", "2025S1", report_dir=tmp_path / "out")
    assert (outcome.status, outcome.reasons) == ("partial", {"denominator_not_registry": 1})
    assert [r[2] for r in upload_rows(conn)] == ["DIST_HOUSEHOLD_BROADBAND"]
