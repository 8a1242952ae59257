"""manage.py import_layer FILE --layer people [--preset transport | --mapping '{"姓名": "name"}'] [--crs gcj02]
[--dry-run] [--user NAME] [--skip-invalid]: the same import as the API, run here with a progress bar."""

import json
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from tqdm import tqdm

from grid.models import User
from layers.io.imports import import_run
from layers.io.mapping import PRESETS
from layers.io.specs import IMPORTABLE
from layers.models import ImportJob, JobStatus


class Command(BaseCommand):
    help = "Import a CSV, .xlsx, zipped Shapefile, GeoPackage or GeoJSON file into a layer of the register."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--layer", required=True, choices=IMPORTABLE)
        parser.add_argument("--preset", choices=sorted(PRESETS), default="")
        parser.add_argument("--mapping", default="", help='JSON {"source column": "field"}, or @file.json')
        parser.add_argument(
            "--crs",
            choices=["wgs84", "gcj02", "bd09"],
            default="",
            help="the coordinates' system; default: the file's own, else WGS 84",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="write the valid rows and skip the others (default: all or nothing)",
        )
        parser.add_argument(
            "--user",
            default="",
            help="import as this account: its scope and clearance apply (without it, the operator's import is "
            "limited to no area)",
        )
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=settings.LANGUAGE_CODE,
            help="language of the report and messages (default: %(default)s)",
        )

    def handle(self, *args, **options):
        with translation.override(options["language"]):
            self._import(options)

    def _import(self, options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("No file %(path)s") % {"path": path})
        mapping = options["mapping"]
        if mapping:
            try:
                mapping = json.loads(Path(mapping[1:]).read_text("utf-8") if mapping.startswith("@") else mapping)
            except (OSError, ValueError) as exc:
                raise CommandError(_("--mapping: %(error)s") % {"error": exc}) from exc
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(_("No account %(name)s") % {"name": options["user"]})
        job = ImportJob(
            created_by=user,
            layer=options["layer"],
            original_name=path.name,
            preset=options["preset"],
            mapping=mapping or {},
            crs=options["crs"],
            dry_run=options["dry_run"],
        )
        with path.open("rb") as handle:
            job.source.save(path.name, File(handle), save=False)
        job.save()
        with tqdm(total=1.0, unit="", bar_format="{l_bar}{bar}| {postfix}", disable=options["verbosity"] == 0) as bar:

            def show(j: ImportJob) -> None:
                bar.n = j.progress
                bar.set_postfix_str(
                    _("%(done)s/%(total)s rows") % {"done": j.rows_done, "total": j.rows_total}, refresh=False
                )
                bar.refresh()

            job = import_run(job=job, skip_invalid=options["skip_invalid"], on_progress=show)
        levels = {"error": _("error"), "warning": _("warning")}
        for entry in job.report:
            where = ", ".join(
                p
                for p in (
                    _("row %(row)s") % {"row": entry["row"]} if entry.get("row") else "",
                    entry.get("column") or "",
                )
                if p
            )
            level = levels.get(entry.get("level", "error"), entry.get("level"))
            self.stdout.write(f"{level}: {where + ': ' if where else ''}{entry['problem']}")
        summary = _("job %(id)s %(status)s: %(rows)s rows, %(created)s created, %(updated)s updated%(dry)s") % {
            "id": job.pk,
            "status": JobStatus(job.status).label,
            "rows": job.rows_total,
            "created": job.created_count,
            "updated": job.updated_count,
            "dry": _(" (dry run: nothing written)") if job.dry_run else "",
        }
        if job.status == JobStatus.FAILED:
            raise CommandError(summary + (f" - {job.error}" if job.error else ""))
        self.stdout.write(self.style.SUCCESS(summary))
