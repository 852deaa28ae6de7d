from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("json", views.json_view, name="json"),
    path("template", views.template_view, name="template"),
    # A non-ASCII route: the client sends /caf%C3%A9/ and the server must
    # hand Django a PATH_INFO that decodes back to this string.
    path("café/", views.unicode_view, name="cafe"),
    path("upload", views.upload, name="upload"),
    path("stream", views.stream, name="stream"),
    path("file", views.file_view, name="file"),
]
