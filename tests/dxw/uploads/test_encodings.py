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

from dxw.intake.uploads.catalogue import load_catalogue
from dxw.intake.uploads.safety import UploadError
from dxw.intake.uploads.validate import validate
from dxw.intake.uploads.workbook import decode_csv, read_upload

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


def with_note(note: str) -> tuple[tuple[str, ...], ...]:
    return ((*ROWS[0][:-1], note), ROWS[1])


def expected_with_note(note: str) -> dict:
    return {**EXPECTED, "DIST_HOUSEHOLD_BROADBAND": (*EXPECTED["DIST_HOUSEHOLD_BROADBAND"][:3], note)}


# Notes whose Windows-1258 bytes hold a pair that is also valid UTF-8: a byte 0xC2-0xDF (cp1258's
# Â Ă Ê Ô Ơ Ư Đ and its grave, hook and tilde tone marks) followed by one 0x80-0xBF (… “ ” – —
# NBSP °). The pairs, from the Windows-1258 code chart and written here by hand, and what UTF-8
# would make of them (Unicode's UTF-8 table: 110xxxxx 10yyyyyy is U+xxxxxyyyyyy):
#   "đủ…"  -> F0 u D2 85 (đ, u, combining hook, ellipsis); D2 85 would be U+0485 (Cyrillic mark);
#   "MÊ”"  -> M CA 94 (Ê, right double quote); CA 94 would be U+0294 (ʔ, glottal stop);
#   "về…"  -> v EA CC 85 (ê, combining grave, ellipsis); CC 85 would be U+0305 (combining overline);
#   "QĐ–"  -> Q D0 96 (Đ, en dash); D0 96 would be U+0416 (Cyrillic Ж);
#   "“Xã”" -> 93 X a DE 94 (a, combining tilde, right quote); DE 94 would be U+07A4 (Thaana);
#   "ĐÔ"+NBSP -> D0 D4 A0; D4 A0 would be U+0520 (Cyrillic);  "ƯU°" is DD U B0, no pair.
# None is a Vietnamese letter or tone mark, so none is evidence of UTF-8.
CP1258_NOTES = [
    # The outside tester's two files (issue 14, point 8), rebuilt here: refused as "mixed" before.
    ("Số liệu xã “Lũng Cú” còn chưa đủ…", [b"\xf0u\xd2\x85"], None),
    ("Số liệu “BẮC MÊ” tháng 12", [b"M\xca\x94"], None),
    # Many such pairs in one file: still no UTF-8 Vietnamese letter among them.
    (
        "Theo 12/QĐ–UBND số liệu về… “Xã” THỦ ĐÔ\u00a0chưa đủ…",
        [b"Q\xd0\x96", b"v\xea\xcc\x85", b"\x93Xa\xde\x94", b"\xd0\xd4\xa0", b"\xf0u\xd2\x85"],
        # a comment's spaces are collapsed, NBSP included, so the comment has a plain space there
        "Theo 12/QĐ–UBND số liệu về… “Xã” THỦ ĐÔ chưa đủ…",
    ),
    # One accident that does decode to a Vietnamese letter is tolerated: "“Ă”" (a list item Ă in
    # quotes) is 93 C3 94, and C3 94 is UTF-8 for Ô.
    ("Mục “Ă” chưa đủ…", [b"\x93\xc3\x94"], None),
]


@pytest.mark.parametrize(("note", "pairs", "comment"), CP1258_NOTES)
def test_windows_1258_text_with_utf8_like_byte_pairs_is_read_as_windows_1258(
    tmp_path, catalogue, note, pairs, comment
):
    data = cp1258_bytes(table_text(rows=with_note(note)))
    for pair in pairs:  # the hand-written bytes are really in the file
        assert pair in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # so the reader must decide between "mixed" and a code page
    path = tmp_path / "cp1258.csv"
    path.write_bytes(data)
    # The comment is the hand-written note, NFC (as typed in this file).
    check_read(path, catalogue, expected=expected_with_note(comment or note))
    text, encoding = decode_csv(data, "cp1258.csv")
    assert encoding == "cp1258"
    assert note in text


MIXED = [
    # A cp1258 file (the tester's "BẮC MÊ" one) with a line appended in UTF-8 whose note is
    # "Đã rà soát": Đ C4 90, ã C3 A3, à C3 A0, á C3 A1 (UTF-8 by hand) next to cp1258's 0xCA 0x94.
    cp1258_bytes(table_text(rows=with_note("Số liệu “BẮC MÊ” tháng 12")))
    + b"024,X,DIST_DIGITAL_BUSINESSES,2025S1,85,100,\xc4\x90\xc3\xa3 r\xc3\xa0 so\xc3\xa1t\r\n",
    # The smallest refused mix: an ASCII table whose note is UTF-8 "Đạt" (Đ C4 90, ạ E1 BA A1: two
    # Vietnamese letters) and another note ending in cp1252/cp1258's ellipsis 0x85 (not UTF-8).
    b"Ma don vi,Ma chi tieu,Tu so,Mau so,Ghi chu\r\n"
    b"024,DIST_DIGITAL_BUSINESSES,85,100,\xc4\x90\xe1\xba\xa1t\r\n"
    b"024,DIST_HOUSEHOLD_BROADBAND,1,2,chua du\x85\r\n",
    # No Vietnamese letter at all: UTF-8 curly quotes around "OK" (“ E2 80 9C, ” E2 80 9D, from
    # Unicode's UTF-8 table) and the same stray 0x85.
    b"Ma don vi,Ma chi tieu,Tu so,Mau so,Ghi chu\r\n"
    b"024,DIST_DIGITAL_BUSINESSES,85,100,\xe2\x80\x9cOK\xe2\x80\x9d\r\n"
    b"024,DIST_HOUSEHOLD_BROADBAND,1,2,chua du\x85\r\n",
]


@pytest.mark.parametrize(
    "data", MIXED, ids=["cp1258 file with a UTF-8 line", "two UTF-8 letters", "UTF-8 quotes"]
)
def test_utf8_vietnamese_text_next_to_legacy_bytes_is_still_refused_as_mixed(tmp_path, data):
    path = tmp_path / "bang-ma.csv"
    path.write_bytes(data)
    with pytest.raises(UploadError) as caught:
        read_upload(path)
    assert caught.value.code == "bad_encoding"
    assert "trộn hai bảng mã" in caught.value.reason_vi
