"""`python -m bullseye_platform.auth token|keypair`: an operator's token, or a new key pair.

`token` prints a bearer token signed with `BULLSEYE_OPERATOR_KEY` (as `BULLSEYE_OPERATOR`,
default `operator`), for grpcurl and scripts:

    grpcurl -plaintext -H "authorization: Bearer $(python -m bullseye_platform.auth token)" ...

`keypair` prints a new private key (for `<PREFIX>_SIGNING_KEY` or `BULLSEYE_OPERATOR_KEY`, a
Kubernetes Secret) and its public key (an entry of `BULLSEYE_TRUSTED_KEYS`).
"""

from __future__ import annotations

import argparse
import os
import sys

from bullseye_platform.auth.keys import SigningKey
from bullseye_platform.auth.operator import operator_credentials
from bullseye_platform.auth.tokens import LIFETIME, MAX_LIFETIME
from bullseye_platform.config import ConfigError, parse_duration


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bullseye_platform.auth", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print an operator token (BULLSEYE_OPERATOR_KEY signs it)")
    most = f"at most {MAX_LIFETIME:.0f}s"
    token.add_argument("--ttl", default=f"{LIFETIME:.0f}s", help=f"life of the token, e.g. 30m ({most})")
    pair = sub.add_parser("keypair", help="print a new private key and its BULLSEYE_TRUSTED_KEYS entry")
    pair.add_argument("--name", default="operator", help="the principal the key is for (default operator)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "keypair":
        key = SigningKey.generate()
        print(f"private: {key.encoded()}\ntrusted: {key.trusted_entry(args.name)}")
        return 0
    try:
        ttl = parse_duration(args.ttl)
    except ValueError:
        print(f"--ttl {args.ttl!r} is not a duration such as 300s, 30m or 1h", file=sys.stderr)
        return 2
    if not 0 < ttl <= MAX_LIFETIME:
        print(f"--ttl must be more than 0 and at most {MAX_LIFETIME:.0f}s (servers refuse longer)", file=sys.stderr)
        return 2
    try:
        print(operator_credentials(os.environ, lifetime=ttl).token())
    except ConfigError as exc:
        print(f"bullseye_platform.auth: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
