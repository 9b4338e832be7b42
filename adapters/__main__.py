"""``python -m optconform.adapters`` is the ``optconform`` command."""
import sys

from .cli import main

sys.exit(main())
