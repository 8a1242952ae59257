"""Input and output shapes of the attendance API. No template ever leaves the server: enrolments show only who,
how, when and with how many photos."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from grid.models import AdminArea
from vision.attendance.models import FaceEnrolment, Meeting, MeetingCheckin
from vision.attendance.selectors import PERIODS
from vision.attendance.services import ENROL_MAX_PHOTOS


class EnrolmentInputSerializer(serializers.Serializer):
    person = serializers.IntegerField(min_value=1)
    consent = serializers.BooleanField(required=False, default=False)
    method = serializers.ChoiceField(choices=FaceEnrolment.Method.choices, required=False)
    photos = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        max_length=ENROL_MAX_PHOTOS,
        error_messages={
            "empty": _("Send 1 to %(max)d photos of the person's face.") % {"max": ENROL_MAX_PHOTOS},
            "max_length": _("Send 1 to %(max)d photos of the person's face.") % {"max": ENROL_MAX_PHOTOS},
        },
    )

    def validate_consent(self, value: bool) -> bool:
        if value is not True:
            raise serializers.ValidationError(_("Face enrolment needs the person's recorded consent (consent=true)."))
        return value


class EnrolmentSerializer(serializers.ModelSerializer):
    person_name = serializers.CharField(source="person.name", read_only=True)

    class Meta:
        model = FaceEnrolment
        fields = ["id", "person", "person_name", "method", "consent", "consent_at", "photos", "created", "active"]
        read_only_fields = fields


class SummaryQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS)
    date = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    area = serializers.CharField(required=False, max_length=12)

    def validate_date(self, value: dt.date) -> dt.date:
        if not dt.date(2000, 1, 1) <= value <= dt.date(2100, 12, 31):
            raise serializers.ValidationError(_("Give a date between 2000 and 2100."))
        return value

    def validate_area(self, value: str) -> AdminArea:
        area = AdminArea.objects.filter(code=value).first()
        if area is None:
            raise serializers.ValidationError(_("No area with this code."))
        return area

    def validate(self, attrs: dict) -> dict:
        attrs.setdefault("date", timezone.localdate())
        return attrs


class TallySerializer(serializers.Serializer):
    scheduled = serializers.IntegerField()
    present = serializers.IntegerField()
    late = serializers.IntegerField()
    absent = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    minutes = serializers.IntegerField()


class PersonTallySerializer(TallySerializer):
    person = serializers.IntegerField()
    name = serializers.CharField()


class VillageTallySerializer(TallySerializer):
    code = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)


class SummarySerializer(serializers.Serializer):
    period = serializers.CharField()
    to = serializers.DateField()
    area = serializers.CharField(allow_null=True)
    people = PersonTallySerializer(many=True)
    villages = VillageTallySerializer(many=True)

    def get_fields(self):
        # "from" is a Python keyword, so it cannot be declared in the class body
        return {"from": serializers.DateField(), **super().get_fields()}


class CheckinSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="person.name", read_only=True)

    class Meta:
        model = MeetingCheckin
        fields = ["person", "name", "at"]
        read_only_fields = fields


class MeetingSerializer(serializers.ModelSerializer):
    camera_code = serializers.CharField(source="camera.code", read_only=True)
    members = serializers.SerializerMethodField()
    checked_in = serializers.SerializerMethodField()

    class Meta:
        model = Meeting
        fields = ["id", "title", "camera", "camera_code", "starts_at", "ends_at", "members", "checked_in"]
        read_only_fields = fields

    # Members and check-ins as attendance.selectors.meetings_for prefetched them: only the people the caller may
    # see (no one of a sensitive category without clearance), and counted the same way.
    def get_members(self, meeting: Meeting) -> int:
        return len(meeting.members_visible)

    def get_checked_in(self, meeting: Meeting) -> int:
        return len(meeting.checkins_visible)


class MeetingDetailSerializer(MeetingSerializer):
    checkins = CheckinSerializer(source="checkins_visible", many=True, read_only=True)
    frames = serializers.SerializerMethodField()

    class Meta(MeetingSerializer.Meta):
        fields = [*MeetingSerializer.Meta.fields, "checkins", "frames"]
        read_only_fields = fields

    def get_frames(self, meeting: Meeting) -> list[dict]:
        request = self.context.get("request")
        frames = []
        for frame in sorted(meeting.frames.all(), key=lambda f: (f.at, f.pk)):
            path = reverse("attendance-meeting-frame", kwargs={"pk": meeting.pk, "frame_id": frame.pk})
            url = request.build_absolute_uri(path) if request is not None else path
            frames.append({"id": frame.pk, "at": serializers.DateTimeField().to_representation(frame.at), "url": url})
        return frames
