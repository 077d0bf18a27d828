from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reco_app.importing import import_events
from reco_app.importing.csvfile import micros_now
from reco_app.importing.events import COLUMNS, EVENT_NAMESPACE, event_uuid, parse_row
from reco_app.importing.writers import BatchWriter, InsertIgnoreWriter
from reco_app.models import Event
from reco_app.models.events import ConsentBasis
from tests.foundation.helpers import write_csv

COLUMNS_AT = {name: i for i, name in enumerate(COLUMNS)}

GOOD = """
user_id,product_id,event_type,timestamp,value
C-1001,SKU-1,product_view,2024-03-01T10:00:00,
C-1001,SKU-1,purchase,1709287200,2
c-1001,SKU-2,rating,2024-03-01T12:00:00+02:00,4.5
C-1002,,search,2024-03-02T09:30:00Z,
"""

BAD = """
user_id,product_id,event_type,timestamp,value
C-1,SKU-1,purchase,2024-03-01T10:00:00,1
C-1,SKU-1,teleport,2024-03-01T10:00:00,
,SKU-1,product_view,2024-03-01T10:00:00,
C-1,,purchase,2024-03-01T10:00:00,
C-1,SKU-1,product_view,last tuesday,
C-1,SKU-1,purchase,2024-03-01T10:00:00,two
C-1,SKU-1,rating,2024-03-01T10:00:00,9
C-1,SKU-1,rating,2024-03-01T10:00:00,
C-1,SKU-1,purchase,2024-03-01T10:00:00,-1
anon:v1,SKU-1,product_view,2024-03-01T10:00:00,
C-1,SKU-1,product_view,1709287200000,
C-1,SKU-1,product_view,2999-01-01T00:00:00,
C-1,SKU-1
"C-2
multi",SKU-1,product_view,2024-03-01T10:00:00,
C-2,SKU-2,product_view,2024-03-01T11:00:00,nan
C-2,SKU-2,add_to_cart,2024-03-01T11:00:00,1
"""


@pytest.mark.django_db
def test_good_rows_are_stored_as_given(tmp_path: Path) -> None:
    result = import_events(write_csv(tmp_path / "e.csv", GOOD))
    assert (result.read, result.stored, result.duplicates, result.bad) == (4, 4, 0, 0)
    events = {(e.subject, e.event_type): e for e in Event.objects.all()}
    assert set(events) == {("C-1001", "product_view"), ("C-1001", "purchase"), ("c-1001", "rating"), ("C-1002", "search")}
    assert all(e.consent == ConsentBasis.IMPORTED and e.source == "import" for e in events.values())
    assert Event.objects.consented().count() == 4  # imported history counts for personalisation
    # naive = UTC; Unix seconds; offsets converted
    assert events["C-1001", "product_view"].timestamp == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert events["C-1001", "purchase"].timestamp == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert events["C-1001", "purchase"].value == 2
    assert events["c-1001", "rating"].timestamp == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert events["C-1002", "search"].product_key == ""


@pytest.mark.django_db
def test_re_running_adds_nothing_and_the_same_instant_in_another_format_is_a_duplicate(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", GOOD)
    import_events(path)
    again = import_events(path)
    assert (again.read, again.stored, again.duplicates) == (4, 0, 4)
    same = write_csv(tmp_path / "same.csv", "user_id,product_id,event_type,timestamp,value\nC-1001,SKU-1,product_view,1709287200,\n")
    assert import_events(same).stored == 0
    assert Event.objects.count() == 4


@pytest.mark.django_db
def test_bad_rows_are_skipped_and_reported_with_line_numbers(tmp_path: Path) -> None:
    result = import_events(write_csv(tmp_path / "bad.csv", BAD), batch_size=2)
    lines = {i.line: i.reason for i in result.issues}
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17]
    assert "unknown event_type 'teleport'" in lines[3]
    assert "user_id is empty" in lines[4]
    assert "product_id is empty" in lines[5]
    assert "neither ISO 8601 nor Unix seconds" in lines[6]
    assert "not a number" in lines[7]
    assert "outside 0..5" in lines[8] and "needs a value" in lines[9]
    assert "negative" in lines[10] and "anon:" in lines[11]
    assert "milliseconds" in lines[12] and "future" in lines[13]
    assert "columns" in lines[14] and "finite" in lines[17]
    assert "control characters" in lines[15]  # a row spanning lines 15-16 is reported where it starts
    assert (result.read, result.bad, result.stored) == (16, 14, 2)
    assert sorted(Event.objects.values_list("subject", "event_type")) == [("C-1", "purchase"), ("C-2", "add_to_cart")]


@pytest.mark.django_db
def test_undecodable_bytes_reject_only_their_row(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "\ufeffuser_id,product_id,event_type,timestamp,value\n".encode()
        + b"Jos\xe9,SKU-1,product_view,2024-03-01,\n"
        + "Jos\u00e9,SKU-1,product_view,2024-03-01,\n".encode()
    )
    result = import_events(path)
    assert [(i.line, i.reason) for i in result.issues] == [(2, "not valid UTF-8")]
    assert list(Event.objects.values_list("subject", flat=True)) == ["Jos\u00e9"]


def test_event_ids_are_uuid5_of_the_normalised_row() -> None:
    assert event_uuid("C-1\x1fSKU-1") == uuid.uuid5(EVENT_NAMESPACE, "C-1\x1fSKU-1").hex


@pytest.mark.django_db
def test_command_prints_progress_summary_and_writes_every_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    errors = tmp_path / "errors.csv"
    call_command("reco_import_events", str(write_csv(tmp_path / "bad.csv", BAD)), "--errors-file", str(errors), "--show-errors", "2")
    out = capsys.readouterr().out
    assert "rows/s" in out
    assert "line 3: unknown event_type 'teleport'" in out and "line 5:" not in out
    assert f"... and 12 more bad rows (all are in {errors})" in out
    assert "Read 16 rows" in out and "2 events stored, 0 duplicates skipped, 14 bad rows skipped." in out
    assert errors.read_text().count("\n") == 1 + 14


@pytest.mark.django_db
def test_command_refuses_a_file_without_the_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", "customer,sku,type\nC-1,SKU-1,purchase\n")
    with pytest.raises(CommandError, match="missing column.*user_id.*nothing was imported"):
        call_command("reco_import_events", str(path))
    with pytest.raises(CommandError, match="cannot open"):
        call_command("reco_import_events", str(tmp_path / "missing.csv"))
    assert not Event.objects.exists()


def _on_postgresql(method: str) -> str:
    """The import method expected on PostgreSQL: COPY from Python needs psycopg 3; with
    psycopg2 (CI's RECO_TESTS_DRIVER=psycopg2 run) the portable ORM path, one connection."""
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return method if is_psycopg3 else "orm"


@pytest.mark.services
def test_postgresql_copy_path(postgres_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(tmp_path / "e.csv", GOOD + BAD.split("\n", 2)[2])
    first = import_events(path, batch_size=3)
    assert first.method == _on_postgresql("postgresql-copy")
    assert (first.stored, first.bad) == (6, 14)
    again = import_events(path, batch_size=3)
    assert (again.stored, again.duplicates) == (0, 6)
    e = Event.objects.get(subject="C-1001", event_type="purchase")
    assert (e.value, e.timestamp, e.consent, e.source, e.context) == (2, dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC), "imported", "import", {})
    assert Event.objects.filter(subject="c-1001", event_type="rating", value=4.5).exists()


@pytest.mark.services
def test_postgresql_parallel_connections_store_every_batch_once(postgres_transactional_db, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rows = "".join(f"C-{i % 7},SKU-{i % 5},product_view,{1709287200 + i}," + "\n" for i in range(40))
    repeated = "".join(rows.splitlines(keepends=True)[:10])
    path = write_csv(tmp_path / "e.csv", "user_id,product_id,event_type,timestamp,value\n" + rows + repeated + "C-9,SKU-1,purchase,1709287200\n")
    call_command("reco_import_events", str(path), "--batch-size", "3", "--workers", "3")
    out = capsys.readouterr().out
    assert f"{_on_postgresql('postgresql-copy-parallel')}):" in out
    assert "41 events stored, 10 duplicates skipped, 0 bad rows" in out  # the last row has no value cell
    assert Event.objects.count() == 41
    again = import_events(path, batch_size=7, workers=2)
    assert (again.method, again.stored, again.read) == (_on_postgresql("postgresql-copy-parallel"), 0, again.duplicates)


@pytest.mark.services
def test_a_database_failure_half_way_says_what_was_stored(postgres_db, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    with connection.cursor() as cur:  # rolled back with the test's transaction
        cur.execute("ALTER TABLE reco_app_event ADD CONSTRAINT test_refuse_boom CHECK (product_key <> 'BOOM')")
    rows = "".join(f"C-1,SKU-{i},product_view,{1709287200 + i},\n" for i in range(4))
    path = write_csv(tmp_path / "e.csv", "user_id,product_id,event_type,timestamp,value\n" + rows + "C-1,BOOM,product_view,1709287200,\n" + rows)
    with pytest.raises(CommandError, match=r"(?s)4 events were stored before it.*database error.*test_refuse_boom"):
        call_command("reco_import_events", str(path), "--batch-size", "2")
    assert "4 events stored" in capsys.readouterr().out  # the summary is printed too
    assert Event.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize("writer_class", [BatchWriter, InsertIgnoreWriter])
def test_generic_writers_store_new_rows_once(writer_class: type[BatchWriter]) -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        pytest.skip("the generic writers serve SQLite, MySQL and psycopg2")
    rows = [parse_row(["C-1", f"SKU-{i}", "purchase", f"{1709287200 + i}", "2"], COLUMNS_AT, micros_now()) for i in range(3)]
    with writer_class(connection) as writer:
        assert writer.write(rows + rows[:1]) == 3
        assert writer.write(rows) == 0
    e = Event.objects.get(product_key="SKU-1")
    assert (e.event_id.hex, e.context, e.value, e.consent, e.source) == (rows[1].event_id, {}, 2.0, "imported", "import")
    assert e.timestamp == dt.datetime(2024, 3, 1, 10, 0, 1, tzinfo=dt.UTC)
