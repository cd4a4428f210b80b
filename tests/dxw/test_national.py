"""The national world of the simulator (bench/national.py), on a country small enough for a test."""

import csv
import dataclasses
import json

import pytest
import requests

from dxw.periods import parse
from dxw.settings import get_settings
from dxw.simulator import start_in_thread
from dxw.simulator.national import NationalWorld
from dxw.sources import dhis2

WORLD = NationalWorld(
    provinces=3,
    districts_per_province=2,
    communes_per_district=4,
    indicators=3,
    first_year=2024,
    last_year=2025,
)
PERIOD = parse("2025S1")


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds")
    source = get_settings().dbt_project_dir / "seeds"
    for name in ("indicators.csv", "award_rules.csv"):
        (folder / name).write_bytes((source / name).read_bytes())
    WORLD.write_seeds(folder)
    return folder


@pytest.fixture(scope="module")
def server():
    with start_in_thread(national=WORLD) as running:
        yield running


def test_the_country_has_the_shape_asked_for():
    levels = [unit.level for unit in WORLD.units]
    assert levels.count("province") == 3
    assert levels.count("district") == 6
    assert levels.count("commune") == 24
    assert len({unit.code for unit in WORLD.units}) == len(WORLD.units)
    assert len({unit.uid for unit in WORLD.units}) == len(WORLD.units)
    assert [p.id for p in WORLD.periods()] == ["2024S1", "2024S2", "2025S1", "2025S2"]
    assert NationalWorld().communes[-1].code == "10395"  # the default: about the communes before 2025


# The band of shares (numerator / denominator, in %) each half-year may draw from, worked out by
# hand from the rule in NationalWorld.figures' docstring and body: 35 % in the first half-year,
# 6 points more each half-year after it, 24 points of spread, capped at 100 %; denominators
# 20..499. WORLD starts in 2024; the default world in 2021 (its 2025S2 is the 10th half-year:
# 35 + 9 * 6 = 89, capped at 100).
SHARE_BANDS = {"2024S1": (35, 59), "2024S2": (41, 65), "2025S1": (47, 71), "2025S2": (53, 77)}
DEFAULT_BANDS = {"2021S1": (35, 59), "2023S1": (59, 83), "2025S2": (89, 100)}


def _within(world, period, band):
    low, high = band
    pairs = [world.figures(c, i, period) for c in range(len(world.communes)) for i in range(world.indicators)]
    for numerator, denominator in pairs:
        assert 20 <= denominator <= 499
        # numerator = denominator * share // 100 with low <= share <= high
        assert denominator * low // 100 <= numerator <= denominator * high // 100, (numerator, denominator)
    return pairs


def test_figures_are_deterministic_plausible_and_rise_towards_2025():
    for period_id, band in SHARE_BANDS.items():
        pairs = _within(WORLD, parse(period_id), band)
        # Deterministic: another world of the same shape, built anew, serves the same figures.
        again = dataclasses.replace(WORLD)
        assert pairs == [again.figures(c, i, parse(period_id)) for c in range(24) for i in range(3)]
        # Plausible, not constant: the 72 figures of a half-year spread over their band.
        shares = sorted(100 * n / d for n, d in pairs)
        assert shares[-1] - shares[0] > 15
        assert len({d for _, d in pairs}) > 36  # of 480 possible denominators: at least half distinct
    world = NationalWorld()  # the 63-province default, sampled: its bands rise to 100 % in 2025S2
    sample = dataclasses.replace(world)
    for period_id, (low, high) in DEFAULT_BANDS.items():
        period = parse(period_id)
        for commune in range(0, 10395, 997):
            for indicator in range(0, 40, 7):
                numerator, denominator = sample.figures(commune, indicator, period)
                assert denominator * low // 100 <= numerator <= denominator * high // 100

    def share(period):
        pairs = [world.figures(c, i, period) for c in range(0, 10395, 97) for i in range(40)]
        return sum(n for n, _ in pairs) / sum(d for _, d in pairs)

    first, last = world.periods()[0], world.periods()[-1]
    assert share(first) < share(last)


def test_the_seeds_describe_the_country(seeds):
    with (seeds / "units.csv").open(encoding="utf-8") as handle:
        units = list(csv.DictReader(handle))
    assert len(units) == len(WORLD.units)
    codes = {u["code"] for u in units}
    assert all(u["parent_code"] in codes for u in units if u["level"] != "province")
    with (seeds / "indicators.csv").open(encoding="utf-8") as handle:
        assert [row["indicator_code"] for row in csv.DictReader(handle)] == list(WORLD.indicator_codes)
    where = dhis2.mapping(seeds)
    assert len(where.elements_by_uid) == 2 * WORLD.indicators
    assert set(where.unit_by_uid) == {unit.uid for unit in WORLD.units}


def test_each_province_is_served_with_its_communes_and_the_whole_reconciles(server, seeds):
    values = []
    for province in WORLD.province_uids:
        answer = requests.get(
            f"{server.url}/api/dataValueSets.json",
            params={
                "dataSet": dhis2.data_set_uid(),
                "period": PERIOD.id,
                "orgUnit": province,
                "children": "true",
            },
            timeout=10,
        )
        answer.raise_for_status()
        values.extend(dhis2.values_of(answer.json()))
    assert len(values) == len(WORLD.communes) * WORLD.indicators * 2

    result = dhis2.resolve(values, period=PERIOD, where=dhis2.mapping(seeds))
    assert result.conflicts == []
    by_part = {"numerator": 0, "denominator": 0}
    parts = {element.uid: element.part for element in WORLD.data_elements}
    for value in result.values:
        by_part[parts[value["dataElement"]]] += int(value["value"])
    assert (len(result.values) // 2, by_part["numerator"], by_part["denominator"]) == WORLD.truth(PERIOD)


def test_the_csv_export_carries_the_same_values(server, seeds):
    province = WORLD.province_uids[1]
    query = {"dataSet": dhis2.data_set_uid(), "period": PERIOD.id, "orgUnit": province}
    as_json = requests.get(f"{server.url}/api/dataValueSets.json", params=query, timeout=10).json()
    as_csv = requests.get(f"{server.url}/api/dataValueSets.csv", params=query, timeout=10).content
    where = dhis2.mapping(seeds)
    from_csv = dhis2.resolve(dhis2.parse_document(as_csv, "csv"), where=where)
    from_json = dhis2.resolve(dhis2.values_of(as_json), where=where)
    assert from_csv.conflicts == from_json.conflicts == []
    # DHIS2's CSV export has no `created` column (CsvDataValueSetWriter.HEADER_ROW); the JSON has.
    assert from_csv.values == [{**value, "created": ""} for value in from_json.values]


def test_an_org_unit_that_is_not_a_province_is_refused(server):
    commune = WORLD.communes[0].uid
    answer = requests.get(
        f"{server.url}/api/dataValueSets.json",
        params={"dataSet": dhis2.data_set_uid(), "period": PERIOD.id, "orgUnit": commune},
        timeout=10,
    )
    assert answer.status_code == 409
    assert "orgUnit" in answer.json()["message"]


def test_the_connector_pulls_one_subtree_per_configured_org_unit(server, seeds, monkeypatch):
    national = dhis2.mapping(seeds)  # the connector places values through the country's seeds
    monkeypatch.setattr(dhis2, "mapping", lambda seeds_dir=None: national)
    settings = dataclasses.replace(get_settings(), reporting_org_units=WORLD.province_uids)
    delivery = dhis2.fetch(settings, server.url, PERIOD)
    assert len(delivery.documents) == len(WORLD.province_uids)
    assert len(delivery.records) == len(WORLD.communes) * WORLD.indicators * 2


def test_concurrent_pulls_deliver_what_one_at_a_time_delivers(server, seeds, monkeypatch):
    national = dhis2.mapping(seeds)
    monkeypatch.setattr(dhis2, "mapping", lambda seeds_dir=None: national)
    base = dataclasses.replace(get_settings(), reporting_org_units=WORLD.province_uids)
    one = dhis2.fetch(dataclasses.replace(base, dhis2_concurrency=1), server.url, PERIOD)
    three = dhis2.fetch(dataclasses.replace(base, dhis2_concurrency=3), server.url, PERIOD)
    assert three.records == one.records
    # In key order (the simulator answers commune by commune), as the loader lands a feed.
    keys = [tuple(r[k] for k in ("dataElement", "period", "orgUnit")) for r in three.records]
    assert keys == sorted(keys) != [(de, pe, ou) for de, pe, ou, *_ in WORLD.data_values(PERIOD)]
    assert [d.content for d in three.documents] == [d.content for d in one.documents]
    # The documents follow the configured org units, whichever answer came first.
    assert [WORLD.province_uids[i] in d.name for i, d in enumerate(three.documents)] == [True] * 3
    # And what was delivered is the simulator's truth, value for value (not the connector's view).
    truth = {(de, ou): value for de, _, ou, _, _, value, *_ in WORLD.data_values(PERIOD)}
    assert {(r["dataElement"], r["orgUnit"]): r["value"] for r in three.records} == truth
    assert len(three.records) == len(truth) == 3 * 2 * 4 * 3 * 2
    assert {r["period"] for r in three.records} == {"2025S1"}
    assert {r["categoryOptionCombo"] for r in three.records} == {dhis2.DEFAULT_COMBO}
    assert {r["followup"] for r in three.records} == {r["deleted"] for r in three.records} == {"false"}


def test_the_simulator_renders_an_answer_once_and_keeps_a_bounded_number(server):
    from dxw.simulator.server import _Answers

    rendered = []

    def render(key):
        rendered.append(key)
        return key.encode()

    answers = _Answers(size=2)
    for key in ["a", "b", "a", "c", "a", "b"]:
        assert answers.get((key, None, "json"), lambda key=key: render(key)) == key.encode()
    # "a" kept while used; "b" pushed out by "c" (the least recently asked for), so rendered again.
    assert rendered == ["a", "b", "c", "b"]
    # Through HTTP: the same answer twice is the same bytes.
    url = f"{server.url}{dhis2.PATH}"
    query = {"dataSet": dhis2.data_set_uid(), "period": "2025S1", "orgUnit": WORLD.province_uids[0]}
    first, second = (requests.get(url, params=query, timeout=30) for _ in range(2))
    assert first.content == second.content
    assert len(json.loads(first.content)["dataValues"]) == 2 * 4 * 3 * 2
