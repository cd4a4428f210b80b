"""`dbt build` on a fresh database: seeds, models and every dbt test, then the roll-up figures."""

import pytest

from dxw import dbt
from dxw.ingest import ingest_portal
from dxw.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(simulator):
    from tests.conftest import URLS, reset_warehouse

    reset_warehouse()
    for period in ("2024S2", "2025S1"):
        for endpoint in ("dvc-progress-tree", "provide-online-tree"):
            ingest_portal(endpoint, period, simulator.url)
    assert dbt.run(["build"], URLS.warehouse, get_settings(), check=False) == 0


def test_every_unit_and_its_ancestors_has_a_row(built, conn):
    counts = conn.execute(
        "select period_id, indicator_code, count(*) from marts_build.mart_semiannual_indicator "
        "group by 1, 2 order by 1, 2"
    ).fetchall()
    # 226 portal agencies + the province they roll up into.
    assert counts == [
        ("2024S2", "PS_FULL_ONLINE", 227),
        ("2024S2", "PS_ON_TIME", 227),
        ("2025S1", "PS_FULL_ONLINE", 227),
        ("2025S1", "PS_ON_TIME", 227),
    ]


def test_province_is_the_ratio_of_sums_not_the_mean_of_ratios(built, conn):
    raw_num, raw_den, mean_of_ratios = conn.execute(
        """
        select sum(full_count), sum(online_service_total), avg(100.0 * full_count / online_service_total)
        from raw.portal_provide_online where period_id = '2025S1'
        """
    ).fetchone()
    num, den, value = conn.execute(
        "select numerator, denominator, value from marts_build.mart_semiannual_indicator "
        "where unit_code = '02' and indicator_code = 'PS_FULL_ONLINE' and period_id = '2025S1'"
    ).fetchone()
    assert (num, den) == (raw_num, raw_den)
    assert value == round(100 * raw_num / raw_den, 2)
    assert abs(value - round(mean_of_ratios, 2)) > 0.01, "test data cannot tell the two roll-ups apart"


def test_district_rolls_up_its_communes_and_itself(built, conn):
    expected = conn.execute(
        """
        select sum(total_on_time), sum(total_completed) from raw.portal_dvc_progress
        where period_id = '2025S1' and (department_code = 'H02.030' or department_code like 'H02.030.%')
        """
    ).fetchone()
    got = conn.execute(
        "select numerator, denominator, reporting_units from marts_build.mart_semiannual_indicator "
        "where unit_code = '030' and indicator_code = 'PS_ON_TIME' and period_id = '2025S1'"
    ).fetchone()
    assert got[:2] == expected
    assert got[2] == 1 + 24  # Vị Xuyên's People's Committee and its 24 communes


def test_targets_apply_by_level_and_change_is_against_previous_half(built, conn):
    rows = dict(
        conn.execute(
            "select period_id, value from marts_build.mart_semiannual_indicator "
            "where unit_code = '024' and indicator_code = 'PS_FULL_ONLINE'"
        ).fetchall()
    )
    target, met, change = conn.execute(
        "select target_value, target_met, change_since_previous from marts_build.mart_semiannual_indicator "
        "where unit_code = '024' and indicator_code = 'PS_FULL_ONLINE' and period_id = '2025S1'"
    ).fetchone()
    assert target == 100
    assert met is (rows["2025S1"] >= 100)
    assert change == rows["2025S1"] - rows["2024S2"]
    no_target = conn.execute(
        "select count(*) from marts_build.mart_semiannual_indicator "
        "where indicator_code = 'PS_ON_TIME' and (target_value is not null or target_met is not null)"
    ).fetchone()[0]
    assert no_target == 0


def test_descriptions_are_visible_in_postgres(built, conn):
    comment = conn.execute(
        "select obj_description('marts_build.mart_semiannual_indicator'::regclass, 'pg_class')"
    ).fetchone()[0]
    assert "One row per unit, indicator and half-year" in comment
