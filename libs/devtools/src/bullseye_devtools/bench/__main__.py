from bullseye_devtools.bench.cli import main

raise SystemExit(main())
