"""A small Flask application for gonicorn.

    gonicorn --chdir examples/flask --python /usr/bin/python3 app:app

Needs Flask (Debian: apt-get install python3-flask).
"""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from Flask!\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@app.route("/json")
def json_view():
    return jsonify(
        path=request.path,
        method=request.method,
        query=request.args.to_dict(),
        user_agent=request.headers.get("User-Agent"),
    )


@app.route("/echo", methods=["POST"])
def echo():
    # Send the body back unchanged, with the request's Content-Type.
    body = request.get_data()
    return body, 200, {
        "Content-Type": request.content_type or "application/octet-stream",
    }


# So that "gonicorn ... app" (gunicorn's default callable name) works too.
application = app


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
