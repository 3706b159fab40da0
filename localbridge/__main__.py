"""``python -m localbridge``: see ``localbridge.cli.main``."""

import sys

from localbridge.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
