"""API tokens that expire TOKEN_TTL_HOURS after they are issued.

Kept apart from the token views: DRF imports authentication classes while rest_framework.views loads.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def token_expires(token: Token) -> datetime:
    return token.created + timedelta(hours=settings.TOKEN_TTL_HOURS)


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token …`, refused (401) once the token is TOKEN_TTL_HOURS old."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expires(token) <= timezone.now():
            token.delete()
            raise exceptions.AuthenticationFailed(_("Token has expired."))
        return user, token
