import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("gridline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_public_secrets(**kwargs) -> None:
    # workers decrypt and encrypt personal fields: they refuse public keys as the web server does
    from project.checks import refuse_to_run_on_public_secrets

    refuse_to_run_on_public_secrets()
