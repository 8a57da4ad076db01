"""`python -m bullseye_devtools.demo`."""

from bullseye_devtools.demo.cli import main

raise SystemExit(main())
