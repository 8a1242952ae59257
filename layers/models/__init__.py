from layers.models.audit import AuditEntry
from layers.models.jobs import ExportJob, ImportJob, JobStatus
from layers.models.people import SENSITIVE_CATEGORIES, Gender, Household, Person, PersonCategory, WorkKind
from layers.models.resources import Organization, Place, Thing

__all__ = [
    "AuditEntry",
    "ExportJob",
    "Gender",
    "Household",
    "ImportJob",
    "JobStatus",
    "Organization",
    "Person",
    "PersonCategory",
    "Place",
    "SENSITIVE_CATEGORIES",
    "Thing",
    "WorkKind",
]
