"""What requests accept, checked once for every RPC: text, timestamps, durations (see rules.py)."""

from bullseye_platform.inputs.walk import violations

__all__ = ["violations"]
