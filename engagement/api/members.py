"""The engagement API: members."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
