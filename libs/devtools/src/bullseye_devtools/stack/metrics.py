"""Read a service's Prometheus endpoint: the figures a process counts about itself."""

from __future__ import annotations

import re
import urllib.request

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")


def scrape(url: str, *, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return str(reply.read().decode())


def total(text: str, name: str) -> float:
    """Sum of every sample of metric `name`, whatever its labels (0 when absent)."""
    found = 0.0
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match["name"] == name:
            found += float(match["value"])
    return found


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    """Samples of `name` summed per value of `label`, e.g. conflicts per rule."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match["name"] == name:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
            key = labels.get(label, "")
            found[key] = found.get(key, 0.0) + float(match["value"])
    return found
