"""optconform.reference — exact (mpmath) reference implementations of optimizers and schedules.

Imports no deep-learning framework.  Entry points:

* :func:`algorithms` / :func:`get` — the algorithms, their hyperparameters, axes and profiles;
* :func:`optconform.reference.scenarios.cases` — the scenarios an algorithm runs;
* :func:`optconform.reference.trajectory.run` — the exact trajectory of a case;
* :mod:`optconform.reference.vectors` — golden vectors: generate, check, load.
"""
__version__ = "0.1.0"

from .errors import UserError  # noqa: E402
from .model import algorithms, axes, get  # noqa: E402

__all__ = ["UserError", "algorithms", "axes", "get", "__version__"]
