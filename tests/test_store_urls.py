"""Stores by URL: which backend a URL opens, store_exists, the backend registry, and the one-line
errors of a PostgreSQL store that cannot be reached or is not a store (password never shown)."""

from __future__ import annotations

import os
import socket

import pytest

from helpers.postgres import PASSWORD, execute
from hplists import Curve, HParams
from hplists.exceptions import DataError
from hplists.store import (
    CorruptStoreError,
    PostgresStore,
    SQLiteStore,
    TrialStore,
    open_store,
    register_backend,
    registry,
    store_exists,
)
from hplists.store.sqlite import sqlite_path

C = Curve([1], [0.1], [1.0], {"error_rate": [0.5]})


# ----- SQLite: paths and sqlite:/// URLs ----------------------------------------------------------


def test_a_plain_path_and_sqlite_urls_open_the_same_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stores").mkdir()
    a = open_store("stores/s.db")
    a.put("s", {"x": 1.0}, "w", 0, C)
    a.close()
    for url in ("sqlite:///stores/s.db", f"sqlite:///{tmp_path}/stores/s.db",
                f"sqlite+pysqlite:///{tmp_path}/stores/s.db", tmp_path / "stores" / "s.db"):
        s = open_store(url, create=False)
        assert isinstance(s, SQLiteStore) and s.count() == 1, url
        assert s.path.resolve() == (tmp_path / "stores" / "s.db").resolve()
        s.close()
    assert f"sqlite:///{tmp_path}".startswith("sqlite:////")  # absolute: four slashes
    assert sqlite_path("sqlite:///my%20s.db").name == "my s.db"


def test_store_exists_says_whether_the_file_is_there(tmp_path):
    path = tmp_path / "s.db"
    assert not store_exists(path) and not store_exists(f"sqlite:///{path}")
    open_store(path).close()
    assert store_exists(path) and store_exists(str(path)) and store_exists(f"sqlite:///{path}")
    assert not store_exists(tmp_path)  # a folder is no store


@pytest.mark.parametrize(("url", "match"), [
    ("mysql://me:pw@db/trials", r"unknown trial store URL scheme 'mysql' in "
                                r"'mysql://me:\*\*\*@db/trials'; the schemes are 'sqlite' .* and "
                                r"'postgresql' \(a PostgreSQL database; also 'postgres'\)"),
    ("postgresql+asyncpg://me@db/trials", r"names driver 'asyncpg'; the postgresql store uses "
                                          r"'postgresql\+psycopg'"),
    ("sqlite://", "in-memory SQLite database, which keeps nothing"),
    ("sqlite:///:memory:", "in-memory SQLite database"),
    ("sqlite://host/s.db", "names a host; an SQLite URL has none"),
    ("sqlite:///s.db?mode=ro", r"has parameters \('mode=ro'\)"),
])
def test_urls_that_name_no_store_are_clear_errors(url, match):
    with pytest.raises(ValueError, match=match) as err:
        open_store(url)
    assert ":pw@" not in str(err.value)  # a password in a URL is never shown


def test_another_backend_is_a_class_and_its_registration(tmp_path, monkeypatch):
    """A backend registered under a new scheme is opened by URL; its module loads on first use."""
    monkeypatch.setattr(registry, "_BACKENDS", dict(registry._BACKENDS))

    class Memo(SQLiteStore):  # a backend for the test: an SQLite file under a scheme of its own
        @classmethod
        def open_url(cls, url, **options):
            return cls(tmp_path / url.split("://", 1)[1], **options)

        @classmethod
        def url_exists(cls, url):
            return (tmp_path / url.split("://", 1)[1]).is_file()

    import types

    module = types.ModuleType("hplists_test_memo_backend")
    module.Memo = Memo
    monkeypatch.setitem(__import__("sys").modules, module.__name__, module)
    register_backend("memo", f"{module.__name__}:Memo", description="a test backend")
    assert not store_exists("memo://a.db")
    store = open_store("memo://a.db", heartbeat_timeout=5.0)
    assert isinstance(store, Memo) and store.heartbeat_timeout == 5.0
    assert store_exists("memo://a.db")
    with pytest.raises(ValueError, match=r"'memo' \(a test backend\)"):
        open_store("nope://x")
    with pytest.raises(ValueError, match="without '\\+'"):
        register_backend("a+b", "m:C", description="")


def test_a_backend_without_url_support_says_so():
    with pytest.raises(NotImplementedError, match="cannot be opened by URL"):
        TrialStore.open_url("x://y")


# ----- PostgreSQL ---------------------------------------------------------------------------------

pg = pytest.mark.postgres


@pg
def test_a_postgres_url_opens_a_postgres_store_whose_location_hides_the_password(postgres_url):
    assert PASSWORD in postgres_url
    assert not store_exists(postgres_url)
    with pytest.raises(ValueError, match=r"^no trial store at 'postgresql://postgres:\*\*\*@"):
        open_store(postgres_url, create=False)
    store = open_store(postgres_url.replace("postgresql://", "postgres://"))
    assert isinstance(store, PostgresStore) and store_exists(postgres_url)
    assert PASSWORD not in store.location() and PASSWORD not in repr(store)
    assert store.location().startswith("postgresql://postgres:***@127.0.0.1:")
    assert PASSWORD not in str(store.summary())
    store.put("s", HParams(1e-3, 0.9, 0.99), "w", 0, C)
    again = open_store(postgres_url.replace("postgresql://", "postgresql+psycopg://"),
                       create=False)
    assert again.count() == 1
    with pytest.raises(ValueError, match=r"trial store 'postgresql://postgres:\*\*\*@.*' has no "
                                         r"trials with study='t'"):
        again.require_trials(study="t")


@pg
def test_unreachable_servers_are_one_line_errors_naming_the_masked_url(postgres_server):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cases = [
        (f"postgresql://me:{PASSWORD}@127.0.0.1:{port}/db", "Connection refused"),
        (postgres_server.url("absent_db"), 'database "absent_db" does not exist; create it'),
        (postgres_server.url("postgres", password="wrong-" + PASSWORD),
         'password authentication failed for user "postgres"; check the user and password'),
    ]
    for url, what in cases:
        for call in (lambda u: open_store(u, timeout=5), store_exists):
            with pytest.raises(DataError) as err:
                call(url)
            text = str(err.value)
            assert text.startswith("cannot connect to trial store 'postgresql://") and what in text
            assert "\n" not in text and PASSWORD not in text and ":***@" in text


@pg
def test_a_database_that_is_not_a_store_is_left_alone(postgres_url):
    execute(postgres_url, "CREATE TABLE users (name TEXT)")
    assert not store_exists(postgres_url)
    with pytest.raises(DataError, match=r"PostgreSQL database but not an hplists trial store "
                                        r"\(it has 1 table\(s\) and no 'meta' table\)"):
        open_store(postgres_url)
    assert execute(postgres_url, "SELECT count(*) FROM information_schema.tables "
                                 "WHERE table_schema = current_schema()") == [(1,)]


@pg
def test_unknown_schema_versions_and_missing_tables_are_named_at_open(postgres_url):
    open_store(postgres_url).close()
    execute(postgres_url, "UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(DataError, match=r"has schema version '99'; hplists .* reads schema "
                                        r"version 1"):
        open_store(postgres_url)
    execute(postgres_url, "UPDATE meta SET value='1' WHERE key='schema_version'")
    execute(postgres_url, "ALTER TABLE trials DROP COLUMN attempts")
    with pytest.raises(CorruptStoreError, match=r"lacks column\(s\) \['attempts'\] of table "
                                                r"'trials'"):
        open_store(postgres_url)
    execute(postgres_url, "ALTER TABLE trials ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1")
    open_store(postgres_url).close()
    execute(postgres_url, "DROP TABLE events")
    with pytest.raises(CorruptStoreError, match="no table 'events'"):
        open_store(postgres_url)


@pg
def test_a_lost_connection_is_an_error_then_the_store_reconnects(postgres_url):
    store = open_store(postgres_url)
    store.put("s", {"x": 1.0}, "w", 0, C)
    execute(postgres_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'hplists' AND pid <> pg_backend_pid()")
    with pytest.raises(DataError) as err:
        store.count()
    assert str(err.value).startswith("lost the connection to trial store 'postgresql://")
    assert PASSWORD not in str(err.value)
    assert store.count() == 1  # reconnected


@pg
def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents(postgres_url):
    store = open_store(postgres_url)
    store.put("s", {"x": 1.0}, "w", 0, C)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write through the store, then exit without cleanup
        try:
            store.put("s", {"x": 2.0}, "w", 0, C)
            os.write(w, str(store.count()).encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    assert os.read(r, 100) == b"2"
    os.close(r)
    assert store.count() == 2  # the parent's connection still works
    assert {t.provenance["pid"] for t in store.trials()} == {os.getpid(), pid}


@pg
def test_check_finds_rows_that_refer_to_missing_trials(postgres_url):
    store = open_store(postgres_url)
    store.put("s", {"x": 1.0}, "w", 0, C)
    store.check()
    execute(postgres_url, "ALTER TABLE evals DROP CONSTRAINT evals_trial_id_fkey")
    execute(postgres_url, "INSERT INTO evals(trial_id, step) VALUES (999, 1)")
    with pytest.raises(CorruptStoreError, match=r"1 row\(s\) refer to a missing trial"):
        store.check()


@pg
def test_the_report_reads_a_postgres_store_and_names_it_without_its_password(postgres_url,
                                                                              tmp_path):
    from hplists.report import load_records

    store = open_store(postgres_url)
    store.put("s", {"x": 1.0}, "w", 0, C)
    open_store(tmp_path / "b.db").put("s", {"x": 1.0}, "w", 0, C)  # the same trial, once more
    records, sources, duplicates = load_records([postgres_url, tmp_path / "b.db"])
    assert len(records) == 1 and duplicates == 1
    assert sources[0]["path"] == store.location() and PASSWORD not in str(sources)
    assert sources[1]["path"] == str(tmp_path / "b.db")
    store.close()
    execute(postgres_url, "DROP TABLE events, eval_metrics, evals, trials, points, meta")
    with pytest.raises(DataError, match=r"^trial store 'postgresql://postgres:\*\*\*@[^']*' "
                                        "does not exist$"):  # a database without the tables
        load_records([postgres_url])
    with pytest.raises(DataError, match=r"cannot connect .*/nodb': database \"nodb\" does not"):
        load_records([postgres_url.rsplit("/", 1)[0] + "/nodb"])
