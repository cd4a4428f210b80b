"""Records held as columns (``dxw.sources.contract.ColumnRecords``): a sequence of records all the
same, and ordered by a key as a list of the same records is sorted. Expected values are written
by hand."""

import pytest

from dxw.sources.contract import ColumnRecords, column, in_key_order, key_ranks

KEY = ("dataElement", "period", "orgUnit")


def columns():
    # Four values as a province's answer delivers them: commune by commune, not in key order.
    return ColumnRecords(
        {
            "dataElement": ["de2", "de1", "de2", "de1"],
            "period": ["2025S1"] * 4,
            "orgUnit": ["ou1", "ou1", "ou0", "ou0"],
            "value": ["4", "3", "2", "1"],
        }
    )


def test_columns_read_as_records():
    records = columns()
    assert len(records) == 4
    assert records[0] == {"dataElement": "de2", "period": "2025S1", "orgUnit": "ou1", "value": "4"}
    assert records[-1]["value"] == "1"
    assert [r["value"] for r in records[1:3]] == ["3", "2"]
    assert isinstance(records[1:3], ColumnRecords)
    by_hand = [
        {"dataElement": "de2", "period": "2025S1", "orgUnit": "ou1", "value": "4"},
        {"dataElement": "de1", "period": "2025S1", "orgUnit": "ou1", "value": "3"},
        {"dataElement": "de2", "period": "2025S1", "orgUnit": "ou0", "value": "2"},
        {"dataElement": "de1", "period": "2025S1", "orgUnit": "ou0", "value": "1"},
    ]
    assert records == by_hand
    assert records != by_hand[:3]
    assert records != [{**records[0], "value": "5"}, *list(records)[1:]]
    assert column(records, "orgUnit") == ["ou1", "ou1", "ou0", "ou0"]
    assert list(records.rows(["value", "orgUnit"])) == [
        ("4", "ou1"),
        ("3", "ou1"),
        ("2", "ou0"),
        ("1", "ou0"),
    ]
    with pytest.raises(IndexError):
        records[4]
    with pytest.raises(ValueError, match="different lengths"):
        ColumnRecords({"a": [1, 2], "b": [1]})


def test_in_key_order_is_the_order_a_list_of_the_same_records_sorts_to():
    ordered = in_key_order(columns(), KEY)
    # By data element, then org unit (the period is the same): de1/ou0, de1/ou1, de2/ou0, de2/ou1.
    assert column(ordered, "value") == ["1", "3", "2", "4"]
    as_list = in_key_order(list(columns()), KEY)
    assert [r["value"] for r in as_list] == ["1", "3", "2", "4"]
    assert ordered == as_list
    # Already in order: the same object, not a copy.
    assert in_key_order(ordered, KEY) is ordered
    assert ColumnRecords({"dataElement": [], "period": [], "orgUnit": []}).ordered_by(KEY) == []


def test_key_ranks_order_and_equal_as_the_keys_do():
    # Keys (by hand): ("b", "x"), ("a", "y"), ("b", "x") again, ("a", "x"); the second column's
    # cells sort x < y, the first's a < b. Sorted: a/x, a/y, b/x, b/x; the 1st and 3rd are equal.
    first, second = ["b", "a", "b", "a"], ["x", "y", "x", "x"]
    ranks = key_ranks([first, second, ["same"] * 4], 4)
    assert sorted(range(4), key=ranks.__getitem__) == [3, 1, 0, 2]
    assert ranks[0] == ranks[2]
    assert len(set(ranks)) == 3
    assert key_ranks([["one"] * 3], 3) == [0, 0, 0]  # nothing tells them apart
