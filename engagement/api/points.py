"""The engagement API: points. A member's ledger, the leaderboards of a branch and of a community, and the
corrections that administrators enter."""

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import pagination, permissions, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from engagement.access import (
    branches,
    branches_known_to,
    may_see_community_names,
    people_points_correctable_by,
    person_of,
)
from engagement.models import PointsEntry
from engagement.selectors.points import (
    month_start,
    name_masked,
    people_of_branch,
    people_of_community,
    points_earned,
    points_entries,
    points_leaderboard,
    reason_name,
)
from engagement.services.points import InsufficientPoints, points_balance, points_correct
from grid.access import scope_loaded
from grid.api.errors import Conflict
from grid.models import AdminArea, Role
from layers.models import Person

CORRECTION_MAX = 100_000


def person_required(user) -> Person:
    person = person_of(user)
    if person is None:
        raise NotFound(_("No member record is linked to this account."))
    return person


def insufficient(exc: InsufficientPoints, *, message) -> Response:
    """409 naming the balance and what was needed; nothing was written."""
    return Response(
        {
            "detail": message % {"balance": exc.balance, "price": exc.needed},
            "balance": exc.balance,
            "price": exc.needed,
        },
        status=status.HTTP_409_CONFLICT,
    )


class PointsEntrySerializer(serializers.ModelSerializer):
    reason_name = serializers.SerializerMethodField(help_text=_("the reason, for people"))

    class Meta:
        model = PointsEntry
        fields = ["id", "amount", "reason", "reason_name", "note", "source", "created"]

    @extend_schema_field(serializers.CharField())
    def get_reason_name(self, entry: PointsEntry) -> str:
        return reason_name(entry)


class PointsPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 200


class PointsMeSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    earned_this_month = serializers.IntegerField()
    count = serializers.IntegerField(help_text=_("entries in all"))
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PointsEntrySerializer(many=True, help_text=_("entries, newest first"))


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=PointsPagination.max_page_size, required=False)


class PointsMeApi(APIView):
    """The caller's balance and ledger (newest first, paged). 404 for an account with no member record."""

    @extend_schema(parameters=[PageQuerySerializer], responses={200: PointsMeSerializer})
    def get(self, request):
        PageQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        person = person_required(request.user)
        paginator = PointsPagination()
        page = paginator.paginate_queryset(points_entries(person=person), request, view=self)
        body = {
            "balance": points_balance(person=person),
            "earned_this_month": points_earned(person=person, since=month_start()),
            "count": paginator.page.paginator.count,
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "results": PointsEntrySerializer(page, many=True).data,
        }
        response = Response(body)
        response["Cache-Control"] = "no-store, private"
        return response


class LeaderRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    name = serializers.CharField(help_text=_("masked (张**) unless the caller may read the members' names"))
    points = serializers.IntegerField()
    me = serializers.BooleanField(help_text=_("the caller's own row"))
    person = serializers.IntegerField(allow_null=True, help_text=_("the register's id, with the names only"))


class LeaderboardSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["branch", "community"])
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    names_visible = serializers.BooleanField()
    month = LeaderRowSerializer(many=True, help_text=_("points earned this month, most first"))
    all_time = LeaderRowSerializer(many=True, help_text=_("points earned in all, most first"))


class LeaderboardQuerySerializer(serializers.Serializer):
    branch = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False, help_text=_("a branch's id"))
    community = serializers.CharField(max_length=20, required=False, help_text=_("a community's code"))
    limit = serializers.IntegerField(min_value=1, max_value=50, default=10)

    def validate_community(self, value: str) -> str:
        if not value.isdigit():
            raise serializers.ValidationError(_("A community's code is digits."))
        return value

    def validate(self, attrs):
        if ("branch" in attrs) == ("community" in attrs):
            raise serializers.ValidationError({"branch": _("Give either branch or community (one of them).")})
        return attrs


def _rows(rows: list[dict], *, visible: bool, me: Person | None) -> list[dict]:
    return [
        {
            "rank": i,
            "name": row["name"] if visible or (me is not None and row["person"] == me.pk) else name_masked(row["name"]),
            "points": row["points"],
            "me": me is not None and row["person"] == me.pk,
            "person": row["person"] if visible else None,
        }
        for i, row in enumerate(rows, start=1)
    ]


class PointsLeaderboardApi(APIView):
    """Who earned most points this month and in all, in a branch (`branch=<id>`) or a community
    (`community=<code>`). Names show to those who may read the branch's members (its own members, cadres and the
    staff of its area) or, for a community, to its staff; everybody else sees them masked (张**), and their own."""

    @extend_schema(parameters=[LeaderboardQuerySerializer], responses={200: LeaderboardSerializer})
    def get(self, request):
        data = LeaderboardQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = scope_loaded(request.user)
        if "branch" in v:
            branch = get_object_or_404(branches(), pk=v["branch"])
            people, visible = people_of_branch(branch), branches_known_to(user).filter(pk=branch.pk).exists()
            scope = {"kind": "branch", "id": branch.pk, "code": branch.code, "name": branch.name}
        else:
            community = get_object_or_404(AdminArea, code=v["community"], level=AdminArea.Level.COMMUNITY)
            people, visible = people_of_community(community), may_see_community_names(user, community)
            scope = {"kind": "community", "id": community.pk, "code": community.code, "name": community.name}
        me = person_of(user)
        since = month_start()
        body = {
            **scope,
            "names_visible": visible,
            "month": _rows(points_leaderboard(people=people, since=since, limit=v["limit"]), visible=visible, me=me),
            "all_time": _rows(points_leaderboard(people=people, limit=v["limit"]), visible=visible, me=me),
        }
        return Response(LeaderboardSerializer(body).data)


class CorrectionInputSerializer(serializers.Serializer):
    person = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text=_("the register's id"))
    amount = serializers.IntegerField(
        min_value=-CORRECTION_MAX, max_value=CORRECTION_MAX, help_text=_("points to add (negative: to take away)")
    )
    note = serializers.CharField(max_length=300, help_text=_("why: kept with the entry and in the audit log"))
    client_uuid = serializers.UUIDField()

    def validate_amount(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError(_("A correction of 0 points changes nothing."))
        return value


class CorrectionSerializer(PointsEntrySerializer):
    person = serializers.IntegerField(source="person_id")
    balance = serializers.SerializerMethodField()

    class Meta(PointsEntrySerializer.Meta):
        fields = [*PointsEntrySerializer.Meta.fields, "person", "balance"]

    @extend_schema_field(serializers.IntegerField())
    def get_balance(self, entry: PointsEntry) -> int:
        return points_balance(person=entry.person)


class MayCorrectPoints(permissions.BasePermission):
    message = _("Only administrators correct points.")

    def has_permission(self, request, view):
        user = request.user
        return user.is_authenticated and (user.is_superuser or user.role == Role.ADMINISTRATOR)


class PointsCorrectionApi(APIView):
    """An administrator's correction of the points of a person in its area: a new entry with a note, audited.
    Resending the same client_uuid answers the same entry."""

    permission_classes = [permissions.IsAuthenticated, MayCorrectPoints]

    @extend_schema(request=CorrectionInputSerializer, responses={201: CorrectionSerializer, 200: CorrectionSerializer})
    def post(self, request):
        data = CorrectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = scope_loaded(request.user)
        person = people_points_correctable_by(user).filter(pk=v["person"]).first()
        if person is None:
            raise serializers.ValidationError({"person": [_("There is no such person in your area.")]})
        key = f"correction:{v['client_uuid']}"
        existing = PointsEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            if existing.person_id != person.pk or existing.amount != v["amount"]:
                raise Conflict(_("This client_uuid belongs to another correction."))
            return Response(CorrectionSerializer(existing).data, status=status.HTTP_200_OK)
        try:
            entry = points_correct(person=person, amount=v["amount"], note=v["note"], key=key, by=user)
        except InsufficientPoints as exc:
            return insufficient(
                exc, message=_("The balance is %(balance)d points: a correction cannot take %(price)d away.")
            )
        return Response(CorrectionSerializer(entry).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("points/me/", PointsMeApi.as_view(), name="points-me"),
    path("points/leaderboard/", PointsLeaderboardApi.as_view(), name="points-leaderboard"),
    path("points/corrections/", PointsCorrectionApi.as_view(), name="points-corrections"),
]
