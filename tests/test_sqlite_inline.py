"""SQLite run in place: a write that finds the lock held waits without blocking the event loop,
and goes through once the lock is free."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from trunkline import sqlite_inline


def _database(tmp_path: Path) -> str:
    path = str(tmp_path / "inline.db")
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (n INTEGER)")
    return path


async def test_a_busy_write_waits_without_blocking_the_loop(tmp_path: Path) -> None:
    path = _database(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    connection = await sqlite_inline.connect(path, busy_seconds=30)
    cursor = connection.cursor()
    write = asyncio.create_task(cursor.execute("INSERT INTO t VALUES (1)"))
    others_ran = asyncio.Event()
    asyncio.get_running_loop().call_soon(others_ran.set)  # runs only if the write yields
    await others_ran.wait()
    assert not write.done()  # it waits for the lock, and the loop goes on meanwhile
    holder.execute("COMMIT")
    await asyncio.wait_for(write, timeout=30)
    await connection.commit()
    assert holder.execute("SELECT n FROM t").fetchall() == [(1,)]
    await connection.close()
    holder.close()


async def test_a_lock_held_past_the_wait_fails_as_sqlite_would(tmp_path: Path) -> None:
    path = _database(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    connection = await sqlite_inline.connect(path, busy_seconds=0.05)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await connection.cursor().execute("INSERT INTO t VALUES (1)")
    holder.execute("ROLLBACK")
    holder.close()
    await connection.close()


async def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    connection = await sqlite_inline.connect(_database(tmp_path))
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await connection.cursor().execute("SELECT * FROM missing")
    await connection.close()
