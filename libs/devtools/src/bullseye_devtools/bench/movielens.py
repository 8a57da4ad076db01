"""MovieLens-1M's NCF split (../shared/data/ml-1m-ncf) as what the recommendation service reads.

The train pairs become RESOLVED records, one product view per (user, movie) in each user's
order, a minute apart (identity would write the same records; replaying a million events
through ingestion and identity would take minutes and measure nothing new); the movies
become CATALOG items (title, first genre as category, genres as tags). The test item and the
99 original negatives of each user, de-duplicated (156 users' negatives contain their own
test item), are the candidates a Recommend call ranks. Read in place, never copied: the
licence forbids redistribution.
"""

from __future__ import annotations

import csv
import gzip
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bullseye.catalog.v1 import catalog_pb2 as cat
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import resolved_pb2 as rs
from bullseye_platform.eventlog import LogMessage, partition_of, subject_for

DATA = Path(__file__).resolve().parents[6] / "shared" / "data" / "ml-1m-ncf"
START = datetime(2026, 1, 1, tzinfo=UTC)
PARTITIONS = 16  # RESOLVED's and CATALOG's defaults, the service's too


def person(user: int) -> str:
    return f"u{user}"


def item(number: int) -> str:
    return f"m{number}"


@dataclass(frozen=True)
class Case:
    user: int
    target: int
    candidates: tuple[int, ...]  # unique(negatives) and the target, sorted


@dataclass(frozen=True)
class MovieLens:
    histories: dict[int, list[int]]  # user -> items in the user's order
    cases: list[Case]
    movies: dict[int, tuple[str, tuple[str, ...]]]  # ncf item -> (title, genres)

    @property
    def interactions(self) -> int:
        return sum(len(items) for items in self.histories.values())


def available(folder: Path = DATA) -> bool:
    return (folder / "ml-1m.test.rating").is_file()


def read(folder: Path = DATA) -> MovieLens:
    histories: dict[int, list[tuple[int, int]]] = {}
    with gzip.open(folder / "ml-1m.train.pairs.reconstructed.tsv.gz", "rt") as handle:
        for row in list(csv.reader(handle, delimiter="\t"))[1:]:
            histories.setdefault(int(row[0]), []).append((int(row[2]), int(row[1])))
    targets = {int(r[0]): int(r[1]) for r in csv.reader((folder / "ml-1m.test.rating").open(), delimiter="\t")}
    cases = []
    with gzip.open(folder / "ml-1m.test.negative.gz", "rt") as handle:
        for line in handle:
            head, *negatives = line.rstrip("\n").split("\t")
            user = int(head.strip("()").split(",")[0])
            pool = {int(n) for n in negatives if n} | {targets[user]}
            cases.append(Case(user, targets[user], tuple(sorted(pool))))
    ordered = {user: [i for _, i in sorted(steps)] for user, steps in histories.items()}
    return MovieLens(ordered, cases, _movies(folder))


def generated(*, users: int = 300, items: int = 80, seed: int = 5) -> MovieLens:
    """A tiny MovieLens-shaped set for `--quick`: each user mostly steps to the next movie."""
    rng = random.Random(seed)
    histories: dict[int, list[int]] = {}
    for user in range(users):
        at, walk = rng.randrange(items), []
        for _ in range(rng.randrange(6, 16)):
            walk.append(at)
            at = (at + 1) % items if rng.random() < 0.8 else rng.randrange(items)
        histories[user] = list(dict.fromkeys(walk))
    cases = []
    for user, walk in histories.items():
        target = (walk[-1] + 1) % items
        unseen = sorted(set(range(items)) - set(walk) - {target})
        cases.append(Case(user, target, tuple(sorted({target, *rng.sample(unseen, min(20, len(unseen)))}))))
    movies: dict[int, tuple[str, tuple[str, ...]]] = {n: (f"movie {n}", (f"genre {n % 5}",)) for n in range(items)}
    return MovieLens(histories, cases, movies)


def _movies(folder: Path) -> dict[int, tuple[str, tuple[str, ...]]]:
    titles: dict[int, tuple[str, tuple[str, ...]]] = {}
    for line in (folder / "ml-1m.movies.dat").read_text(encoding="iso-8859-1").splitlines():
        movie, title, genres = line.split("::")
        titles[int(movie)] = (title, tuple(genres.split("|")))
    found = {}
    for row in list(csv.reader((folder / "ml-1m.item-map.reconstructed.tsv").open(), delimiter="\t"))[1:]:
        found[int(row[0])] = titles.get(int(row[1]), (f"movie {row[1]}", ()))
    return found


def catalog_messages(data: MovieLens, *, prefix: str = "catalog") -> list[LogMessage]:
    """One upsert per movie, published and in stock."""
    when = START - timedelta(days=1)
    out = []
    for number, (title, genres) in sorted(data.movies.items()):
        change = cat.CatalogItem(item_id=item(number), title=title, category_path=genres[:1], tags=genres,
                                 in_stock=True, published=True)  # fmt: skip
        change.updated_at.FromDatetime(when)
        record = cat.CatalogRecord(change=cat.CatalogChange(upsert=change), source="movielens")
        subject = subject_for(prefix, partition_of(item(number), PARTITIONS), "upserted")
        out.append(LogMessage(subject=subject, payload=record.SerializeToString(), msg_id=f"upsert:{item(number)}"))
    return out


def resolved_messages(data: MovieLens, *, prefix: str = "resolved") -> Iterator[LogMessage]:
    """Every train pair as a resolved product view, user by user, in each user's order."""
    sequence = 0
    for user, items in sorted(data.histories.items()):
        who = person(user)
        subject = subject_for(prefix, partition_of(who, PARTITIONS), "product_viewed")
        for step, number in enumerate(items):
            sequence += 1
            event = ev.Event(event_id=f"ml-{user}-{step}", identifiers=ev.Identifiers(anonymous_id=who),
                             product_viewed=ev.ProductViewed(product_id=item(number)))  # fmt: skip
            event.occurred_at.FromDatetime(START + timedelta(minutes=step))
            record = rs.ResolvedRecord(event=rs.ResolvedEvent(person_id=who, event=event, events_sequence=sequence))
            yield LogMessage(subject=subject, payload=record.SerializeToString(), msg_id=event.event_id)
