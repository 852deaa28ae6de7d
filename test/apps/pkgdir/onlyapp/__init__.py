"""A package whose WSGI callable is named `app` (no `application`): the default
callable lookup tries `application`, then `app`. Found through --pythonpath."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"only app"]
