"""PasteDeploy app factory for test/paste_test.go (app.ini beside it).

Every request answers, as JSON, the global_conf and local_conf the factory
was called with, and logs "serving PATH" on the pasteapp logger (which the
ini's [loggers] section sends to stderr).
"""
import json
import logging

log = logging.getLogger("pasteapp")


def make_app(global_conf, **local_conf):
    body = json.dumps({"global": global_conf, "local": local_conf},
                      sort_keys=True).encode()

    def app(environ, start_response):
        log.info("serving %s", environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    return app
