#!/bin/sh
# Create (or bring up to date) the example's SQLite database and make sure
# the superuser admin/admin exists. Safe to run any number of times.
#
#   DJANGO_DB=/tmp/x.sqlite3 examples/django/setup_db.sh
#
# PYTHON picks the interpreter; by default the first of python3 and
# /usr/bin/python3 that can import Django.
set -eu

cd "$(dirname "$0")"

if [ -z "${PYTHON:-}" ]; then
	for candidate in python3 /usr/bin/python3; do
		if "$candidate" -c 'import django' 2>/dev/null; then
			PYTHON=$candidate
			break
		fi
	done
fi
if [ -z "${PYTHON:-}" ]; then
	echo "setup_db.sh: no python3 with Django found; install python3-django or set PYTHON" >&2
	exit 1
fi

"$PYTHON" manage.py migrate --noinput
"$PYTHON" manage.py shell -c '
from django.contrib.auth import get_user_model

User = get_user_model()
if not User.objects.filter(username="admin").exists():
    User.objects.create_superuser("admin", "admin@example.com", "admin")
    print("Created superuser admin (password admin).")
else:
    print("Superuser admin already exists.")
'
