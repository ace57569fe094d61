"""Database engine and sessions: SQLite by default, PostgreSQL through `DATABASE_URL`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Executable, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline import (
    models,  # noqa: F401  (registers every table on SQLModel.metadata)
    sqlite_inline,
)

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}


def async_url(database_url: str) -> str:
    """Map a plain `sqlite://` or `postgresql://` URL onto the async driver we ship."""
    url = make_url(database_url)
    driver = _ASYNC_DRIVERS.get(url.get_backend_name())
    if driver is None:
        raise ValueError(f"unsupported DATABASE_URL backend: {url.get_backend_name()}")
    return url.set(drivername=driver).render_as_string(hide_password=False)


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine; SQLite runs in place (`sqlite_inline`), with WAL and a busy timeout so
    several processes can share it."""
    url = make_url(async_url(database_url))
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    connect = partial(sqlite_inline.connect, url.database or ":memory:", busy_seconds=30)
    engine = create_async_engine(url, async_creator=connect)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


async def run_core(
    session: AsyncSession, statement: Executable, parameters: dict[str, Any]
) -> CursorResult[Any]:
    """Run a prebuilt Core statement in the session's transaction, past the ORM's layers: what
    the hot paths (a statement per webhook or call event) use."""
    connection = await session.connection()
    return await connection.execute(statement, parameters)


def row_of(model: SQLModel) -> dict[str, Any]:
    """A table model's column values, for a Core INSERT of it."""
    return {column.name: getattr(model, column.name) for column in model.__table__.columns}


class Database:
    """One engine and its session factory, shared by a process."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        single_writer = self.engine.dialect.name == "sqlite"
        self._writers = asyncio.Semaphore(1 if single_writer else 16)

    async def create_tables(self) -> None:
        """Create every table that does not exist yet (migrations come later)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction the caller commits; rolled back on error."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def busy_session(self) -> AsyncIterator[AsyncSession]:
        """A session for work that many tasks of this process do at once (webhook lanes): they
        take turns, one at a time on SQLite, whose writers otherwise sleep waiting for its lock."""
        async with self._writers, self.session() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
