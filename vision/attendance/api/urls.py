from django.urls import path

from vision.attendance.api import views

urlpatterns = [
    path("attendance/enrolments/", views.EnrolmentsApi.as_view(), name="attendance-enrolments"),
    path("attendance/enrolments/<int:pk>/", views.EnrolmentDetailApi.as_view(), name="attendance-enrolment"),
    path("attendance/summary/", views.SummaryApi.as_view(), name="attendance-summary"),
    path("attendance/meetings/", views.MeetingsApi.as_view(), name="attendance-meetings"),
    path("attendance/meetings/<int:pk>/", views.MeetingDetailApi.as_view(), name="attendance-meeting"),
    path(
        "attendance/meetings/<int:pk>/frames/<int:frame_id>/",
        views.MeetingFrameApi.as_view(),
        name="attendance-meeting-frame",
    ),
]
