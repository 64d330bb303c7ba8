"""`python -m durable_host start ...`"""

from durable_host.cli import main

raise SystemExit(main())
