"""Channel adapters behind one interface: a batch of rendered messages in, one handoff result each out."""

from bullseye_campaign.adapters.channels.base import Channels, Handoff, HandoffOutcome, Outgoing

__all__ = ["Channels", "Handoff", "HandoffOutcome", "Outgoing"]
