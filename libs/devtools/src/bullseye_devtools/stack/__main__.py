"""`python -m bullseye_devtools.stack up|down|status`."""

from bullseye_devtools.stack.cli import main

raise SystemExit(main())
