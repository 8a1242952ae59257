"""The engagement API: volunteer tasks and small wishes (微心愿). A branch publishes and cancels; members list the
open ones near them and claim (the first claim wins, the others get 409); the claimer or the branch marks one done,
which records the claimer's service hours. And the caller's own service hours."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib.gis.geos import Point
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from engagement.access import branches_run_by, person_of
from engagement.api.community import NO_PERSON, community_by_code
from engagement.api.params import NearField
from engagement.models import VolunteerTask
from engagement.selectors.community import service_hours_of, volunteer_tasks_near, volunteer_tasks_visible
from engagement.services.volunteering import TaskDenied, TaskRefused, task_cancel, task_claim, task_done, task_publish
from grid.api.errors import Conflict
from grid.api.params import FiniteFloatField
from grid.crs import CRS, to_wgs84


class VolunteerTaskSerializer(GeoFeatureModelSerializer):
    location = GeometryField(precision=6)
    branch_name = serializers.CharField(source="branch.name", read_only=True)
    community = serializers.CharField(source="community.code", read_only=True, default=None)
    community_name = serializers.CharField(source="community.name", read_only=True, default=None)
    kind_name = serializers.CharField(source="get_kind_display", read_only=True)
    status_name = serializers.CharField(source="get_status_display", read_only=True)
    claimed_by_me = serializers.SerializerMethodField()
    claimer_name = serializers.SerializerMethodField()
    distance_m = serializers.SerializerMethodField()

    class Meta:
        model = VolunteerTask
        geo_field = "location"
        fields = [
            "id",
            "kind",
            "kind_name",
            "branch",
            "branch_name",
            "title",
            "description",
            "wished_by",
            "community",
            "community_name",
            "due",
            "hours",
            "status",
            "status_name",
            "claimed_at",
            "done_at",
            "claimed_by_me",
            "claimer_name",
            "distance_m",
            "client_uuid",
        ]
        read_only_fields = fields

    def get_claimed_by_me(self, task: VolunteerTask) -> bool:
        person = self.context.get("person")
        return person is not None and task.claimed_by_id == person.pk

    def get_claimer_name(self, task: VolunteerTask) -> str | None:
        # the branch that runs the task reads who claimed it; other members do not
        if task.claimed_by_id is None or task.branch_id not in self.context.get("runs", ()):
            return None
        return task.claimed_by.name

    def get_distance_m(self, task: VolunteerTask) -> float | None:
        distance = getattr(task, "distance", None)
        return round(distance.m, 1) if distance is not None else None


def _context(request, person=None) -> dict:
    return {
        "request": request,
        "person": person if person is not None else person_of(request.user),
        "runs": set(branches_run_by(request.user).values_list("pk", flat=True)),
    }


class ListQuerySerializer(serializers.Serializer):
    near = NearField(help_text=_("lon,lat: the nearest first, within radius_m"))
    crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)
    radius_m = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    status = serializers.ChoiceField(
        choices=[*VolunteerTask.Status.values, "all"], default=VolunteerTask.Status.OPEN, help_text=_("or all")
    )
    kind = serializers.ChoiceField(choices=VolunteerTask.Kind.choices, required=False)


class PublishInputSerializer(serializers.Serializer):
    branch = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    kind = serializers.ChoiceField(choices=VolunteerTask.Kind.choices, default=VolunteerTask.Kind.TASK)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    wished_by = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    lon = FiniteFloatField(min_value=-180, max_value=180)
    lat = FiniteFloatField(min_value=-90, max_value=90)
    crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)
    community = serializers.CharField(max_length=12, required=False, help_text=_("default: where the point lies"))
    due = serializers.DateTimeField(required=False)
    hours = serializers.DecimalField(
        max_digits=5, decimal_places=1, min_value=Decimal("0.1"), max_value=Decimal("999.9"), default=Decimal(1)
    )
    client_uuid = serializers.UUIDField()

    def validate_due(self, value: dt.datetime) -> dt.datetime:
        if value <= timezone.now():
            raise serializers.ValidationError(_("The due time must lie in the future."))
        return value

    def validate(self, attrs):
        runs = self.context["runs"]
        branch = runs.filter(pk=attrs["branch"]).first()
        if branch is None:
            raise serializers.ValidationError({"branch": [_("No branch with this id that you run.")]})
        attrs["branch"] = branch
        if "community" in attrs:
            community = community_by_code(attrs["community"])
            if community is None:
                raise serializers.ValidationError({"community": [_("No community has this code.")]})
            attrs["community"] = community
        lon, lat = to_wgs84(attrs.pop("lon"), attrs.pop("lat"), attrs.pop("crs"))
        attrs["location"] = Point(lon, lat, srid=4326)
        return attrs


def _task_errors(call):
    try:
        return call()
    except TaskRefused as refused:
        raise Conflict({"detail": refused.message}) from refused
    except TaskDenied as denied:
        raise PermissionDenied(_("Only the claimer or the branch that published it may do this.")) from denied


def _visible(request, pk: int) -> VolunteerTask:
    task = volunteer_tasks_visible(user=request.user).filter(pk=pk).first()
    if task is None:
        raise NotFound(_("No volunteer task with this id that you may see."))
    return task


class VolunteerTasksApi(APIView):
    """GET: the volunteer tasks and small wishes the caller may see (open ones of its branch and its communities;
    every one of the branches it runs), nearest first with `near`. POST: a branch publishes one (idempotent by
    client_uuid)."""

    @extend_schema(parameters=[ListQuerySerializer], responses={200: VolunteerTaskSerializer(many=True)})
    def get(self, request):
        query = ListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        v = query.validated_data
        point = None
        if "near" in v:
            point = Point(*to_wgs84(*v["near"], v["crs"]), srid=4326)
        radius = v.get("radius_m", settings.ENGAGEMENT_VOLUNTEER_NEAR_M)
        person = person_of(request.user)
        rows = volunteer_tasks_near(
            user=request.user,
            person=person,
            point=point,
            radius_m=radius,
            status=None if v["status"] == "all" else v["status"],
        )
        if "kind" in v:
            rows = rows.filter(kind=v["kind"])
        context = _context(request, person)
        return Response(VolunteerTaskSerializer(rows[:200], many=True, context=context).data)

    @extend_schema(
        request=PublishInputSerializer, responses={201: VolunteerTaskSerializer, 200: VolunteerTaskSerializer}
    )
    def post(self, request):
        runs = branches_run_by(request.user)
        if not runs.exists():
            raise PermissionDenied(_("Only a branch's cadres and the staff of its area publish volunteer tasks."))
        data = PublishInputSerializer(data=request.data, context={"runs": runs})
        data.is_valid(raise_exception=True)
        task, created = _task_errors(lambda: task_publish(actor=request.user, **data.validated_data))
        body = VolunteerTaskSerializer(task, context=_context(request)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class VolunteerTaskClaimApi(APIView):
    """Claim an open task: the first claim wins; a later one is refused with 409."""

    @extend_schema(request=None, responses={200: VolunteerTaskSerializer})
    def post(self, request, pk: int):
        person = person_of(request.user)
        if person is None:
            raise PermissionDenied(NO_PERSON)
        _visible(request, pk)
        task = _task_errors(lambda: task_claim(task_id=pk, person=person))
        return Response(VolunteerTaskSerializer(task, context=_context(request)).data)


class VolunteerTaskDoneApi(APIView):
    """The claimer marks the task done, or its branch confirms it: the claimer's service hours are recorded."""

    @extend_schema(request=None, responses={200: VolunteerTaskSerializer})
    def post(self, request, pk: int):
        _visible(request, pk)
        person = person_of(request.user)
        task = _task_errors(lambda: task_done(task_id=pk, actor=request.user, person=person))
        return Response(VolunteerTaskSerializer(task, context=_context(request)).data)


class VolunteerTaskCancelApi(APIView):
    """The branch that published the task withdraws it (open or claimed)."""

    @extend_schema(request=None, responses={200: VolunteerTaskSerializer})
    def post(self, request, pk: int):
        _visible(request, pk)
        task = _task_errors(lambda: task_cancel(task_id=pk, actor=request.user))
        return Response(VolunteerTaskSerializer(task, context=_context(request)).data)


class ServiceHoursMineApi(APIView):
    """The caller's service hours: the total and the latest entries (tasks done, service requests resolved)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(service_hours_of(person=person_of(request.user)))


urlpatterns = [
    path("volunteering/", VolunteerTasksApi.as_view(), name="volunteer-tasks"),
    path("volunteering/hours/mine/", ServiceHoursMineApi.as_view(), name="service-hours-mine"),
    path("volunteering/<int:pk>/claim/", VolunteerTaskClaimApi.as_view(), name="volunteer-task-claim"),
    path("volunteering/<int:pk>/done/", VolunteerTaskDoneApi.as_view(), name="volunteer-task-done"),
    path("volunteering/<int:pk>/cancel/", VolunteerTaskCancelApi.as_view(), name="volunteer-task-cancel"),
]
