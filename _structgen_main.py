"""The ``structgen`` command's entry point (see :mod:`structgen.cli`).

It lives outside the package so that it runs before the package is imported: a Ctrl-C
while structgen (numpy, then maybe torch) is still being imported, or while the
interpreter shuts down, gives one line and exit status 130 rather than a traceback.
"""

from __future__ import annotations

import signal
import sys


def main() -> int:
    try:
        from structgen.cli import main as run

        code = run()
    except KeyboardInterrupt:
        if "--debug" in sys.argv[1:]:
            raise
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("structgen: interrupted", file=sys.stderr)
        code = 130
    # from here on a Ctrl-C ends the process quietly, as an unhandled SIGINT does
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return code


if __name__ == "__main__":
    sys.exit(main())
