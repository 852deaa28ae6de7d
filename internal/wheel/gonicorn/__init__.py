"""gonicorn, a WSGI server in one static Go binary, installed by pip.

The wheel puts the binary in the environment's scripts directory (a virtualenv's bin/), as
the `gonicorn` command. This package only finds it, for `python -m gonicorn`.
"""

import os
import sysconfig

__all__ = ["find_gonicorn_bin"]


def _user_scheme():
    # sysconfig.get_preferred_scheme is new in Python 3.10.
    if hasattr(sysconfig, "get_preferred_scheme"):
        return sysconfig.get_preferred_scheme("user")
    return "posix_user" if os.name == "posix" else "nt_user"


def _script_dirs():
    """Where pip may have put the binary: beside this package's own install first, so that a
    package imported from a --target directory runs the binary installed with it."""
    site = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # 1. pip install --target DIR: the package in DIR/gonicorn, the binary in DIR/bin.
    yield os.path.join(site, "bin")
    # 2. A prefix P (a virtualenv, --prefix, --user's ~/.local): the package in
    # P/lib/pythonX.Y/site-packages/gonicorn, the binary in P/bin.
    version_dir = os.path.dirname(site)
    if os.path.basename(version_dir).startswith("python"):
        yield os.path.join(os.path.dirname(os.path.dirname(version_dir)), "bin")
    # 3. This interpreter's scripts directory, and the user scheme's (~/.local/bin).
    yield sysconfig.get_path("scripts")
    yield sysconfig.get_path("scripts", _user_scheme())


def find_gonicorn_bin():
    """Return the path of the gonicorn binary installed with this package."""
    tried = []
    for d in _script_dirs():
        path = os.path.join(d, "gonicorn")
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        tried.append(path)
    raise FileNotFoundError("the gonicorn binary is not installed; looked for " + ", ".join(tried))
