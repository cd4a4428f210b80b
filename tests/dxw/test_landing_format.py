"""The loader's COPY text, without a server: the bytes a batch's checksum is taken of.

A batch is ``unchanged`` when its checksum equals the latest loaded one's, so the text the
loader writes for the same records must not change between releases: a changed text would land
every source's next delivery again as new. The expected lines are written by hand, as CSV of
``str()`` of each value (Python's shortest float repr: ``0.1`` -> ``0.1``, ``1e16`` -> ``1e+16``).
"""

from dxw.landing import copy
from dxw.sources.contract import ColumnRecords

DATASET = copy.Dataset("test_source", "test_counts", {"unitCode": str, "totalCount": int, "ratio": float})


def test_plain_records_are_written_as_comma_separated_str_values():
    records = [
        {"unitCode": "024", "totalCount": 10, "ratio": 0.5},
        {"unitCode": "Xã Ngọc Đường", "totalCount": -3, "ratio": 0.1},
        {"unitCode": "00715", "totalCount": 0, "ratio": 1e16},
        {"unitCode": "Sở TT&TT", "totalCount": True, "ratio": -0.0},
    ]
    assert copy._csv_chunk(records, DATASET) == (
        "024,10,0.5\nXã Ngọc Đường,-3,0.1\n00715,0,1e+16\nSở TT&TT,True,-0.0\n".encode()
    )


def test_values_needing_quotes_and_missing_values_go_through_the_csv_rules():
    records = [
        {"unitCode": 'a,"b"', "totalCount": None, "ratio": 2.0},
        {"unitCode": "line\nbreak", "totalCount": 1, "ratio": None},
    ]
    assert copy._csv_chunk(records, DATASET) == b'"a,""b""",,2.0\n"line\nbreak",1,\n'


def test_a_field_named_like_python_code_is_read_as_a_name():
    # The fast path compiles a formatter per dataset: a field's name must never become code.
    dataset = copy.Dataset("s", "t", {"x']}{__import__('os')}": str, "k0": int})
    records = [{"x']}{__import__('os')}": "v", "k0": 7}]
    assert copy._csv_chunk(records, dataset) == b"v,7\n"


def test_columns_are_written_as_the_same_records_would_be():
    # Column-wise records (the reporting system's connector) must give the bytes written by hand
    # for the same records, in the dataset's field order whatever the columns' order, so that a
    # batch keeps its checksum whichever way its connector held it.
    dataset = copy.Dataset("s", "t", {"orgUnit": str, "value": str, "comment": str})
    records = ColumnRecords(
        {"comment": ["", "Báo cáo đủ", ""], "value": ["12", "0", ""], "orgUnit": ["a1", "b2", "c3"]}
    )
    assert copy._csv_chunk(records, dataset) == "a1,12,\nb2,0,Báo cáo đủ\nc3,,\n".encode()


def test_columns_that_need_quotes_or_hold_other_cells_take_the_csv_rules():
    quoted = ColumnRecords(
        {"unitCode": ['a,"b"', "line\nbreak"], "totalCount": [None, 1], "ratio": [2.0, None]}
    )
    assert copy._csv_chunk(quoted, DATASET) == b'"a,""b""",,2.0\n"line\nbreak",1,\n'
    numbers = ColumnRecords({"unitCode": ["024", "00715"], "totalCount": [10, 0], "ratio": [0.5, 1e16]})
    assert copy._csv_chunk(numbers, DATASET) == b"024,10,0.5\n00715,0,1e+16\n"


def test_columns_and_the_same_records_as_dicts_give_the_same_bytes_in_every_case():
    # Differential: the record-wise text is pinned by the hand-written tests above; the columns
    # must match it where the CSV rules step in (a null, a quote, COPY's end marker, a bare
    # carriage return, a NUL) and for a dataset of one field.
    awkward = ["plain", None, 'say "hi"', "\\.", "line\rbreak", "nul\x00", "", "a,b", "Xã Ngọc Đường"]
    for name, fields in (("one", {"unitCode": str}), ("three", {"unitCode": str, "note": str, "n": str})):
        dataset = copy.Dataset("s", name, fields)
        columns = {field: awkward[shift:] + awkward[:shift] for shift, field in enumerate(fields)}
        records = [dict(zip(columns, cells, strict=True)) for cells in zip(*columns.values(), strict=True)]
        assert copy._csv_chunk(ColumnRecords(columns), dataset) == copy._csv_chunk(records, dataset)
