"""``python -m localbridge``: see ``localbridge.cli``."""

import sys

from localbridge.cli import main

if __name__ == "__main__":
    sys.exit(main())
