"""Test app for X-Sendfile and X-Accel-Redirect (test/static_test.go).

The query says what to answer: h (the header: X-Sendfile or X-Accel-Redirect), v (its value),
s (the status, default "200 OK"), ct (a Content-Type to set). The answer also carries
Content-Disposition and X-App, and a body that must never reach the client.
"""
from urllib.parse import parse_qs


def application(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    headers = [("Content-Disposition", "attachment; filename=x"), ("X-App", "kept")]
    if "h" in q:
        headers.append((q["h"], q["v"]))
    if "ct" in q:
        headers.append(("Content-Type", q["ct"]))
    start_response(q.get("s", "200 OK"), headers)
    return [b"APP BODY"]
