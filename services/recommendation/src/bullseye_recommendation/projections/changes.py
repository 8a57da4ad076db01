"""How the projection tells serving processes that what they hold in memory changed.

Every serving process keeps the catalog and the popularity scores in memory
(serving/snapshot.py), and the rankings it made (serving/answers.py). The transaction that
changes the catalog or popularity notifies `recommendation_snapshot:<schema>` with 'items' or
'popularity'; one that changes persons names them: 'persons' and the ids, separated by the
unit separator, or 'persons' and '*' when they would not fit one notification (PostgreSQL
caps a payload under 8000 bytes). Notifications are delivered at commit, so a process that
reloads or forgets on one sees the change.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Literal

from bullseye_platform.store.pool import Connection

CHANNEL_PREFIX = "recommendation_snapshot:"  # + the schema
Changed = Literal["items", "popularity"]
PERSONS, EVERYONE, SEPARATOR = "persons", "*", "\x1f"  # no person id holds the separator
PAYLOAD_LIMIT = 7900


async def notify(conn: Connection, what: Changed) -> None:
    await conn.execute("SELECT pg_notify($1 || current_schema(), $2)", CHANNEL_PREFIX, what)


async def notify_persons(conn: Connection, persons: Collection[str]) -> None:
    payload = SEPARATOR.join([PERSONS, *sorted(persons)])
    if len(payload.encode()) > PAYLOAD_LIMIT:
        payload = SEPARATOR.join([PERSONS, EVERYONE])
    await conn.execute("SELECT pg_notify($1 || current_schema(), $2)", CHANNEL_PREFIX, payload)


def route(payload: str, *, snapshot: Callable[[str], None], persons: Callable[[list[str]], None]) -> None:
    """Hand a notification to whom it concerns: a snapshot keeper or a ranking cache."""
    kind, _, rest = payload.partition(SEPARATOR)
    if kind == PERSONS:
        persons(rest.split(SEPARATOR))
    else:
        snapshot(payload)
