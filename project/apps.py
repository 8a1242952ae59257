from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Gridline"

    def ready(self) -> None:
        from project import checks  # noqa: F401 - registers the secrets check
