"""Operators' corrections of the graph (Merge, Split) as commands recorded in EVENTS.

docs/design.md D1: the RPC checks the request, builds an `IdentityCorrection` whose command
id derives from the request (`commands`), asks ingestion to append it to EVENTS, and waits
for its outcome (`recorder`); the resolver applies it when it reaches it in EVENTS' one
order, under the graph lock, and writes the outcome in the same transaction (`apply`).
Nothing changes the graph but EVENTS, so a replay from empty reproduces every correction.
"""
