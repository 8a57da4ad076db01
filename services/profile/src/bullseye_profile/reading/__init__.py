"""The read path: a profile folded from the person's journal, as of a time, and served fast.

- `queries.py` reads what a batch of persons' profiles are folded from (the *readings*), one
  set-based query per kind of fact;
- `fold.py` turns readings into a `Profile`: the *base* (what changes only with the journal or
  at a window edge) and its *finish* as of a time (clock-driven fields, RFM *standing*, tags);
- `load.py` folds profiles for segments, estimates and BatchGetProfiles;
- `bases.py` stores each person's base and serves GetProfile from it in one round trip;
- `cache.py` keeps bases in the process until PostgreSQL says they changed;
- `connections.py` holds GetProfile's own read connections.
"""
