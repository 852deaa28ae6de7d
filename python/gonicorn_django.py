"""gonicorn's Django support for the worker (docs/django.md, docs/protocol.md).

Two jobs, both at boot, none per request:

 - load_application: the app a Django project's `manage.py runserver`
   serves, for a project the master found by its manage.py (no APP_MODULE);
 - report: the settings the master needs to serve static files, sent in the
   ready (Y) frame, for any app that configured Django's settings.

The master passes this file's source to the worker with its other modules
(gonicorn_boot.py), which makes it the module gonicorn_django. It never
imports Django itself unless asked to load a project: report() looks at
Django only if the app already imported it.
Standard library (and the app's own Django) only.
"""

import os
import sys


def load_application(settings_module):
    """Returns the WSGI application of the project whose settings are
    settings_module, as runserver does: Django is set up, then
    django.core.servers.basehttp.get_internal_wsgi_application imports
    settings.WSGI_APPLICATION (or, when it is None, returns
    django.core.wsgi.get_wsgi_application())."""
    # The master chose the module (-e, the environment, then manage.py's
    # setdefault), so it is set, not defaulted: what it logged is what runs.
    os.environ['DJANGO_SETTINGS_MODULE'] = settings_module
    import django
    django.setup(set_prefix=False)  # as manage.py does before runserver
    from django.core.servers.basehttp import get_internal_wsgi_application
    return get_internal_wsgi_application()


def report():
    """Returns the ready frame's `django` dict, or None when the app did not
    configure Django's settings (or reading them failed: the app still runs,
    static files are just not served automatically).

    Values are str. URLs are the settings as written ('' when None): Django
    adds the request's script prefix to a relative one, per request, so it is
    read from the settings object underneath, leaving LazySettings' cache
    (which would keep the boot's prefix) untouched. Roots are absolute paths
    ('' when unset), relative ones taken from the working directory."""
    conf = sys.modules.get('django.conf')
    if conf is None or not conf.settings.configured:
        return None
    try:
        wrapped = conf.settings._wrapped  # the settings, without LazySettings
        return {
            'settings': _text(getattr(wrapped, 'SETTINGS_MODULE', None)),
            'wsgi_application': _text(getattr(wrapped, 'WSGI_APPLICATION', None)),
            'static_url': _text(getattr(wrapped, 'STATIC_URL', None)),
            'static_root': _path(getattr(wrapped, 'STATIC_ROOT', None)),
            'media_url': _text(getattr(wrapped, 'MEDIA_URL', None)),
            'media_root': _path(getattr(wrapped, 'MEDIA_ROOT', None)),
        }
    except Exception as e:
        sys.stderr.write('gonicorn worker %d: cannot read the Django settings '
                         'for static files: %r\n' % (os.getpid(), e))
        return None


def _text(value):
    return '' if value is None else str(value)


def _path(value):
    if value is None or value == '':
        return ''
    return os.path.abspath(os.fspath(value))
