"""`python -m bullseye_devtools.stack up|down|status` — the local stack for development.

`up` leaves NATS, PostgreSQL, identity, profile, ingestion, recommendation and campaign (with
local channel sinks: SMTP on 2525, HTTP on 8025, what they receive in
<dir>/sinks/received.jsonl) running on fixed ports and writes an
env file with their addresses, an API key and the stack's secrets (generated on the first
`up`, kept by later ones so what was sealed stays readable), the operator's signing key
among them, so grpcurl, psql or a service under a debugger can join in; `down` stops them.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from bullseye_devtools.stack import background, secrets
from bullseye_devtools.stack.local import LocalStack, Ports, create_api_key
from bullseye_devtools.stack.services import wait_until_serving

DEFAULT_DIR = Path(".data/local")
GRPCURL = """grpcurl -plaintext -H "authorization: Bearer $BULLSEYE_API_KEY" -d '{{"event": {{"event_id": "hello-0001",
  "occurred_at": "'$(date -u +%Y-%m-%dT%H:%M:%SZ)'", "identifiers": {{"anonymous_id": "me"}},
  "page_viewed": {{"name": "home"}}}}}}' {address} bullseye.ingestion.v1.IngestionService/Track
and, as the operator (every scope; BULLSEYE_OPERATOR_KEY signs the token):
grpcurl -plaintext -H "authorization: Bearer $(.venv/bin/python -m bullseye_platform.auth token)" \\
  -d '{{}}' {profile} bullseye.profile.v1.ProfileService/ListSegments"""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"state folder (default {DEFAULT_DIR})")
    parser = argparse.ArgumentParser(prog="bullseye-stack", description="Run the Bullseye stack in the background")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser(
        "up",
        parents=[common],
        help="start NATS, PostgreSQL, identity, profile, ingestion, recommendation, campaign; write <dir>/env",
    )
    up.add_argument("--nats-port", type=int, default=4222, help="NATS client port (default 4222; 0: any free one)")
    up.add_argument(
        "--postgres-port", type=int, default=5433, help="PostgreSQL port (default 5433; 0: none, a Unix socket only)"
    )
    named = (("ingestion", 50051), ("identity", 50052), ("profile", 50053), ("recommendation", 50054),
             ("campaign", 50055), ("smtp", 2525), ("http", 8025))  # fmt: skip
    for name, port in named:
        up.add_argument(f"--{name}-port", type=int, default=port, help=f"{name} gRPC port (default {port}; 0: any)")
    sub.add_parser("down", parents=[common], help="stop what `up` started")
    sub.add_parser("status", parents=[common], help="show what runs")
    return parser


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def up(root: Path, ports: Ports) -> int:
    alive = [part.alive for part in background.parts(root)]
    if all(alive):
        print(f"already running from {root}; `make status` shows it")
        return 0
    if any(alive):
        print(f"partly running from {root}; `make down` first, then `make up`", file=sys.stderr)
        return 1
    flags = {
        "--nats-port": ports.nats,
        "--postgres-port": ports.postgres,
        "--ingestion-port": ports.ingestion,
        "--identity-port": ports.identity,
        "--profile-port": ports.profile,
        "--campaign-port": ports.campaign,
        "--smtp-port": ports.smtp,
        "--http-port": ports.http,
        "--recommendation-port": ports.recommendation,
    }
    for flag, port in flags.items():
        if port and _busy(port):
            print(f"port {port} is already in use; pick another with {flag}", file=sys.stderr)
            return 1
    kept = secrets.kept_or_new(background.read_env(root))
    stack = LocalStack(
        root, ports, secrets=kept, with_profile=True, with_campaign=True, with_recommendation=True
    ).start(on_step=lambda step: print(f"starting {step}"))
    try:
        key = create_api_key(stack.env, source="local-dev", rate=5000, burst=10000)
    except RuntimeError:
        stack.stop()
        raise
    background.write_pids(root, stack.pids())
    addresses = {
        "INGESTION_ADDRESS": stack.ingestion_address,
        "IDENTITY_ADDRESS": stack.identity_address,
        "PROFILE_ADDRESS": stack.profile_address,
        "CAMPAIGN_ADDRESS": stack.campaign_address,
        **stack.sinks_env(),
        "RECOMMENDATION_ADDRESS": stack.recommendation_address,
    }
    env = {**stack.env, **addresses, "BULLSEYE_API_KEY": key}
    path = background.write_env(root, env)
    print(f"\nBullseye is up; logs under {root}. Load the settings with:\n  set -a; . {path}; set +a")
    print(f"then, for example:\n{GRPCURL.format(address=stack.ingestion_address, profile=stack.profile_address)}")
    return 0


def down(root: Path) -> int:
    stopped = background.stop_all(root)
    print(f"stopped {stopped} process(es)" if stopped else f"nothing runs from {root}")
    return 0


def _health(address: str) -> str:
    try:
        wait_until_serving(address, timeout=2.0)
        return "SERVING"
    except TimeoutError:
        return "not serving"


def status(root: Path) -> int:
    env = background.read_env(root)
    where = {
        "nats": env.get("NATS_URL", ""),
        "postgres": env.get("DATABASE_URL", ""),
        "identity": env.get("IDENTITY_ADDRESS", ""),
        "profile": env.get("PROFILE_ADDRESS", ""),
        "campaign": env.get("CAMPAIGN_ADDRESS", ""),
        "sinks": env.get("SINKS_RECEIVED", ""),
        "ingestion": env.get("INGESTION_ADDRESS", ""),
        "recommendation": env.get("RECOMMENDATION_ADDRESS", ""),
    }
    for part in background.parts(root):
        state = f"running (pid {part.pid})" if part.alive else "stopped"
        if part.alive and part.name not in background.SERVERS:
            state += f", gRPC health {_health(where[part.name])}"
        print(f"{part.name:14} {state:40} {where[part.name] if part.alive else ''}")
    if env and any(part.alive for part in background.parts(root)):
        print(f"settings: {background.env_file(root)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root: Path = args.dir
    if args.command == "up":
        ports = Ports(
            nats=args.nats_port, postgres=args.postgres_port, ingestion=args.ingestion_port,
            identity=args.identity_port, profile=args.profile_port, campaign=args.campaign_port,
            smtp=args.smtp_port, http=args.http_port, recommendation=args.recommendation_port,
        )  # fmt: skip
        return up(root, ports)
    return down(root) if args.command == "down" else status(root)
