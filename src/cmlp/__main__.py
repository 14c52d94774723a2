"""``python -m cmlp`` and the ``cmlp`` console script: see :mod:`cmlp.cli`."""
import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
