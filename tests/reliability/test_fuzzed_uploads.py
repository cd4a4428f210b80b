"""Fuzzed unit uploads (hypothesis): reading never crashes, no bad row is ever accepted, and the
good rows of a file are accepted whatever the other rows hold.

Files are built from cells a clerk (or an attacker) might type: codes of real and unknown
units and indicators, numbers in every Vietnamese and foreign notation, formulas, control
characters, NFD text, blanks; as xlsx and as CSV. Whatever the file, the upload either refuses
it with an :class:`UploadError` (a Vietnamese reason for the unit) or splits it into accepted
observations that satisfy every rule the raw gate checks, and rejections that say why. A file
that starts with well-formed rows of district 024 is never refused, and those rows are accepted
with the figures written in them, however the fuzzed rows after them are broken.
"""

import csv
import unicodedata
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from dxw.intake.uploads import UploadError, load_catalogue, read_upload, validate
from dxw.intake.uploads.template import HEADERS
from dxw.intake.uploads.validate import REGISTRY_DENOMINATORS

pytestmark = pytest.mark.reliability

PERIOD = "2025S1"
CATALOGUE = load_catalogue()
UPLOADABLE = sorted(i.code for i in CATALOGUE.indicators if i.is_upload)

number_text = st.one_of(
    st.integers(-10, 10**7).map(str),
    st.decimals(-5, 10**6, places=2, allow_nan=False).map(lambda d: str(d).replace(".", ",")),
    st.integers(0, 10**7).map(lambda n: f"{n:,}".replace(",", ".")),
    st.integers(0, 10**7).map(lambda n: f"{n:,}"),
    st.floats(0, 100, allow_nan=False).map(lambda f: f"{f:.1f} %"),
    st.sampled_from(["không có", "khong co", "-", "", " ", "N/A", "1e9", "0x10", "∞", "12/05"]),
    st.sampled_from(["=1+1", '=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3"]),
)
cell = st.one_of(
    number_text,
    st.integers(-1000, 10**6),
    st.floats(-1e6, 1e6),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.text(max_size=12),
    st.none(),
)
unit_code = st.one_of(
    st.sampled_from(["024", "026", "027", "00691", "02", "02.SNV", "08", "99999", "24", " 024 ", ""]),
    st.text(max_size=6),
)
indicator_code = st.one_of(st.sampled_from([*UPLOADABLE, "PS_ON_TIME", "X", ""]), st.text(max_size=8))
row = st.tuples(
    unit_code,
    st.text(max_size=10),
    indicator_code,
    st.text(max_size=10),
    st.sampled_from([PERIOD, "2025S2", "2025", "", "6 tháng đầu năm 2025"]),
    cell,
    cell,
    cell,
    st.one_of(st.none(), st.text(max_size=20)),
)
upload = st.fixed_dictionaries(
    {
        "rows": st.lists(row, max_size=12),
        "title_rows": st.integers(0, 4),
        "nfd_headers": st.booleans(),
        "as_csv": st.booleans(),
        "delimiter": st.sampled_from([",", ";", "\t"]),
    }
)


def write_file(folder, spec) -> object:
    headers = [unicodedata.normalize("NFD", h) if spec["nfd_headers"] else h for h in HEADERS]
    rows = [*spec.get("good", []), *spec["rows"]]
    lines = [["BÁO CÁO"] for _ in range(spec["title_rows"])] + [headers, *map(list, rows)]
    if spec["as_csv"]:
        path = folder / "tep.csv"
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            csv.writer(handle, delimiter=spec["delimiter"]).writerows(
                ["" if v is None else v for v in line] for line in lines
            )
        return path
    book = Workbook()
    for line in lines:
        book.active.append([_xlsx_safe(v) for v in line])
    path = folder / "tep.xlsx"
    book.save(path)
    return path


def _xlsx_safe(value):
    """openpyxl refuses control characters and NaN/inf in cells; a real file cannot hold them either."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    if isinstance(value, str):
        return "".join(ch for ch in value if ch in "\t\n" or unicodedata.category(ch) != "Cc")
    return value


GOOD_ROW = ("024", "", "DIST_HOUSEHOLD_BROADBAND", "", PERIOD, "12.345", "20.000", "61,7 %", None)
# Every figure "không có" (none): a no-data answer, neither accepted nor rejected (found by this
# test on 2026-12-03, when it still counted only accepted and rejected rows).
NO_DATA_ROW = ("024", "", "DIST_COMMUNE_BROADBAND", "", PERIOD, "không có", "không có", "không có", None)


def _reportable_once(unit_code: str, indicator_code: str, seen: set[tuple[str, str]]):
    """The indicator of a row district 024 may file for this unit, at a level it applies to, once."""
    unit = CATALOGUE.unit(unit_code, PERIOD)
    indicator = CATALOGUE.indicator(indicator_code)
    assert unit is not None
    assert CATALOGUE.may_report_for(CATALOGUE.unit("024", PERIOD), unit, PERIOD)
    assert indicator is not None
    assert indicator.is_upload
    assert unit.level in indicator.levels
    assert (unit_code, indicator_code) not in seen
    seen.add((unit_code, indicator_code))
    return indicator


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=upload)
@example(spec={"rows": [GOOD_ROW], "title_rows": 2, "nfd_headers": True, "as_csv": False, "delimiter": ","})
@example(
    spec={
        "rows": [GOOD_ROW, GOOD_ROW],
        "good": [],
        "title_rows": 0,
        "nfd_headers": False,
        "as_csv": True,
        "delimiter": ";",
    }
)
@example(
    spec={"rows": [NO_DATA_ROW], "title_rows": 0, "nfd_headers": False, "as_csv": False, "delimiter": ","}
)
def test_fuzzed_uploads_never_crash_and_never_accept_a_bad_row(tmp_path, spec):
    path = write_file(tmp_path, spec)
    try:
        parsed = read_upload(path)
        result = validate(parsed, CATALOGUE, PERIOD, unit_code="024")
    except UploadError as refused:
        refusal = (refused.reason_vi, refused.code)
        assert all(refusal), refusal
        return
    # Each row is accepted, rejected, or a no-data answer (every figure it fills says "none").
    assert len(result.accepted) + len(result.rejected) + len(result.no_data) == len(parsed.rows)
    if spec["rows"] and spec["rows"][0] == GOOD_ROW:
        assert [(o.numerator, o.denominator) for o in result.accepted] == [(12345, 20000)]
    if spec["rows"] == [NO_DATA_ROW]:
        assert [(a.unit_code, a.indicator_code) for a in result.no_data] == [
            ("024", "DIST_COMMUNE_BROADBAND")
        ]
    # A no-data answer passed the same unit, indicator and duplicate checks as an accepted row.
    seen: set[tuple[str, str]] = set()
    for answer in result.no_data:
        _reportable_once(answer.unit_code, answer.indicator_code, seen)
    for obs in result.accepted:
        indicator = _reportable_once(obs.unit_code, obs.indicator_code, seen)
        assert obs.period_id == PERIOD
        if indicator.is_flag:
            assert obs.value in (Decimal(0), Decimal(1))
        else:
            assert obs.numerator is not None
            assert obs.denominator is not None
            assert 0 <= obs.numerator <= obs.denominator
            assert obs.numerator == obs.numerator.to_integral_value()
            assert obs.value is None or 0 <= obs.value <= 100
    for rejection in result.rejected:
        assert rejection.reason_vi
        assert rejection.reason_code


# District 024's ratio indicators whose denominator the unit counts itself: not the flag, nor
# those whose denominator must equal the registry's count of its communes.
RATIO_INDICATORS = [
    code
    for code in UPLOADABLE
    if code.startswith("DIST_")
    and not CATALOGUE.indicator(code).is_flag
    and code not in REGISTRY_DENOMINATORS
]


@st.composite
def good_rows(draw) -> list[tuple]:
    """One to four well-formed rows of district 024, each of a different ratio indicator.

    The figures are whole numbers with the numerator at most the denominator, written plain or
    with the Vietnamese thousands dot; the value column is left empty (the ratio is computed).
    """
    codes = draw(st.lists(st.sampled_from(RATIO_INDICATORS), min_size=1, unique=True))
    rows = []
    for code in codes:
        denominator = draw(st.integers(1, 10**7))
        numerator = draw(st.integers(0, denominator))
        written = draw(st.sampled_from([str, lambda n: f"{n:,}".replace(",", ".")]))
        rows.append(("024", "", code, "", PERIOD, written(numerator), written(denominator), None, None))
    return rows


with_good_rows = st.fixed_dictionaries(
    {
        "good": good_rows(),
        "rows": st.lists(row, max_size=8),
        "title_rows": st.integers(0, 4),
        "nfd_headers": st.booleans(),
        "as_csv": st.booleans(),
        "delimiter": st.sampled_from([",", ";", "\t"]),
    }
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=with_good_rows)
def test_good_rows_are_accepted_whatever_the_fuzzed_rows_after_them(tmp_path, spec):
    # The good rows come first: a later row of the same unit and indicator is the duplicate.
    # Control characters make a CSV a binary file, refused whole (tests/dxw/uploads/test_safety.py):
    # the fuzzed rows here hold none, as in a file a spreadsheet program saved.
    spec = {**spec, "rows": [tuple(_xlsx_safe(value) for value in row) for row in spec["rows"]]}
    path = write_file(tmp_path, spec)
    result = validate(read_upload(path), CATALOGUE, PERIOD, unit_code="024")  # never refused
    accepted = {(o.unit_code, o.indicator_code): (o.numerator, o.denominator) for o in result.accepted}
    for unit, _, code, _, _, numerator, denominator, _, _ in spec["good"]:
        # The figures as written, read back: "1.234.567" is 1234567.
        expected = (int(numerator.replace(".", "")), int(denominator.replace(".", "")))
        assert accepted.get((unit, code)) == expected, result.rejected
