"""python -m gonicorn: run the gonicorn binary installed with this package, with the same
arguments. exec replaces this Python process, so signals (TERM, HUP...) reach gonicorn's master
directly. The binary picks the workers' interpreter itself (--python, $VIRTUAL_ENV, the python
beside the binary, python3 on PATH); in a virtualenv that is the virtualenv's python.
"""

import os
import sys

from gonicorn import find_gonicorn_bin


def main():
    path = find_gonicorn_bin()
    os.execv(path, [path] + sys.argv[1:])


if __name__ == "__main__":
    main()
