from django.core.management.base import BaseCommand

from layers.services import people_rotate_keys


class Command(BaseCommand):
    help = "Re-encrypt sensitive personal fields with the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        self.stdout.write(f"re-encrypted {people_rotate_keys()} people")
