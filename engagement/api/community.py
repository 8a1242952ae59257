"""The engagement API: community."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
