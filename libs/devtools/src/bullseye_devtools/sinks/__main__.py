"""`python -m bullseye_devtools.sinks --ready FILE --received FILE [--smtp-port N] [--http-port N]`:
the channel sinks as a process of their own (the local stack, the demo and benchmarks).

Once serving, it writes its ports to the ready file (JSON); every message it receives is
appended to the received file as one JSON line (channel, key, person, address, time, subject,
body), flushed as it comes, so another process can count and time deliveries. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from dataclasses import asdict
from pathlib import Path

import uvloop

from bullseye_devtools.sinks.sinks import ChannelSinks, Received


async def serve(ready: Path, received: Path, *, smtp_port: int, http_port: int) -> None:
    out = received.open("a", buffering=1)

    def write(message: Received) -> None:
        out.write(json.dumps(asdict(message)) + "\n")

    # Kept in the file, not in memory: a benchmark sends hundreds of thousands.
    sinks = await ChannelSinks(keep=False, on_receive=write).start(smtp_port=smtp_port, http_port=http_port)
    temporary = ready.with_suffix(".tmp")
    temporary.write_text(json.dumps({"smtp_port": sinks.smtp_port, "http_port": sinks.http_port}))
    temporary.rename(ready)  # appears whole
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sinks.stop()
        out.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bullseye-sinks", description=__doc__)
    parser.add_argument("--ready", type=Path, required=True, help="written with the ports once serving")
    parser.add_argument("--received", type=Path, required=True, help="JSON lines of every message received")
    parser.add_argument("--smtp-port", type=int, default=0, help="SMTP port (default 0: any free one)")
    parser.add_argument("--http-port", type=int, default=0, help="HTTP port (default 0: any free one)")
    args = parser.parse_args(argv)
    uvloop.run(serve(args.ready, args.received, smtp_port=args.smtp_port, http_port=args.http_port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
