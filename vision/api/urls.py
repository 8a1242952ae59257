from django.urls import path

from vision.api import views

urlpatterns = [
    path("cameras/", views.CameraListApi.as_view(), name="cameras"),
    path("cameras/<int:pk>/", views.CameraDetailApi.as_view(), name="camera"),
    path("cameras/<int:pk>/observations/", views.CameraObservationsApi.as_view(), name="camera-observations"),
]
