"""How the projection tells serving processes that what they hold in memory changed.

Every serving process keeps the catalog and the popularity scores in memory
(serving/snapshot.py). The transaction that changes either notifies
`recommendation_snapshot:<schema>` with what changed ('items' or 'popularity'); the
notification is delivered at commit, so a process that reloads on it reads the change.
"""

from __future__ import annotations

from typing import Literal

from bullseye_platform.store.pool import Connection

CHANNEL_PREFIX = "recommendation_snapshot:"  # + the schema
Changed = Literal["items", "popularity"]


async def notify(conn: Connection, what: Changed) -> None:
    await conn.execute("SELECT pg_notify($1 || current_schema(), $2)", CHANNEL_PREFIX, what)
