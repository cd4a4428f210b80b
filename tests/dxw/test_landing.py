"""The COPY loader: all or nothing, idempotent, every attempt recorded."""

import hashlib

import pytest

from dxw.landing import copy

pytestmark = pytest.mark.integration

DATASET = copy.Dataset("test_source", "test_counts", {"unitCode": str, "totalCount": int, "ratio": float})
RECORDS = [
    {"unitCode": "024", "totalCount": 10, "ratio": 0.5},
    {"unitCode": "026", "totalCount": 7, "ratio": 1.0},
]


def raw_rows(conn):
    return conn.execute(
        "select unit_code, total_count, ratio, period_id from raw.test_counts order by 1"
    ).fetchall()


def ledger(conn):
    return conn.execute("select status, row_count from raw.load_batch order by batch_id").fetchall()


def test_same_delivery_twice_lands_once(conn, empty_warehouse):
    first = copy.land(conn, DATASET, "2025S1", RECORDS)
    second = copy.land(conn, DATASET, "2025S1", list(RECORDS))
    assert (first.status, first.rows) == ("loaded", 2)
    assert (second.status, second.rows) == ("unchanged", 0)
    assert raw_rows(conn) == [("024", 10, 0.5, "2025S1"), ("026", 7, 1.0, "2025S1")]
    assert ledger(conn) == [("loaded", 2), ("unchanged", 0)]


def test_changed_delivery_lands_a_new_batch(conn, empty_warehouse):
    copy.land(conn, DATASET, "2025S1", RECORDS)
    corrected = [{**RECORDS[0], "totalCount": 11}, RECORDS[1]]
    result = copy.land(conn, DATASET, "2025S1", corrected)
    assert result.status == "loaded"
    assert conn.execute("select count(distinct batch_id), count(*) from raw.test_counts").fetchone() == (2, 4)


def test_failed_batch_leaves_no_rows_and_is_recorded(conn, empty_warehouse):
    copy.land(conn, DATASET, "2025S1", RECORDS)
    broken = [*RECORDS, {"unitCode": "027", "totalCount": "many", "ratio": 0.1}]
    with pytest.raises(copy.LoadError, match="2025S2"):
        copy.land(conn, DATASET, "2025S2", broken)
    assert conn.execute("select count(*) from raw.test_counts where period_id = '2025S2'").fetchone() == (0,)
    status, error = conn.execute(
        "select status, error from raw.load_batch where period_id = '2025S2'"
    ).fetchone()
    assert status == "failed"
    assert "many" in error


def test_source_documents_are_kept_verbatim_with_the_batch(conn, empty_warehouse):
    page = b'{"data": [{"unitCode": "024", "totalCount": 10, "ratio": 0.5}]}'
    result = copy.land(
        conn, DATASET, "2025S1", RECORDS[:1], documents=[copy.Document("page 1", "application/json", page)]
    )
    kept = conn.execute(
        "select name, media_type, byte_count, content from raw.source_document where batch_id = %s",
        (result.batch_id,),
    ).fetchall()
    assert kept == [("page 1", "application/json", len(page), page)]


def test_documents_keep_every_byte_and_their_digest(conn, empty_warehouse):
    # Every byte value 0..255 (NUL, COPY's text escapes, invalid UTF-8) and a name as a
    # Vietnamese office writes it: what is read back must be the bytes sent, and the stored
    # digest the SHA-256 of those bytes (the ``sha256sum`` of the file).
    tail = "Báo cáo 6 tháng\\.\r\n".encode()  # 19 characters; each of the 3 "á" is 2 bytes: 22
    content = bytes(range(256)) * 3 + tail
    name = "Báo cáo chuyển đổi số - Sở Nội vụ.csv"
    document = copy.Document(name, "text/csv", content)
    result = copy.land(conn, DATASET, "2025S1", RECORDS[:1], documents=[document])
    kept = conn.execute(
        "select document_no, name, byte_count, sha256, content from raw.source_document where batch_id = %s",
        (result.batch_id,),
    ).fetchall()
    assert kept == [(1, name, 768 + 22, hashlib.sha256(content).hexdigest(), content)]


def test_values_that_need_quoting_land_exactly(conn, empty_warehouse):
    awkward = [
        {"unitCode": 'Sở "Nội vụ", tầng 2\nphòng 3', "totalCount": 1, "ratio": 1e-05},
        {"unitCode": "\\.", "totalCount": -2, "ratio": 12.5},
        {"unitCode": None, "totalCount": None, "ratio": None},
    ]
    first = copy.land(conn, DATASET, "2025S1", awkward)
    again = copy.land(conn, DATASET, "2025S1", list(awkward))
    assert (first.rows, again.status) == (3, "unchanged")
    assert conn.execute(
        "select unit_code, total_count, ratio from raw.test_counts order by 2"
    ).fetchall() == [
        ("\\.", -2, 12.5),
        ('Sở "Nội vụ", tầng 2\nphòng 3', 1, 1e-05),
        (None, None, None),
    ]


def test_a_lone_carriage_return_lands_as_text(conn, empty_warehouse):
    # A comment typed with old Mac line ends ("\r" alone), one with "\r\n", and a plain row in
    # the same chunk: each lands as its own row with its text unchanged (COPY would otherwise
    # take the lone "\r" for the end of a line and find the row short of columns).
    awkward = [
        {"unitCode": "dòng 1\rdòng 2", "totalCount": 1, "ratio": 0.5},
        {"unitCode": "a\r\nb\r", "totalCount": 2, "ratio": None},
        {"unitCode": "024, trung tâm", "totalCount": 3, "ratio": 1.0},
    ]
    first = copy.land(conn, DATASET, "2025S1", awkward)
    again = copy.land(conn, DATASET, "2025S1", list(awkward))
    assert (first.status, first.rows, again.status) == ("loaded", 3, "unchanged")
    assert conn.execute(
        "select unit_code, total_count, ratio from raw.test_counts order by 2"
    ).fetchall() == [
        ("dòng 1\rdòng 2", 1, 0.5),
        ("a\r\nb\r", 2, None),
        ("024, trung tâm", 3, 1.0),
    ]


# Every control character, the CSV and COPY specials, and line ends of all three kinds.
AWKWARD_TEXTS = [
    *(chr(code) for code in range(0x01, 0x20)),
    "\x7f",
    "\\",
    '"',
    "'",
    ",",
    "\r\n",
    "\r",
    "\n",
    "\\.",
    "a\n\\.\nb",
    "\\N",
    "NULL",
    "None",
    " ",
    'x\r"y",\x07z\\',
]
TEXTS = copy.Dataset("test_source", "test_texts", {"rowNo": int, "text": str}, key=("rowNo",))
LINES = copy.Dataset("test_source", "test_lines", {"text": str})


def test_every_control_character_round_trips_through_land(conn, empty_warehouse):
    # Expected: what was sent, character for character. Each value lands twice, once in a batch
    # of its own (the fast path sees only that value) and once in one batch with all the others.
    alone = [copy.land(conn, TEXTS, f"P{n}", [{"rowNo": n, "text": t}]) for n, t in enumerate(AWKWARD_TEXTS)]
    together = copy.land(conn, TEXTS, "ALL", [{"rowNo": n, "text": t} for n, t in enumerate(AWKWARD_TEXTS)])
    assert [r.rows for r in alone] == [1] * len(AWKWARD_TEXTS)
    assert together.rows == len(AWKWARD_TEXTS)
    for batch_ids in ([r.batch_id for r in alone], [together.batch_id]):
        landed = conn.execute(
            "select text from raw.test_texts where batch_id = any(%s) order by row_no", (batch_ids,)
        ).fetchall()
        assert [text for (text,) in landed] == AWKWARD_TEXTS


def test_a_value_that_is_copys_end_marker_does_not_end_the_batch(conn, empty_warehouse):
    # "\." alone on a line ends COPY's data: unquoted, the rows after it were dropped silently.
    texts = ["avant", "\\.", "après"]
    result = copy.land(conn, LINES, "2025S1", [{"text": t} for t in texts])
    assert result.rows == 3
    assert [t for (t,) in conn.execute("select text from raw.test_lines order by ctid")] == texts


def test_nul_is_removed_from_text_with_a_warning_and_the_batch_lands(conn, empty_warehouse, caplog):
    # PostgreSQL text cannot hold U+0000: the value lands without it (the source's document keeps
    # it), and the log says how many went, rather than the whole batch failing on one comment.
    result = copy.land(conn, TEXTS, "2025S1", [{"rowNo": 1, "text": "a\x00b\x00"}, {"rowNo": 2, "text": "c"}])
    assert result.rows == 2
    assert conn.execute("select text from raw.test_texts order by row_no").fetchall() == [("ab",), ("c",)]
    assert "test_texts: 2 NUL character(s) removed" in caplog.text


def test_large_batches_stream_in_chunks_and_land_whole(conn, empty_warehouse):
    many = [
        {"unitCode": f"{i:05d}", "totalCount": i, "ratio": i / 7} for i in range(copy.CHUNK_ROWS * 2 + 17)
    ]
    result = copy.land(conn, DATASET, "2025S1", many)
    assert result.rows == len(many)
    assert conn.execute("select count(*), sum(total_count) from raw.test_counts").fetchone() == (
        len(many),
        sum(range(len(many))),
    )
    assert copy.land(conn, DATASET, "2025S1", list(many)).status == "unchanged"
    # The checksum follows delivery order (feeds sort by key first): reordered rows land again.
    assert copy.land(conn, DATASET, "2025S1", many[1:] + many[:1]).status == "loaded"


def test_old_raw_tables_with_a_payload_column_are_migrated(conn, empty_warehouse):
    copy.ensure_tables(conn, [])
    conn.execute(
        "create table raw.test_counts (batch_id bigint not null, record_no integer not null, "
        "period_id text not null, unit_code text, total_count bigint, ratio double precision, "
        "payload jsonb not null, primary key (batch_id, record_no))"
    )
    assert copy.land(conn, DATASET, "2025S1", RECORDS).rows == 2
    assert raw_rows(conn) == [("024", 10, 0.5, "2025S1"), ("026", 7, 1.0, "2025S1")]


def test_a_ledger_of_an_earlier_release_gets_its_scope_and_document_table(conn, empty_warehouse):
    copy.ensure_tables(conn, [])
    conn.execute("drop table raw.source_document")
    conn.execute("alter table raw.load_batch drop column scope")
    assert copy.land(conn, DATASET, "2025S1", RECORDS).rows == 2
    assert conn.execute("select scope from raw.load_batch").fetchall() == [("",)]
    assert conn.execute("select to_regclass('raw.source_document') is not null").fetchone() == (True,)


def test_a_ledger_without_submission_times_gets_the_column_and_records_the_time(conn, empty_warehouse):
    from datetime import UTC, datetime

    copy.ensure_tables(conn, [])
    conn.execute("alter table raw.load_batch drop column submitted_at")
    sent = datetime(2025, 6, 18, 9, 30, tzinfo=UTC)
    copy.land(conn, DATASET, "2025S1", RECORDS, scope="024", submitted_at=sent)
    copy.land(conn, DATASET, "2025S2", RECORDS)
    times = conn.execute("select period_id, submitted_at from raw.load_batch order by batch_id").fetchall()
    assert times == [
        ("2025S1", sent),
        ("2025S2", None),
    ]
