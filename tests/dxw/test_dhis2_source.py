"""The reporting-system connector: DHIS2 dataValueSets as JSON and CSV, over real HTTP and from files."""

import json
from dataclasses import replace

import pytest
import requests

from dxw.periods import parse
from dxw.settings import get_settings
from dxw.simulator import dhis2_data
from dxw.sources import dhis2
from dxw.sources.contract import ContractError, SourceError, column
from dxw.units import dhis2_uid

S1 = parse("2025S1")


@pytest.fixture
def settings():
    return replace(get_settings(), http_timeout_read=1.0, http_retries=3)


@pytest.fixture
def sim(simulator):
    simulator.clear_faults()
    yield simulator
    simulator.clear_faults()


def a_value(**changes):
    value = dict(dhis2_data.data_values(S1)[0])
    value.update(changes)
    return value


def test_pulls_every_value_of_the_data_set_and_keeps_the_answer(settings, sim):
    delivery = dhis2.fetch(settings, sim.url, S1)
    departments = len(dhis2_data.reporting_units(S1))
    # Two department indicators (numerator and denominator) per department, and the pilot
    # district's households covered by broadband (numerator and denominator) from 2025.
    assert len(delivery.records) == departments * 4 + 2
    assert {r["period"] for r in delivery.records} == {"2025S1"}
    assert json.loads(delivery.documents[0].content)["dataValues"] == dhis2_data.data_values(S1)
    # Every org unit is placed through the crosswalk on a provincial department or the pilot.
    units = dhis2.mapping().unit_by_uid
    assert {units[r["orgUnit"]][0] for r in delivery.records} == {
        *(u.code for u in dhis2_data.reporting_units(S1)),
        dhis2_data.PILOT_DISTRICT,
    }


def test_json_and_csv_exports_hold_the_same_values(sim):
    # Hà Giang's org unit and its children (the system's province until 30 June 2025).
    ha_giang = next(iter(dhis2_data.roots()))
    query = {
        "dataSet": dhis2_data.data_set_uid(),
        "period": "2025S1",
        "orgUnit": ha_giang,
        "children": "true",
    }
    as_json = requests.get(sim.url + "/api/dataValueSets.json", params=query, timeout=5).content
    as_csv = requests.get(sim.url + "/api/dataValueSets.csv", params=query, timeout=5).content
    from_json = dhis2.resolve(dhis2.parse_document(as_json, "json"))
    from_csv = dhis2.resolve(dhis2.parse_document(as_csv, "csv"))
    assert from_json.conflicts == from_csv.conflicts == []
    # DHIS2's CSV export has no `created` column (CsvDataValueSetWriter.HEADER_ROW); the JSON has.
    assert all(v["created"] for v in from_json.values)
    assert [{**v, "created": ""} for v in from_json.values] == from_csv.values


def test_simulator_answers_a_wrong_query_like_dhis2(sim):
    answer = requests.get(
        sim.url + "/api/dataValueSets.json", params={"dataSet": "nope", "period": "2025S1"}, timeout=5
    )
    assert answer.status_code == 409
    assert "dataSet" in answer.json()["message"]
    unknown = {"dataSet": dhis2_data.data_set_uid(), "period": "2025S1", "orgUnit": "x", "children": "true"}
    answer = requests.get(sim.url + "/api/dataValueSets.json", params=unknown, timeout=5)
    assert answer.status_code == 409
    assert "orgUnit" in answer.json()["message"]


def test_each_province_answers_for_its_own_org_units(sim):
    # 2025S2: Hà Giang's bodies ceased on 30 June 2025, before the cut-off (14 December): the
    # values, states at the cut-off, are the new Tuyên Quang's 26 bodies' (provincial_bodies_
    # tuyen_quang_2025.csv), 2 indicators x numerator and denominator each.
    ha_giang, tuyen_quang = dhis2_data.roots()
    values = {}
    for root in (ha_giang, tuyen_quang):
        query = {
            "dataSet": dhis2_data.data_set_uid(),
            "period": "2025S2",
            "orgUnit": root,
            "children": "true",
        }
        values[root] = requests.get(sim.url + "/api/dataValueSets.json", params=query, timeout=5).json()[
            "dataValues"
        ]
    assert values[ha_giang] == []
    assert len(values[tuyen_quang]) == 26 * 4


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_transient_faults_are_retried(settings, sim, fault):
    sim.inject(fault, times=2)
    assert (
        len(dhis2.fetch(settings, sim.url, S1).records) == 106
    )  # 26 bodies at the 2025S1 cut-off x 4 + 2 (provincial_bodies.csv)
    assert sim.faults_served == [fault, fault]


def test_truncated_answer_is_refused(settings, sim):
    sim.inject("truncate", times=10)
    with pytest.raises(SourceError):
        dhis2.fetch(settings, sim.url, S1)


def test_renamed_field_fails_the_delivery_naming_it(settings, sim):
    sim.inject("rename:value")
    with pytest.raises(ContractError, match=r"missing fields \['value'\], unexpected fields \['valueV2'\]"):
        dhis2.fetch(settings, sim.url, S1)


def test_duplicated_value_fails_a_system_feed(settings, sim):
    sim.inject("duplicate-page")
    with pytest.raises(ContractError, match="Duplicate data value"):
        dhis2.fetch(settings, sim.url, S1)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"dataElement": "AAAAAAAAAAA"}, "Data element not found"),
        ({"orgUnit": "BBBBBBBBBBB"}, "Organisation unit not found"),
        ({"period": "2025Q1"}, "is not valid for data set (SixMonthly)"),
        ({"period": "20251"}, "Period not valid"),
        ({"categoryOptionCombo": "CCCCCCCCCCC"}, "Category option combo not found"),
        ({"value": "12,5"}, "Value must be zero or a positive integer"),
        ({"value": "-3"}, "Value must be zero or a positive integer"),
        ({"followup": "maybe"}, "followup must be true or false"),
        ({"deleted": "yes"}, "deleted must be true or false"),
    ],
)
def test_a_value_that_cannot_be_placed_is_a_conflict(change, reason):
    second = a_value(dataElement=dhis2_data.data_elements()[1].uid)
    result = dhis2.resolve([a_value(), {**second, **change}])
    assert [v["dataElement"] for v in result.values] == [a_value()["dataElement"]]
    (conflict,) = result.conflicts
    assert reason in conflict.value
    assert conflict.index == 2


def test_values_outside_the_import_period_are_conflicts():
    other = a_value(period="2024S2")
    result = dhis2.resolve([a_value(), other], period=S1)
    assert len(result.values) == 1
    assert result.conflicts[0].value == "Period 2024S2 is outside the import's period 2025S1"
    assert result.conflicts[0].index == 2


def test_a_unit_closed_for_the_period_is_a_conflict_as_in_dhis2():
    # a_value() is a provincial department's, valid until 30 June 2025 (seed units). Decree 09
    # windows: 2025S2 = 15 June..14 December 2025, so the department existed on 15-30 June and
    # its value is imported; 2026S1 = 15 December 2025..14 June 2026, after its closing date.
    # The 2025 commune 00691 (Phường Hà Giang 2) opened on 1 July 2025, after 2025S1 ended on
    # 14 June 2025.
    department = a_value()["orgUnit"]
    new_commune = dhis2_uid("ou:00691@2025-07-01")
    result = dhis2.resolve(
        [
            a_value(period="2025S2"),
            a_value(period="2026S1"),
            a_value(orgUnit=new_commune, period="2025S1"),
            a_value(orgUnit=new_commune, period="2025S2"),
        ]
    )
    code = dhis2.mapping().unit_by_uid[department][0]
    assert [(v["orgUnit"], v["period"]) for v in result.values] == [
        (department, "2025S2"),
        (new_commune, "2025S2"),
    ]
    assert [(c.object, c.value, c.index) for c in result.conflicts] == [
        (
            department,
            "Organisation unit is closed for the selected period: 2026S1 "
            f"({code}: closed date 2025-06-30 is before the period's start 2025-12-15)",
            2,
        ),
        (
            new_commune,
            "Organisation unit is closed for the selected period: 2025S1 "
            "(00691: opening date 2025-07-01 is after the period's end 2025-06-14)",
            3,
        ),
    ]


def test_duplicates_in_a_file_keep_the_first_value():
    result = dhis2.resolve([a_value(value="7"), a_value(value="9")])
    assert [v["value"] for v in result.values] == ["7"]
    assert result.conflicts[0].value == "Duplicate data value: same as data value 1"


def test_code_id_scheme_is_resolved_to_uids():
    element = next(e for e in dhis2_data.data_elements() if e.part == "numerator")
    unit = dhis2_data.reporting_units(S1)[0]
    result = dhis2.resolve(
        [{"dataElement": element.code, "orgUnit": unit.code, "period": "2025S1", "value": "04"}],
        id_scheme="code",
    )
    assert result.conflicts == []
    (value,) = result.values
    assert value["dataElement"] == element.uid
    assert value["orgUnit"] == unit.dhis2_uid("2004-01-01")
    assert value["value"] == "4"
    assert value["categoryOptionCombo"] == dhis2.DEFAULT_COMBO


def test_set_level_period_and_org_unit_are_inherited():
    unit_uid = dhis2_data.reporting_units(S1)[0].dhis2_uid("2004-01-01")
    element = dhis2_data.data_elements()[0].uid
    document = {
        "period": "2025S1",
        "orgUnit": unit_uid,
        "dataValues": [{"dataElement": element, "value": "3"}],
    }
    values = dhis2.parse_document(json.dumps(document).encode(), "json")
    assert dhis2.resolve(values).values[0]["orgUnit"] == unit_uid


def test_headerless_csv_is_read_by_position():
    text = dhis2_data.as_csv(S1).split("\n", 1)[1]
    values = dhis2.parse_document(text.encode(), "csv")
    assert len(values) == 106  # 26 bodies at the cut-off x 4 + the pilot district's 2
    assert dhis2.resolve(values).conflicts == []


@pytest.mark.parametrize(
    ("content", "media", "message"),
    [
        (b'{"dataValues": ', "json", "not valid JSON"),
        (b'{"values": []}', "json", "'dataValues' list"),
        (b"dataelement,period,value\n", "csv", r"no column for \['orgUnit'\]"),
        (b"dataelement,period,orgunit,catoptcombo,categoryoptioncombo\n", "csv", "twice"),
        (b"\xff\xfe\x00garbage", "csv", "not UTF-8"),
    ],
)
def test_malformed_files_are_refused_whole(content, media, message):
    with pytest.raises(ContractError, match=message):
        dhis2.parse_document(content, media)


def test_only_json_and_csv_files_are_read(tmp_path):
    path = tmp_path / "values.xml"
    path.write_text("<dataValueSet/>")
    with pytest.raises(ContractError, match=r"\.json or \.csv"):
        dhis2.read_file(path)


def test_a_clean_set_is_placed_value_for_value_as_dhis2_reads_it():
    """A set with nothing to say is placed column by column: each value written out by hand."""
    first, second = (e.uid for e in dhis2_data.data_elements()[:2])
    unit = dhis2_data.reporting_units(S1)[0].dhis2_uid("2004-01-01")
    values = [
        {"dataElement": f" {first} ", "period": "2025S1", "orgUnit": unit, "value": "007",
         "followup": True, "categoryOptionCombo": "default", "lastUpdated": "2025-06-20T08:15:00.000"},
        {"dataElement": second, "period": "2025S1", "orgUnit": f"{unit} ", "value": "",
         "deleted": "TRUE", "attributeOptionCombo": dhis2.DEFAULT_COMBO, "comment": " ghi chú "},
    ]  # fmt: skip
    result = dhis2.resolve(values, period=S1)
    blank = dict.fromkeys(dhis2.FIELDS, "")
    combos = {"categoryOptionCombo": dhis2.DEFAULT_COMBO, "attributeOptionCombo": dhis2.DEFAULT_COMBO}
    assert result.conflicts == []
    assert result.values == [
        {**blank, **combos, "dataElement": first, "period": "2025S1", "orgUnit": unit, "value": "7",
         "followup": "true", "deleted": "false", "lastUpdated": "2025-06-20T08:15:00.000"},
        {**blank, **combos, "dataElement": second, "period": "2025S1", "orgUnit": unit, "value": "",
         "followup": "false", "deleted": "true", "comment": "ghi chú"},
    ]  # fmt: skip
    assert [list(v) for v in result.values] == [list(dhis2.FIELDS)] * 2
    assert result.units == {unit: dhis2.mapping().unit_by_uid[unit][0]}
    # Under importStrategy=DELETE a number is kept and a non-number names the value it deletes.
    deleting = dhis2.resolve([{**values[0], "value": "x"}, {**values[1], "value": " 12 "}], strategy="DELETE")
    assert [v["value"] for v in deleting.values] == ["", "12"]


def test_a_conflict_among_clean_values_is_named_with_its_position():
    element = dhis2_data.data_elements()[3].uid
    values = [a_value(dataElement=e.uid) for e in dhis2_data.data_elements()[:3]]
    values.append(a_value(dataElement=element, value="1.5"))
    result = dhis2.resolve(values)
    assert len(result.values) == 3
    assert [(c.object, c.value, c.index) for c in result.conflicts] == [
        ("1.5", "Value must be zero or a positive integer", 4)
    ]


def test_a_page_read_typed_gives_the_values_plain_json_gives():
    # DHIS2's rule, from its import documentation: a value takes the set's period, orgUnit and
    # attributeOptionCombo when it leaves them out; the API writes ``deleted`` only on a deleted
    # value and ``followup`` as a JSON boolean. The columns below are written by hand from that.
    page = {
        "dataSet": "pBOMPrpg1QX",
        "completeDate": "2025-07-05",
        "period": "2025S1",
        "orgUnit": "ouSET000001",
        "attributeOptionCombo": "HllvX50cXC0",
        "dataValues": [
            {
                "dataElement": "de000000001",
                "categoryOptionCombo": "HllvX50cXC0",
                "value": "12",
                "storedBy": "admin",
                "lastUpdated": "2025-06-20T08:15:00.000",
                "comment": None,
                "followup": False,
                "created": "2025-06-20T08:15:00.000",
            },
            {
                "dataElement": "de000000002",
                "period": "2025S1",
                "orgUnit": "ouOWN000002",
                "categoryOptionCombo": "HllvX50cXC0",
                "attributeOptionCombo": "HllvX50cXC0",
                "value": "",
                "storedBy": "xã Ngọc Đường",
                "lastUpdated": "2025-06-21T09:00:00.000",
                "comment": "Đã xoá",
                "followup": True,
                "created": "2025-06-01T07:00:00.000",
                "deleted": True,
            },
        ],
    }
    content = json.dumps(page, ensure_ascii=False).encode()
    typed = dhis2._decode_value_set(content)
    assert not isinstance(typed, dict)
    columns, count = dhis2._typed_columns([typed])
    assert count == 2
    assert columns == {
        "dataElement": ["de000000001", "de000000002"],
        "period": ["2025S1", "2025S1"],
        "orgUnit": ["ouSET000001", "ouOWN000002"],
        "categoryOptionCombo": ["HllvX50cXC0", "HllvX50cXC0"],
        "attributeOptionCombo": ["HllvX50cXC0", "HllvX50cXC0"],
        "value": ["12", ""],
        "storedBy": ["admin", "xã Ngọc Đường"],
        "lastUpdated": ["2025-06-20T08:15:00.000", "2025-06-21T09:00:00.000"],
        "comment": [None, "Đã xoá"],
        "followup": [False, True],
        "created": ["2025-06-20T08:15:00.000", "2025-06-01T07:00:00.000"],
        "deleted": [None, True],
    }
    assert dhis2._value_columns([json.loads(content)]) == (columns, 2)
    # A page of another shape (a field the contract lacks, a number as a value) is refused by the
    # typed reader; the HTTP session then reads it as plain JSON, so that the contract's checks
    # can name what differs.
    page["dataValues"][0]["extra"] = "x"
    with pytest.raises(ValueError, match="extra"):
        dhis2._decode_value_set(json.dumps(page).encode())
    del page["dataValues"][0]["extra"]
    page["dataValues"][0]["value"] = 12
    with pytest.raises(ValueError, match="Expected `str"):
        dhis2._decode_value_set(json.dumps(page).encode())
    # A required field left out with nothing to inherit: no columns, the row-wise path says why.
    del page["dataValues"][1]["period"], page["period"]
    page["dataValues"][0]["value"] = "12"
    assert dhis2._typed_columns([dhis2._decode_value_set(json.dumps(page).encode())]) == (None, 0)
    with pytest.raises(ValueError, match="malformed"):
        dhis2._decode_value_set(b"<html>502 Bad Gateway</html>")


def test_a_page_the_typed_reader_refuses_is_read_as_requests_reads_json():
    # What requests' Response.json() accepts stays accepted: a UTF-8 byte order mark (which
    # msgspec refuses) and JSON's NaN in a value (which the row-wise checks then name).
    from dxw.sources import http_session

    def response(body: bytes) -> requests.Response:
        answer = requests.Response()
        answer._content = body
        answer.status_code = 200
        return answer

    with_bom = response(b'\xef\xbb\xbf{"dataValues": []}')
    assert http_session._decoded(with_bom, dhis2._decode_value_set) == {"dataValues": []}
    nan = http_session._decoded(response(b'{"dataValues": [{"value": NaN}]}'), dhis2._decode_value_set)
    assert isinstance(nan, dict)
    assert nan["dataValues"][0]["value"] != nan["dataValues"][0]["value"]  # NaN
    typed = http_session._decoded(response(b'{"dataValues": []}'), dhis2._decode_value_set)
    assert not isinstance(typed, dict)
    assert typed.dataValues == []
    with pytest.raises(ValueError, match="Expecting value"):
        http_session._decoded(response(b"<html>502</html>"), dhis2._decode_value_set)


def _pages_of(values, shapes):
    """The simulator's values cut into pages, each written as DHIS2 may write it (``shapes``)."""
    pages, size = [], -(-len(values) // len(shapes))
    for number, shape in enumerate(shapes):
        chunk = [dict(v) for v in values[number * size : (number + 1) * size]]
        body: dict = {"dataSet": "pBOMPrpg1QX", "dataValues": chunk}
        if shape in ("inherits", "bom"):
            # DHIS2's rule: a value takes the set's period and org unit when it leaves them out.
            body.update(period=chunk[0]["period"], orgUnit=chunk[0]["orgUnit"])
            for value in chunk:
                if value["orgUnit"] == body["orgUnit"]:
                    del value["orgUnit"]
                del value["period"]
        if shape == "deleted":
            # A deleted value as the API writes it (includeDeleted): "deleted": true, an empty value.
            chunk[0].update(deleted=True, value="")
            chunk[1]["deleted"] = False
        content = json.dumps(body, ensure_ascii=False).encode()
        pages.append(b"\xef\xbb\xbf" + content if shape == "bom" else content)
    return pages


@pytest.mark.parametrize(
    "shapes",
    [("plain", "inherits", "deleted"), ("inherits", "bom", "deleted"), ("deleted",)],
    ids=["typed", "one-page-plain", "one-page"],
)
def test_pages_are_placed_as_the_row_wise_path_places_them(shapes):
    # Differential: the column-wise placement of the API's pages (typed, or plain JSON when a
    # page is refused by the typed reader: a byte order mark) must give the values the row-wise
    # path gives for the same pages (pinned by the hand-written tests above), in key order.
    from dxw.sources import contract, http_session
    from dxw.sources.contract import Document

    pages = _pages_of(dhis2_data.data_values(S1), shapes)
    answers = []
    for content in pages:
        answer = requests.Response()
        answer._content, answer.status_code = content, 200
        answers.append(http_session._decoded(answer, dhis2._decode_value_set))
    assert [isinstance(a, dict) for a in answers] == [s == "bom" for s in shapes]
    documents = [Document(f"page {n}", "application/json", c) for n, c in enumerate(pages, start=1)]
    placed = dhis2._placed_pages(answers, documents, S1)
    assert isinstance(placed.values, contract.ColumnRecords)

    reference = dhis2.resolve(
        [v for content in pages for v in dhis2.values_of(json.loads(content.decode("utf-8-sig")))], period=S1
    )
    assert reference.conflicts == []
    by_key = sorted(reference.values, key=lambda v: tuple(v[k] for k in dhis2.KEY))
    assert placed.values == by_key
    assert placed.units == reference.units
    assert len(by_key) == 26 * 4 + 2  # 2025S1, as tests/dxw/test_ingest_gate.py counts it by hand
    assert column(placed.values, "deleted").count("true") == (1 if "deleted" in shapes else 0)
