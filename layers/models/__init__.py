from layers.models.audit import AuditEntry
from layers.models.jobs import ExportJob, ImportJob, JobStatus
from layers.models.people import Gender, Household, Person, PersonCategory, SENSITIVE_CATEGORIES, WorkKind
from layers.models.resources import Organization, Place, Thing

__all__ = ["AuditEntry", "ExportJob", "ImportJob", "JobStatus", "Gender", "Household", "Organization", "Person", "PersonCategory", "Place",
           "SENSITIVE_CATEGORIES", "Thing", "WorkKind"]
