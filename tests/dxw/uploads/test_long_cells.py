"""Nothing is cut without a word (issue 14, point 7): a cell longer than Excel's limit refuses its row.

The limit is Excel's own: "Total number of characters that a cell can contain: 32,767"
(Microsoft, Excel specifications and limits). openpyxl cuts longer text silently when it writes a
cell, so the long cells here are put into the workbook's XML after openpyxl saved it, as a file
from LibreOffice or another program would hold them.
"""

import random
import zipfile
from pathlib import Path

import openpyxl
import pytest

from dxw.intake.uploads.catalogue import load_catalogue
from dxw.intake.uploads.rejections import write_rejections
from dxw.intake.uploads.validate import validate
from dxw.intake.uploads.workbook import read_upload

HEADER = ["Mã đơn vị", "Mã chỉ tiêu", "Kỳ báo cáo", "Tử số", "Mẫu số", "Ghi chú"]
LIMIT = 32767  # Excel's limit, written by hand


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def vietnamese_text(length: int) -> str:
    """``length`` characters of Vietnamese words in random order (they do not compress 100:1)."""
    words = [
        "báo",
        "cáo",
        "số",
        "liệu",
        "hồ",
        "sơ",
        "công",
        "việc",
        "xử",
        "lý",
        "trực",
        "tuyến",
        "đơn",
        "vị",
        "huyện",
        "xã",
        "chuyển",
        "đổi",
        "số",
    ]
    rng = random.Random(14)
    return " ".join(rng.choice(words) for _ in range(length // 3))[:length]


def xlsx_with_notes(path: Path, notes: dict[str, str]) -> Path:
    """A form whose note cells hold ``notes`` (placeholder -> text), put in after openpyxl saved it."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    sheet.append(["Kỳ báo cáo: 2025S1"])
    sheet.append(HEADER)
    for number, placeholder in enumerate(notes, start=1):
        sheet.append(
            [
                "024",
                ["DIST_DIGITAL_BUSINESSES", "DIST_ECOMMERCE_PRODUCTS"][number - 1],
                "2025S1",
                5,
                10,
                placeholder,
            ]
        )
    saved = path.with_suffix(".tmp.xlsx")
    book.save(saved)
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/") or item.filename == "xl/sharedStrings.xml":
                text = data.decode("utf-8")
                for placeholder, note in notes.items():
                    text = text.replace(placeholder, note)
                data = text.encode("utf-8")
            target.writestr(item, data)
    with zipfile.ZipFile(path) as written:
        parts = "".join(
            written.read(name).decode("utf-8") for name in written.namelist() if name.endswith(".xml")
        )
    assert all(note in parts for note in notes.values())
    return path


def test_a_one_mebibyte_note_rejects_its_row_naming_the_limit(tmp_path, catalogue):
    huge, fitting = vietnamese_text(1 << 20), vietnamese_text(LIMIT)
    path = xlsx_with_notes(tmp_path / "ghi-chu.xlsx", {"NOTE_ONE": huge, "NOTE_TWO": fitting})
    result = validate(read_upload(path), catalogue, "2025S1", "024")
    # Row 3 holds the note of 1 << 20 = 1 048 576 characters (column F), row 4 one of the limit.
    assert [(r.row_no, r.reason_code) for r in result.rejected] == [(3, "cell_too_long")]
    assert result.rejected[0].reason_vi.startswith(
        "Ô F3 dài 1.048.576 ký tự, vượt giới hạn 32.767 ký tự của một ô; hãy rút gọn nội dung"
    )
    # A note of exactly the limit is accepted whole, not one character less.
    assert [(o.row_no, o.comment) for o in result.accepted] == [(4, fitting)]
    assert len(fitting) == LIMIT

    # The report gives the row back shortened, saying so; openpyxl would otherwise cut it silently.
    report = openpyxl.load_workbook(write_rejections(tmp_path / "tu-choi.xlsx", result))
    cells = [cell.value for cell in report["Dòng bị từ chối"][2]]
    assert cells[:4] == ["Báo cáo", 3, result.rejected[0].reason_vi, "cell_too_long"]
    assert cells[-1] == (
        huge[:1000]
        + " … [ô gốc dài 1.048.576 ký tự, vượt giới hạn 32.767 ký tự của một ô; chỉ ghi lại 1.000 ký tự đầu]"
    )


def test_a_long_note_in_a_csv_is_read_and_its_row_rejected_not_a_parse_error(tmp_path, catalogue):
    # Python's csv module refuses fields over 131 072 characters by default ("field larger than
    # field limit"): the file was refused with an English parser message before.
    path = tmp_path / "ghi-chu.csv"
    note = vietnamese_text(200_000)
    path.write_text(
        "Mã đơn vị,Mã chỉ tiêu,Kỳ báo cáo,Tử số,Mẫu số,Ghi chú\n"
        f"024,DIST_DIGITAL_BUSINESSES,2025S1,5,10,{note}\n"
        "024,DIST_ECOMMERCE_PRODUCTS,2025S1,3,4,ngắn\n",
        encoding="utf-8",
    )
    result = validate(read_upload(path), catalogue, "2025S1", "024")
    assert [(r.row_no, r.reason_code) for r in result.rejected] == [(2, "cell_too_long")]
    assert "Ô F2 dài 200.000 ký tự, vượt giới hạn 32.767 ký tự" in result.rejected[0].reason_vi
    assert [(o.indicator_code, o.comment) for o in result.accepted] == [("DIST_ECOMMERCE_PRODUCTS", "ngắn")]
