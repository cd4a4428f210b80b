"""A landed batch becomes current only after its raw quality gate passes."""

import pytest

from dxw import quality
from dxw.ingest import ingest_portal

pytestmark = pytest.mark.integration


def current_batch(conn, dataset):
    return conn.execute(
        "select batch_id from raw.load_batch "
        "where dataset = %s and period_id = '2025S1' and status = 'loaded' order by batch_id desc limit 1",
        (dataset,),
    ).fetchone()


def test_impossible_figures_are_rejected_and_the_previous_batch_stays_current(
    conn, empty_warehouse, simulator
):
    simulator.clear_faults()
    good = ingest_portal("provide-online-tree", "2025S1", simulator.url)
    assert good.status == "loaded"

    simulator.inject("inflate:fullCount")  # first record: 10x its fully-online services
    with pytest.raises(quality.QualityGateFailed) as failed:
        ingest_portal("provide-online-tree", "2025S1", simulator.url)
    message = str(failed.value)
    assert "fully-online services <= services online" in message
    assert "department_code=" in message

    assert current_batch(conn, "portal_provide_online") == (good.batch_id,)
    status, error = conn.execute(
        "select status, error from raw.load_batch where dataset = 'portal_provide_online' "
        "order by batch_id desc limit 1"
    ).fetchone()
    assert status == "rejected"
    assert "fully-online services" in error
    # The rejected rows are kept for inspection, and the next clean delivery is unchanged.
    again = ingest_portal("provide-online-tree", "2025S1", simulator.url)
    assert again.status == "unchanged"
