"""`python -m sr_desktop`, same as the `sr-desktop` command."""

from sr_desktop.cli.main import main

raise SystemExit(main())
