"""The token endpoint (issue, revoke), token revocation on a password change, and the login lockout's answers
(django-axes)."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from grid.api.authentication import token_expires
from grid.api.errors import is_api_path
from grid.api.throttles import AnonThrottle, LoginThrottle, UserThrottle


class RevokeTokensOnPasswordChange:
    """A password validator that checks nothing: Django calls its password_changed() on every saved change."""

    def validate(self, password, user=None) -> None:
        return None

    def password_changed(self, password, user=None) -> None:
        if user is not None and user.pk is not None:
            Token.objects.filter(user=user).delete()

    def get_help_text(self) -> str:
        return _("Changing the password signs the account out of every phone and API client.")


class LockedOut(exceptions.Throttled):
    default_detail = _("Too many failed logins for this account or address.")
    default_code = "locked_out"


def _cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def client_ip(request) -> str:
    """The address failed logins are counted under: the same one the throttles use (NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


def lockout_response(request, original_response=None, credentials=None):
    """Axes' answer to a locked-out login: JSON on API paths, a page for the browser; both 429."""
    wait = _cooloff_seconds()
    if is_api_path(request):
        response = JsonResponse({"detail": str(LockedOut(wait=wait).detail)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
    else:
        response = render(
            request,
            "grid/lockout.html",
            {"minutes": max(1, -(-wait // 60))},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    response["Retry-After"] = str(wait)
    return response


class TokenApi(APIView):
    """POST: a token for a username and password. DELETE: revoke the caller's token."""

    throttle_classes = [AnonThrottle, UserThrottle, LoginThrottle]

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [permissions.IsAuthenticated()]
        return [permissions.AllowAny()]

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer(
                "TokenIssued",
                {"token": serializers.CharField(), "expires": serializers.DateTimeField()},
            ),
        },
        auth=[],
        description=_(
            "A token for `Authorization: Token …`, valid for TOKEN_TTL_HOURS from its issue; the same token "
            "while it is valid. Repeated failures lock the account and the address out (429, Retry-After)."
        ),
    )
    def post(self, request):
        data = AuthTokenSerializer(data=request.data, context={"request": request})
        if not data.is_valid():
            # Axes flags the request it was given (this DRF request) once the limit is reached; a locked-out
            # account is refused even with the right password.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(wait=_cooloff_seconds())
            raise exceptions.ValidationError(data.errors)
        user = data.validated_data["user"]
        token, _created = Token.objects.get_or_create(user=user)
        if token_expires(token) <= timezone.now():
            token.delete()
            token = Token.objects.create(user=user)
        return Response({"token": token.key, "expires": token_expires(token)})

    @extend_schema(
        request=None,
        responses={204: OpenApiResponse(description=_("The caller's token no longer authenticates."))},
        description=_("Revoke the caller's API token (sign the phone out)."),
    )
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
