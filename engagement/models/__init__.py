from engagement.models.activities import Activity, ActivityMedia, CheckIn
from engagement.models.community import CommunityRegistration, ServiceHours, VolunteerTask
from engagement.models.mall import MallItem, MallOrder
from engagement.models.members import BranchCadre, BranchNotice, MobileMemberRecord, PersonalCode, StationKeeper
from engagement.models.points import PointsEntry, PointsRule

__all__ = [
    "Activity",
    "ActivityMedia",
    "BranchCadre",
    "BranchNotice",
    "CheckIn",
    "CommunityRegistration",
    "MallItem",
    "MallOrder",
    "MobileMemberRecord",
    "PersonalCode",
    "PointsEntry",
    "PointsRule",
    "ServiceHours",
    "StationKeeper",
    "VolunteerTask",
]
