"""CSV uploads in the encodings Vietnamese offices export (issue 14, point 8).

The bytes are written here with Python's own codecs, never with dxw's reader: the same
hand-written Vietnamese table is encoded as Excel's "CSV UTF-8", as UTF-16 (Excel's "Unicode
Text" is UTF-16 LE with a BOM), as Vietnamese Windows' "CSV (Comma delimited)" (Windows-1258,
whose tone marks are combining characters: Windows writes a toned letter the code page lacks as
its base letter and a combining tone mark) and as Western Windows' (Windows-1252, where the text
fits that code page). The expected headers and figures are the hand-written ones.
"""

import unicodedata
from decimal import Decimal

import pytest

from dxw.uploads.catalogue import load_catalogue
from dxw.uploads.safety import UploadError
from dxw.uploads.validate import validate
from dxw.uploads.workbook import read_upload

HEADERS = ("Mã đơn vị", "Tên đơn vị", "Mã chỉ tiêu", "Kỳ báo cáo", "Tử số", "Mẫu số", "Ghi chú")
ROWS = (
    (
        "024",
        "Thành phố Hà Giang",
        "DIST_HOUSEHOLD_BROADBAND",
        "2025S1",
        "12.345",
        "15.000",
        "Số liệu ước tính",
    ),
    ("024", "Thành phố Hà Giang", "DIST_DIGITAL_BUSINESSES", "2025S1", "85", "100", "Đã rà soát"),
)
# By hand: 12 345 / 15 000 = 82.3 %; 85 / 100 = 85 %.
EXPECTED = {
    "DIST_HOUSEHOLD_BROADBAND": (Decimal(12345), Decimal(15000), Decimal("82.3000"), "Số liệu ước tính"),
    "DIST_DIGITAL_BUSINESSES": (Decimal(85), Decimal(100), Decimal("85.0000"), "Đã rà soát"),
}
TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def table_text(headers=HEADERS, rows=ROWS, delimiter=",") -> str:
    lines = [delimiter.join(headers), *(delimiter.join(row) for row in rows)]
    return "\r\n".join(lines) + "\r\n"


def cp1258_bytes(text: str) -> bytes:
    """``text`` as Vietnamese Windows writes it: a letter cp1258 lacks becomes base + tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in parts if c in TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONE_MARKS))
        out += base.encode("cp1258") + tones.encode("cp1258")
    return bytes(out)


def check_read(path, catalogue, headers=HEADERS, expected=EXPECTED):
    parsed = read_upload(path)
    assert parsed.tables[0].headers == headers
    result = validate(parsed, catalogue, "2025S1", "024")
    assert result.rejected == []
    assert {o.indicator_code: (o.numerator, o.denominator, o.value, o.comment) for o in result.accepted} == (
        expected
    )
    return parsed


@pytest.mark.parametrize(
    ("label", "encode"),
    [
        ("utf-8", lambda text: text.encode("utf-8")),
        ("utf-8 with BOM", lambda text: b"\xef\xbb\xbf" + text.encode("utf-8")),
        ("utf-8 NFD", lambda text: unicodedata.normalize("NFD", text).encode("utf-8")),
        ("utf-16 LE with BOM", lambda text: b"\xff\xfe" + text.encode("utf-16-le")),
        ("utf-16 BE with BOM", lambda text: b"\xfe\xff" + text.encode("utf-16-be")),
        ("windows-1258", cp1258_bytes),
    ],
)
def test_vietnamese_csv_is_read_in_every_encoding_excel_writes(tmp_path, catalogue, label, encode):
    path = tmp_path / "bao-cao.csv"
    path.write_bytes(encode(table_text()))
    parsed = check_read(path, catalogue)
    assert parsed.rows[0].text("unit_name") == "Thành phố Hà Giang"


def test_windows_1258_bytes_are_the_ones_vietnamese_windows_writes(tmp_path, catalogue):
    # "Mã" in cp1258 is M, a, combining tilde (0xDE); "Tử" is T, ư (0xFD), combining hook (0xD2);
    # "đơn" is 0xF0 0xF5 n (Windows-1258 code chart). Written by hand, without the helper above.
    assert cp1258_bytes("Mã Tử đơn") == b"Ma\xde T\xfd\xd2 \xf0\xf5n"
    header = b"Ma\xde \xf0\xf5n vi\xf2,Ma\xde chi\xd2 ti\xeau,T\xfd\xd2 s\xf4\xec,M\xe2\xdeu s\xf4\xec\r\n"
    path = tmp_path / "cp1258.csv"
    path.write_bytes(header + b"024,DIST_DIGITAL_BUSINESSES,85,100\r\n")
    parsed = read_upload(path)
    assert parsed.tables[0].headers == ("Mã đơn vị", "Mã chỉ tiêu", "Tử số", "Mẫu số")
    result = validate(parsed, catalogue, "2025S1", "024")
    assert [(o.numerator, o.denominator) for o in result.accepted] == [(85, 100)]


def test_windows_1252_csv_where_the_text_fits_is_read(tmp_path, catalogue):
    # A Western-locale Excel: headers without accents, and names whose letters cp1252 has. "Nà Chì"
    # holds 0xEC (ì in cp1252, a combining acute in cp1258 that no Vietnamese letter takes after h).
    headers = ("Ma don vi", "Ten don vi", "Ma chi tieu", "Ky bao cao", "Tu so", "Mau so", "Ghi chu")
    rows = (("024", "TP Hà Giang", "DIST_DIGITAL_BUSINESSES", "2025S1", "85", "100", "Xã Nà Chì"),)
    text = table_text(headers, rows, ";")
    with pytest.raises(UnicodeEncodeError):
        text.encode("ascii")  # the file does use the code page
    path = tmp_path / "cp1252.csv"
    path.write_bytes(text.replace("Xã", "Xa").encode("cp1252"))
    expected = {"DIST_DIGITAL_BUSINESSES": (Decimal(85), Decimal(100), Decimal("85.0000"), "Xa Nà Chì")}
    parsed = check_read(path, catalogue, headers, expected)
    assert parsed.rows[0].text("unit_name") == "TP Hà Giang"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        # UTF-16 without its BOM: the byte order cannot be told.
        (table_text().encode("utf-16-le"), "UTF-16 nhưng không có dấu BOM"),
        # A UTF-8 file with a line pasted from a cp1258 one: two encodings in one file.
        (
            table_text().encode("utf-8") + cp1258_bytes("024,Đồng Văn,X,2025S1,1,2,Ghi chú\r\n"),
            "trộn hai bảng mã",
        ),
        # 0x81 and 0x8D are defined neither in Windows-1258 nor in Windows-1252.
        (b"Ma don vi,Ma chi tieu,Tu so,Mau so\r\n024,X\x81\x8d,1,2\r\n", "không thuộc bảng mã Windows-1258"),
        # A UTF-8 BOM over bytes that are not UTF-8.
        (b"\xef\xbb\xbf" + cp1258_bytes(table_text()), "dấu BOM của UTF-8"),
    ],
)
def test_a_csv_whose_encoding_cannot_be_determined_is_refused_naming_the_problem(tmp_path, data, problem):
    path = tmp_path / "bang-ma.csv"
    path.write_bytes(data)
    with pytest.raises(UploadError) as caught:
        read_upload(path)
    assert caught.value.code == "bad_encoding"
    assert caught.value.reason_vi.startswith("Không xác định được bảng mã (encoding) của tệp 'bang-ma.csv'")
    assert problem in caught.value.reason_vi
    assert "CSV UTF-8 (Comma delimited)" in caught.value.reason_vi
