"""gonicorn worker bootstrap: the code the master runs with `python -c`.

The worker is a few modules (gonicorn_worker's docstring), embedded in the
gonicorn binary. They come as the arguments after -c, in pairs:

    python -c <this source> NAME SOURCE NAME SOURCE ...

(docs/protocol.md, "Worker process start"). Each is made the module NAME,
in order, so a module imports the ones before it from sys.modules; the last
one's main() then runs the worker. Nothing is written to disk, nothing is
looked up on sys.path, and the process is started once. Their arguments are
taken off sys.argv first, so the app sees sys.argv == ['-c'], as it would
with any `python -c`. Each module's source is also put in linecache under
its file name, `<NAME>`, so that tracebacks through the worker show its
lines, as for a module imported from a file.
"""


def _boot():
    import linecache
    import sys
    import types
    args = sys.argv[1:]
    del sys.argv[1:]
    module = None
    for name, source in zip(args[0::2], args[1::2]):
        filename = '<%s>' % name
        linecache.cache[filename] = (len(source), None,
                                     source.splitlines(True), filename)
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(compile(source, filename, 'exec'), module.__dict__)
    if module is None:
        sys.stderr.write('gonicorn worker: started without its modules\n')
        sys.exit(2)
    module.main()


_boot()
