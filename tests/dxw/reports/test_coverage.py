"""Partial coverage in words, and the unit structure of every table (no database).

The new province (08) holds 124 communes, 73 of them formed from Hà Giang's (the only ones whose
systems report to this warehouse): its figures cover part of the province, and the report and the
terminal table must say so rather than present a part as the whole.
"""

from dataclasses import replace

from dxw.serving.reports import html, workbook
from dxw.serving.reports.model import BEFORE_2025, FROM_2025
from dxw.serving.reports.terminal import coverage_words
from tests.dxw.reports.test_rendering import sample


def _with_coverage(data, unit_code, level, with_data, at_level):
    data.figures = [
        replace(f, coverage_level=level, units_with_data=with_data, units_at_level=at_level)
        if f.unit_code == unit_code
        else f
        for f in data.figures
    ]
    return data


def test_a_partial_province_is_flagged_in_words():
    data = _with_coverage(sample("2025S2"), "08", "commune", 73, 124)
    assert data.structure == FROM_2025
    page = html.render(data)
    assert "Một phần: 73 trên 124 xã có số liệu" in page
    assert "Số liệu toàn tỉnh chỉ phản ánh một phần tỉnh: 73 trên 124 xã có số liệu" in page
    assert "cơ cấu đơn vị sau sắp xếp (từ 01/7/2025, chính quyền hai cấp)" in page
    cells = [c.value for sheet in workbook.build(data).worksheets for row in sheet.iter_rows() for c in row]
    assert "Một phần: 73 trên 124 xã có số liệu" in cells


def test_a_whole_province_is_not_flagged():
    data = _with_coverage(sample("2025S1"), "02", "commune", 193, 193)
    assert data.structure == BEFORE_2025
    page = html.render(data)
    assert "Một phần" not in page
    assert "chỉ phản ánh một phần" not in page
    assert "193 trên 193 xã có số liệu" in page
    assert "cơ cấu đơn vị trước sắp xếp (đến 30/6/2025)" in page


def test_the_old_structure_of_2025s2_says_it_covers_15_to_30_june_only():
    # 2025S2's Decree 09 window is 15/06 - 14/12/2025 (16 + 31 + 31 + 30 + 31 + 30 + 14 = 183
    # days); the old units existed until 30/06/2025: 16 days.
    data = sample("2025S2")
    data.structure = BEFORE_2025
    page = html.render(data)
    assert "15/06/2025 – 30/06/2025 (16 trên 183 ngày của kỳ" in page
    assert "Không đánh giá mục tiêu" in page


def test_the_terminal_words():
    assert coverage_words("commune", 73, 124) == "73 of 124 communes report to this warehouse"
    assert coverage_words("department", 26, 26) == "26 of 26 provincial bodies report to this warehouse"


def test_a_figure_knows_its_coverage():
    figure = sample("2025S2").figures[0]
    partial = replace(figure, coverage_level="commune", units_with_data=73, units_at_level=124)
    assert partial.is_partial
    assert partial.coverage_text == "73 trên 124 xã có số liệu"
    whole = replace(partial, units_with_data=124)
    assert not whole.is_partial
    assert not replace(figure, units_at_level=None).is_partial
