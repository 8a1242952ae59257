from django.urls import path

from layers.api import nearest, views

urlpatterns = [
    path("layers/", views.LayerListApi.as_view(), name="layers"),
    path("layers/gig_workers/profile/", views.GigWorkerProfileApi.as_view(), name="gig-worker-profile"),
    path("layers/people/<int:pk>/sensitive/", views.PersonSensitiveApi.as_view(), name="person-sensitive"),
    path("layers/organizations/nearest/", nearest.OrganizationNearestApi.as_view(), name="organizations-nearest"),
    path("layers/<slug:name>/stats/", views.LayerStatsApi.as_view(), name="layer-stats"),
    path("layers/<slug:name>/", views.LayerFeaturesApi.as_view(), name="layer-features"),
    path("audit/", views.AuditListApi.as_view(), name="audit"),
]
