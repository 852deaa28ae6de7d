"""Views that exercise the parts of WSGI a server can get wrong."""
import hashlib
from pathlib import Path

import django
from django.http import (
    FileResponse,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

STATIC_FILE = Path(__file__).resolve().parent / "static_file.txt"

ENDPOINTS = """\
gonicorn Django example
  /json       JSON echo of the request
  /template   a rendered template
  /admin/     the Django admin (admin/admin after setup_db.sh)
  /café/      a non-ASCII route
  /upload     POST multipart/form-data with a "file" field
  /stream     a streamed response of 10 lines
  /file       a FileResponse
"""


def index(request):
    return HttpResponse(ENDPOINTS, content_type="text/plain; charset=utf-8")


def json_view(request):
    return JsonResponse({
        "path": request.path,
        "method": request.method,
        "query": request.GET.dict(),
        "script_name": request.META.get("SCRIPT_NAME", ""),
        "scheme": request.scheme,
        "django": django.get_version(),
    })


def template_view(request):
    rows = [{"n": n, "square": n * n, "name": "row %d" % n} for n in range(1, 11)]
    return render(request, "demo/table.html", {"rows": rows})


def unicode_view(request):
    # Raw UTF-8 in the body (not \u escapes), so a test sees the bytes.
    return JsonResponse({"path": request.path}, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_POST
def upload(request):
    upload = request.FILES.get("file")
    if upload is None and request.FILES:
        upload = next(iter(request.FILES.values()))
    if upload is None:
        return JsonResponse({"error": "no file in the request"}, status=400)
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    return JsonResponse({
        "name": upload.name,
        "size": size,
        "sha256": digest.hexdigest(),
    })


def stream(request):
    def lines():
        for n in range(1, 11):
            yield "line %d\n" % n

    return StreamingHttpResponse(lines(), content_type="text/plain; charset=utf-8")


def file_view(request):
    # FileResponse closes the file when the server calls close() on it.
    return FileResponse(open(STATIC_FILE, "rb"), content_type="text/plain; charset=utf-8")
