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
    """Where pip may have put the binary, most likely first."""
    # 1. This environment's scripts directory: a virtualenv's bin/, or the interpreter's.
    yield sysconfig.get_path("scripts")
    # 2. pip install --user: ~/.local/bin.
    yield sysconfig.get_path("scripts", _user_scheme())
    # 3. pip install --target DIR: the package in DIR/gonicorn, the binary in DIR/bin.
    site = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    yield os.path.join(site, "bin")
    # 4. pip install --prefix P: the package in P/lib/pythonX.Y/site-packages/gonicorn, the
    # binary in P/bin.
    version_dir = os.path.dirname(site)
    if os.path.basename(version_dir).startswith("python"):
        yield os.path.join(os.path.dirname(os.path.dirname(version_dir)), "bin")


def find_gonicorn_bin():
    """Return the path of the gonicorn binary installed with this package."""
    tried = []
    for d in _script_dirs():
        path = os.path.join(d, "gonicorn")
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        tried.append(path)
    raise FileNotFoundError("the gonicorn binary is not installed; looked for " + ", ".join(tried))
