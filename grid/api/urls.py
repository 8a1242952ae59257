from django.urls import path

from grid.api import auth, dispatch, photos, stats, views, workflow

urlpatterns = [
    path("auth/token/", auth.TokenApi.as_view(), name="auth-token"),
    path("stations/nearest/", views.StationNearestApi.as_view(), name="stations-nearest"),
    path("areas/locate/", views.AreaLocateApi.as_view(), name="areas-locate"),
    path("areas/", views.AreaListApi.as_view(), name="areas"),
    path("grids/", views.GridListApi.as_view(), name="grids"),
    path("workers/me/position/", dispatch.WorkerPositionApi.as_view(), name="worker-position"),
    path("incidents/<int:pk>/candidates/", dispatch.IncidentCandidatesApi.as_view(), name="incident-candidates"),
    path("incidents/claimable/", dispatch.IncidentsClaimableApi.as_view(), name="incidents-claimable"),
    path("incidents/<int:pk>/photos/<int:photo_id>/", photos.IncidentPhotoApi.as_view(), name="incident-photo"),
    path("incidents/stats/", stats.IncidentStatsApi.as_view(), name="incident-stats"),
    path("incidents/categories/", views.CategoryListApi.as_view(), name="incident-categories"),
    path("incidents/", views.IncidentsApi.as_view(), name="incidents"),
    path("incidents/batch/", workflow.IncidentBatchApi.as_view(), name="incidents-batch"),
    path("incidents/<int:pk>/", workflow.IncidentDetailApi.as_view(), name="incident"),
    path("incidents/<int:pk>/transitions/", workflow.IncidentTransitionApi.as_view(), name="incident-transitions"),
    path("incidents/<int:pk>/timeline/", workflow.IncidentTimelineApi.as_view(), name="incident-timeline"),
    path("incidents/<int:pk>/feedback/", workflow.IncidentFeedbackApi.as_view(), name="incident-feedback"),
    path("notifications/", workflow.NotificationsApi.as_view(), name="notifications"),
]
