"""Entry point of the packaged app: the desktop window when started with no arguments (a double
click), otherwise the usual command line, e.g. ``Backstop serve`` to run headless."""

import sys

from backstop.cli import main

if __name__ == "__main__":
    main(args=sys.argv[1:] or ["desktop"], prog_name="backstop")
