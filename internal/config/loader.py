"""Evaluate a gunicorn.conf.py-style file for gonicorn's master and print its globals as JSON.

usage: python -c "$(cat loader.py)" FILE

The file runs as gunicorn runs it: as a module of its own, with __file__ set and its
directory first on sys.path. What it prints goes to stderr, so that stdout carries only the
JSON: {"NAME": {"kind": K, "repr": R, "value": V, "type": T}, ...} for every global not
starting with "__". K is one of str, int, float, bool, none, strlist (a list or tuple of
str), callable (V is its name; "arity" its positional parameters, -1 if
unknown), other (T names its type). On an exception the traceback goes
to stderr and the exit status is 1. Only the standard library is used.
"""
import importlib.util
import inspect
import json
import math
import os
import sys
import traceback


def arity(f):
    """gunicorn's util.get_arity: the positional parameters; -1 if unknown."""
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return -1
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def describe(value):
    r = repr(value)
    if len(r) > 200:
        r = r[:197] + "..."
    d = {"repr": r, "type": type(value).__name__}
    if isinstance(value, bool):
        d.update(kind="bool", value=value)
    elif isinstance(value, int):
        d.update(kind="int", value=str(int(value)))  # exact in any size; an IntEnum (ssl.CERT_REQUIRED) as its number
    elif isinstance(value, float) and math.isfinite(value):
        d.update(kind="float", value=value)
    elif isinstance(value, str):
        d.update(kind="str", value=value)
    elif value is None:
        d.update(kind="none")
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        d.update(kind="strlist", value=list(value))
    elif callable(value):
        d.update(kind="callable", value=getattr(value, "__qualname__", r), arity=arity(value))
    else:
        d.update(kind="other")
    return d


def main():
    path = os.path.abspath(sys.argv[1])
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        if not os.path.isfile(path):
            raise FileNotFoundError("no such file: %s" % path)
        sys.path.insert(0, os.path.dirname(path))
        # gunicorn loads the file under the module name "__config__".
        spec = importlib.util.spec_from_file_location("__config__", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["__config__"] = mod
        spec.loader.exec_module(mod)
        globs = {k: describe(v) for k, v in vars(mod).items() if not k.startswith("__")}
    except BaseException as e:
        # The traceback of the file, without the frames of this loader ("<string>", run
        # with -c) and of importlib ("<frozen ...>").
        te = traceback.TracebackException(type(e), e, e.__traceback__)
        te.stack = traceback.StackSummary.from_list([f for f in te.stack if not f.filename.startswith("<")])
        sys.stderr.write("".join(te.format()))
        sys.stderr.flush()
        os._exit(1)
    json.dump(globs, out)
    out.flush()


main()
