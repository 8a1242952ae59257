"""The engagement API under /api/v1/engagement/: one URL list per part, each in its own module."""

from engagement.api import activities, branches, checkins, community, mall, members, points, records, volunteering

app_name = "engagement"

urlpatterns = [
    *members.urlpatterns,
    *branches.urlpatterns,
    *activities.urlpatterns,
    *records.urlpatterns,
    *checkins.urlpatterns,
    *community.urlpatterns,
    *volunteering.urlpatterns,
    *points.urlpatterns,
    *mall.urlpatterns,
]
