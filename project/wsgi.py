import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: a production server must still refuse to serve on public secrets.
from project.checks import refuse_to_run_on_public_secrets  # noqa: E402

refuse_to_run_on_public_secrets()
