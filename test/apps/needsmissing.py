"""An app whose import fails the way a missing package does (test/messages_test.go)."""
import gonicorn_test_missing_package  # noqa: F401


def application(environ, start_response):
    start_response("200 OK", [])
    return [b"unreachable"]
