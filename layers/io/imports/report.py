"""The import's report: problems by row and column, in the order the row-by-row path finds them, and how a job
that writes nothing ends (failed, or a dry run's counts)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from layers.models import AuditEntry, ImportJob, JobStatus
from layers.services import audit_record

MAX_REPORT_ENTRIES = 1000
# The one answer for a row whose key the importer may not write: the same whether that key belongs to a record
# of another area, to a record the importer may not see (a sensitive category without clearance), or to any
# other record out of reach, so that the report never tells which.
KEY_REFUSED = gettext_lazy("this record cannot be imported by your account")

# phases of the report, in the row-by-row path's order (the staged path's problems are sorted by them)
CONVERT, COORDINATES, PLACEMENT = 0, 1, 2


class Report:
    def __init__(self) -> None:
        self.entries: list[dict] = []
        self.errors = 0
        self.dropped = 0

    def add(self, row: int | None, column: str | None, problem: str, level: str = "error") -> None:
        if level == "error":
            self.errors += 1
        if len(self.entries) < MAX_REPORT_ENTRIES:
            self.entries.append({"row": row, "column": column, "problem": problem, "level": level})
        else:
            self.dropped += 1

    def extend(self, entries: list[dict]) -> None:
        for e in entries:
            self.add(e.get("row"), e.get("column"), e["problem"], e.get("level", "error"))

    def as_list(self) -> list[dict]:
        if self.dropped:
            return self.entries + [
                {
                    "row": None,
                    "column": None,
                    "level": "info",
                    "problem": _("%(n)d more problems are not listed; fix the ones above and run a dry run again.")
                    % {"n": self.dropped},
                }
            ]
        return self.entries


class Problems:
    """Report entries with their place in the row-by-row order, handed to the report sorted."""

    def __init__(self) -> None:
        self.entries: list[tuple] = []

    def add(self, phase: int, row: int, order: tuple, column: str | None, problem: str, level: str = "error") -> None:
        self.entries.append((phase, row, order, column, problem, level))

    def sink(self, phase: int) -> "_Sink":
        """An object with the report's `add(row, column, problem, level)`, for code written against the report."""
        return _Sink(self, phase)

    def error_rows(self) -> set[int]:
        return {e[1] for e in self.entries if e[5] == "error"}

    def flush(self, report: Report) -> None:
        for _phase, row, _order, column, problem, level in sorted(self.entries, key=lambda e: e[:3]):
            report.add(row, column, problem, level)
        self.entries = []


class _Sink:
    def __init__(self, problems: Problems, phase: int) -> None:
        self.problems, self.phase, self.count = problems, phase, 0

    def add(self, row: int, column: str | None, problem: str, level: str = "error") -> None:
        self.count += 1  # keeps the order of one row's problems
        self.problems.add(self.phase, row, (self.count,), column, problem, level)


def job_failed(job: ImportJob, message: str) -> None:
    job.status, job.error = JobStatus.FAILED, message


def dry_run_done(job: ImportJob, report: Report, *, created: int, updated: int) -> None:
    """A dry run ends here: what a real run would create and update, and nothing written."""
    job.created_count, job.updated_count, job.status = created, updated, JobStatus.DONE
    report.add(
        None,
        None,
        _("Dry run: %(c)d rows would be created and %(u)d updated; nothing was written.")
        % {"c": created, "u": updated},
        "info",
    )


def import_audited(*, job: ImportJob, layer: str, rows: int, created: int, updated: int) -> None:
    """The audit entry of an import that wrote its rows."""
    audit_record(
        actor=job.created_by,
        action=AuditEntry.Action.IMPORT,
        target=f"layers.{layer}",
        reason=f"import job {job.pk}: {job.original_name}"[:300],
        details={
            "job": job.pk,
            "file": job.original_name,
            "rows": rows,
            "created": created,
            "updated": updated,
            "preset": job.preset,
            "crs": job.crs,
        },
    )
