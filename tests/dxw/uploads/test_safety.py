import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import pytest

from dxw.intake.uploads.safety import UnsafeUpload, check_file, safe_filename


def workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.active["A1"] = "Mã chỉ tiêu"
    book.save(path)
    return path


def refused(path: Path, **limits) -> UnsafeUpload:
    with pytest.raises(UnsafeUpload) as caught:
        check_file(path, **limits)
    assert caught.value.reason_vi
    return caught.value


def rezip(source: Path, target: Path, extra: dict[str, bytes] | None = None, replace=None) -> Path:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if replace:
                data = replace(item.filename, data)
            dst.writestr(item.filename, data)
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
    return target


def test_genuine_xlsx_and_csv_pass(tmp_path):
    assert check_file(workbook(tmp_path / "bao_cao.xlsx")) == "xlsx"
    csv_path = tmp_path / "bao_cao.csv"
    csv_path.write_text("Mã chỉ tiêu,Tử số\nX,1\n", encoding="utf-8-sig")
    assert check_file(csv_path) == "csv"
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text("Mã chỉ tiêu\tTử số\n", encoding="utf-16")
    assert check_file(utf16) == "csv"


def test_too_big_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)  # sparse: cheap to create
    error = refused(big)
    assert error.code == "too_large"
    assert "vượt giới hạn 10,0 MB" in error.reason_vi
    small = tmp_path / "small.csv"
    small.write_text("a,b\n" * 100)
    assert refused(small, max_bytes=100).code == "too_large"


def test_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.xlsx"
    empty.touch()
    assert refused(empty).code == "empty"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("bao_cao.xlsm", "macro_enabled"),
        ("bao_cao.XLSM", "macro_enabled"),
        ("bao_cao.xls", "unsupported_type"),
        ("bao_cao.xlsb", "unsupported_type"),
        ("bao_cao.ods", "unsupported_type"),
        ("bao_cao.exe", "unsupported_type"),
        ("bao_cao", "unsupported_type"),
    ],
)
def test_only_xlsx_and_csv_extensions(tmp_path, name, code):
    path = tmp_path / name
    path.write_bytes(b"x")
    assert refused(path).code == code


def test_xlsm_renamed_to_xlsx_with_vba_project_is_refused(tmp_path):
    source = workbook(tmp_path / "source.xlsx")
    renamed = rezip(source, tmp_path / "renamed.xlsx", extra={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"})
    error = refused(renamed)
    assert error.code == "macro_enabled"
    assert "macro" in error.reason_vi


def test_macro_enabled_content_type_is_refused_even_without_vba_entry(tmp_path):
    source = workbook(tmp_path / "source.xlsx")

    def macro_type(name, data):
        if name == "[Content_Types].xml":
            return data.replace(
                b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
            )
        return data

    assert refused(rezip(source, tmp_path / "typed.xlsx", replace=macro_type)).code == "macro_enabled"


def test_zip_bomb_is_refused_by_ratio_without_inflating(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as entry:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(20):
                entry.write(chunk)
    assert bomb.stat().st_size < 1024 * 1024
    error = refused(bomb)
    assert error.code == "zip_bomb"
    assert "tỷ lệ nén" in error.reason_vi


def test_zip_bomb_is_refused_by_total_uncompressed_size(tmp_path):
    source = workbook(tmp_path / "source.xlsx")
    assert refused(source, max_uncompressed=1000).code == "zip_bomb"


def test_too_many_entries_is_refused(tmp_path):
    source = workbook(tmp_path / "source.xlsx")
    crowded = rezip(source, tmp_path / "crowded.xlsx", extra={f"xl/media/{i}.xml": b"x" for i in range(30)})
    assert refused(crowded, max_entries=20).code == "zip_bomb"


@pytest.mark.parametrize(
    "entry", ["../../etc/cron.d/x", "/etc/passwd", "xl/../../x", "C:/Windows/x", "..\\x"]
)
def test_zip_entries_escaping_the_archive_are_refused(tmp_path, entry):
    source = workbook(tmp_path / "source.xlsx")
    evil = rezip(source, tmp_path / "evil.xlsx", extra={entry: b"x"})
    assert refused(evil).code == "unsafe_zip_path"


def test_text_renamed_to_xlsx_is_refused(tmp_path):
    fake = tmp_path / "fake.xlsx"
    fake.write_text("Mã chỉ tiêu,Tử số\n", encoding="utf-8")
    assert refused(fake).code == "not_xlsx"


def test_ole2_file_renamed_to_xlsx_is_refused(tmp_path):
    legacy = tmp_path / "legacy.xlsx"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    error = refused(legacy)
    assert error.code == "not_xlsx"
    assert "mật khẩu" in error.reason_vi


def test_zip_without_workbook_is_refused(tmp_path):
    archive_path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert refused(archive_path).code == "not_xlsx"


def test_xlsx_renamed_to_csv_is_refused(tmp_path):
    source = workbook(tmp_path / "source.xlsx")
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(source.read_bytes())
    error = refused(renamed)
    assert error.code == "not_csv"
    assert "tệp nén" in error.reason_vi


@pytest.mark.parametrize(
    "content",
    [
        b"\x7fELF\x02\x01\x01" + bytes(range(256)),
        b"%PDF-1.7\n...",
        b"abc\x00def\x00" * 10,
        bytes(range(32)) * 4,
    ],
)
def test_binary_renamed_to_csv_is_refused(tmp_path, content):
    binary = tmp_path / "data.csv"
    binary.write_bytes(content)
    assert refused(binary).code == "not_csv"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Báo cáo 6 tháng.xlsx", "Báo cáo 6 tháng.xlsx"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\Báo cáo.XLSX", "Báo cáo.xlsx"),
        (".bashrc", "bashrc"),
        ("..", "tep_tai_len"),
        ("", "tep_tai_len"),
        (".xlsx", "xlsx"),
        ("a\x00b\x1fc\u202e.csv", "abc.csv"),
        ('bao<cao>:"x"|?*.csv', "bao_cao___x____.csv"),
        ("CON.csv", "_CON.csv"),
        ("Báo cáo. Huyện Đồng Văn", "Báo cáo. Huyện Đồng Văn"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_is_nfc_and_keeps_the_extension_when_truncated():
    decomposed = unicodedata.normalize("NFD", "Huyện Đồng Văn.xlsx")
    assert safe_filename(decomposed) == unicodedata.normalize("NFC", "Huyện Đồng Văn.xlsx")
    long = safe_filename("á" * 500 + ".xlsx", max_length=50)
    assert len(long) == 50
    assert long.endswith(".xlsx")
    assert not safe_filename("." * 10 + "/" + "." * 3).startswith(".")


def test_zip_appended_to_another_file_is_refused(tmp_path):
    source = workbook(tmp_path / "source.xlsx")
    polyglot = tmp_path / "polyglot.xlsx"
    polyglot.write_bytes(b"MZ\x90\x00" + b"\0" * 256 + source.read_bytes())
    assert zipfile.is_zipfile(polyglot)
    assert refused(polyglot).code == "not_xlsx"


def test_csv_with_excel_line_breaks_in_cells_is_text(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes("Mã chỉ tiêu,Ghi chú\nX,dòng 1\x0bdòng 2\n\x1a".encode())
    assert check_file(path) == "csv"
