"""The smallest useful WSGI application (PEP 3333), standard library only.

Run it with gonicorn from the repository root:

    gonicorn --chdir examples/hello app

or, without gonicorn, with the standard library's reference server:

    python3 examples/hello/app.py
"""

BODY = b"Hello, World!\n"


def application(environ, start_response):
    start_response("200 OK", [
        ("Content-Type", "text/plain"),
        ("Content-Length", str(len(BODY))),
    ])
    return [BODY]


# gunicorn's default callable name is "application"; many tutorials say "app".
app = application


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    with make_server("127.0.0.1", 8000, application) as server:
        print("Serving on http://127.0.0.1:8000/")
        server.serve_forever()
