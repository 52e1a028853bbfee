"""``python -m gpuvars`` runs the command line (see ``gpuvars.cli``)."""

from gpuvars.cli import main

raise SystemExit(main())
