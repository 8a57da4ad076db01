"""`python -m bullseye_ingestion keys create|list|revoke` — API keys for the sources that send events."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bullseye_platform.inputs.rules import DEFAULT_RULE

from bullseye_ingestion.adapters.database import open_store
from bullseye_ingestion.adapters.key_store import KeyStore
from bullseye_ingestion.config import IngestionConfig
from bullseye_ingestion.domain.keys import Scope, Trust


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bullseye-ingestion keys", description="Manage ingestion API keys")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key; it is printed once")
    create.add_argument("--source", required=True, help="who sends with it, e.g. web-shop, ios-app, pos")
    create.add_argument("--backfill", action="store_true", help="also allow loading history (backfill=true)")
    create.add_argument(
        "--catalog", action="store_true", help="a catalog feed's key: PublishCatalog only, no shopper events"
    )
    create.add_argument(
        "--trust",
        choices=[t.value for t in Trust],
        default=Trust.UNVERIFIED.value,
        help="verified: the source checked the emails and phones it sends (a confirmation link, a one-time "
        "code, a clerk), so an address it gives can take it from someone else; default unverified "
        "(a key inside an app or a web page is anyone's)",
    )
    create.add_argument("--rate", type=float, default=1000.0, help="events per second (default 1000)")
    create.add_argument("--burst", type=float, default=2000.0, help="bucket size in events (default 2000)")
    sub.add_parser("list", help="list keys (never their secrets)")
    revoke = sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    return parser


def _scopes(args: argparse.Namespace) -> set[Scope]:
    if args.catalog:
        return {Scope.CATALOG}
    return {Scope.WRITE, Scope.BACKFILL} if args.backfill else {Scope.WRITE}


async def _run(args: argparse.Namespace, config: IngestionConfig) -> int:
    pool = await open_store(config)
    store = KeyStore(pool)
    try:
        if args.command == "create":
            trust = Trust(args.trust)
            key_id, full = await store.create(
                source=args.source, scopes=_scopes(args), rate=args.rate, burst=args.burst, trust=trust
            )
            print(full)
            print(
                f"created {trust.value} key {key_id} for {args.source}; store it now, it is not shown again",
                file=sys.stderr,
            )
        elif args.command == "list":
            for row in await store.list():
                state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
                print(
                    f"{row.key_id}  {row.source:20} {','.join(row.scopes):16} {row.trust:10} {row.rate:>8g}/s  {state}"
                )
        elif not await store.revoke(args.key_id):
            print(f"no active key {args.key_id}", file=sys.stderr)
            return 1
        return 0
    finally:
        await pool.close()


def _source_problem(source: str) -> str | None:
    """The source is stamped on every event the key sends (`receipt.source`), which must pass
    the input rules like the rest of the event."""
    if not source.strip():
        return "must not be blank"
    return DEFAULT_RULE.problem(source)


async def keys(config: IngestionConfig, arguments: Sequence[str]) -> int:
    """The `keys` command of the ingestion service (bullseye_platform.service.run_service)."""
    parser = _parser()
    args = parser.parse_args(arguments)
    if args.command == "create" and (args.rate <= 0 or args.burst < 1):
        parser.error("--rate must be > 0 and --burst >= 1")
    if args.command == "create" and args.catalog and args.backfill:
        parser.error("--catalog keys send catalog changes only; --backfill is for shopper events")
    if args.command == "create" and (problem := _source_problem(args.source)):
        parser.error(f"--source {problem}")
    return await _run(args, config)
