"""The engagement API: the station mall. Items at the nearest stations, a member's orders (placed, listed,
cancelled) and the station keeper's confirmation of a pickup."""

from django.contrib.gis.geos import Point
from django.urls import path
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from engagement.access import person_of, stations_kept_by
from engagement.api.params import NearField
from engagement.api.points import PointsPagination, insufficient
from engagement.models import MallItem, MallOrder
from engagement.qr import qr_png_data_uri
from engagement.selectors.mall import mall_items_near, mall_order_for_pickup, mall_orders_of
from engagement.selectors.points import name_masked
from engagement.services.mall import (
    NotOffered,
    OrderConflict,
    OutOfStock,
    mall_order_cancel,
    mall_order_place,
    mall_pickup_confirm,
    pickup_code_normal,
)
from engagement.services.points import InsufficientPoints
from grid.api.errors import Conflict
from grid.crs import CRS, to_wgs84


def _member(user):
    person = person_of(user)
    if person is None:
        raise PermissionDenied(_("Only accounts with a member record order in the mall."))
    return person


class StationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    distance_m = serializers.SerializerMethodField(help_text=_("metres from the point asked about"))

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_distance_m(self, station) -> float | None:
        distance = getattr(station, "distance", None)
        return None if distance is None else round(distance.m, 1)


class PictureMixin(serializers.Serializer):
    picture = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_picture(self, item: MallItem) -> str | None:
        return item.picture.url if item.picture else None


class MallItemSerializer(PictureMixin, serializers.ModelSerializer):
    station = StationRefSerializer()

    class Meta:
        model = MallItem
        fields = ["id", "name", "description", "picture", "price", "stock", "station"]


class ItemRefSerializer(PictureMixin, serializers.ModelSerializer):
    station = StationRefSerializer()

    class Meta:
        model = MallItem
        fields = ["id", "name", "picture", "station"]


class MallOrderSerializer(serializers.ModelSerializer):
    item = ItemRefSerializer()
    status_name = serializers.CharField(source="get_status_display")
    pickup_qr = serializers.SerializerMethodField(
        help_text=_("the pickup code as a QR code (a PNG data URI), while the order waits for pickup")
    )

    class Meta:
        model = MallOrder
        fields = [
            "id",
            "item",
            "points",
            "status",
            "status_name",
            "pickup_code",
            "pickup_qr",
            "client_uuid",
            "ordered_at",
            "picked_up_at",
            "cancelled_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_pickup_qr(self, order: MallOrder) -> str | None:
        if order.status != MallOrder.Status.ORDERED:
            return None
        return qr_png_data_uri(order.pickup_code)


class PickupSerializer(serializers.ModelSerializer):
    """What the keeper sees of an order handed over: the item, the points and the member's masked name."""

    item = ItemRefSerializer()
    member = serializers.SerializerMethodField()
    status_name = serializers.CharField(source="get_status_display")

    class Meta:
        model = MallOrder
        fields = ["id", "item", "member", "points", "status", "status_name", "pickup_code", "picked_up_at"]

    @extend_schema_field(serializers.CharField())
    def get_member(self, order: MallOrder) -> str:
        return name_masked(order.person.name)


class ItemsQuerySerializer(serializers.Serializer):
    near = NearField(help_text=_("lon,lat: items at the stations nearest it"))
    crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)
    stations = serializers.IntegerField(min_value=1, max_value=20, default=5, help_text=_("how many stations"))

    def validate(self, attrs):
        if "near" in attrs:
            lon, lat = to_wgs84(*attrs.pop("near"), attrs["crs"])
            attrs["point"] = Point(lon, lat, srid=4326)
        return attrs


class MallItemListApi(APIView):
    """The items on offer at the stations nearest `near` (nearest first, each with its station's name and
    distance); without `near`, at the first stations by name."""

    @extend_schema(parameters=[ItemsQuerySerializer], responses={200: MallItemSerializer(many=True)})
    def get(self, request):
        data = ItemsQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        items = mall_items_near(point=v.get("point"), stations=v["stations"])
        return Response(MallItemSerializer(items, many=True).data)


class OrderInputSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text=_("the item's id"))
    client_uuid = serializers.UUIDField(help_text=_("the phone's id of this order: a resend answers the same order"))

    def validate_item(self, value: int) -> MallItem:
        item = MallItem.objects.filter(pk=value, active=True).first()
        if item is None:
            raise serializers.ValidationError(_("There is no such item on offer."))
        return item


class MallOrderListCreateApi(APIView):
    """Order one item for points (201; a resent client_uuid answers 200 with the same order). The price is taken
    from the balance and one from the stock in one step; a balance below the price or an item out of stock is a
    409 that names them, and nothing is written."""

    @extend_schema(request=OrderInputSerializer, responses={201: MallOrderSerializer, 200: MallOrderSerializer})
    def post(self, request):
        data = OrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = _member(request.user)
        item = data.validated_data["item"]
        try:
            order, created = mall_order_place(person=person, item=item, client_uuid=data.validated_data["client_uuid"])
        except InsufficientPoints as exc:
            return insufficient(exc, message=_("Your balance is %(balance)d points; this item costs %(price)d."))
        except OutOfStock:
            raise Conflict(_("“%(name)s” is out of stock.") % {"name": item.name}) from None
        except NotOffered:
            raise serializers.ValidationError({"item": [_("There is no such item on offer.")]}) from None
        except OrderConflict:
            raise Conflict(_("This client_uuid belongs to another order.")) from None
        return Response(
            MallOrderSerializer(order).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class MallOrdersMineApi(generics.ListAPIView):
    """The caller's orders, newest first, each waiting one with its pickup code and QR code."""

    serializer_class = MallOrderSerializer
    pagination_class = PointsPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator asks without a caller
            return MallOrder.objects.none()
        return mall_orders_of(person=_member(self.request.user))


class MallOrderCancelApi(APIView):
    """The member cancels an order not yet picked up: the points return (a new ledger entry) and so does the item
    to stock. Another member's order is a 404; a picked-up one a 409."""

    @extend_schema(request=None, responses={200: MallOrderSerializer})
    def post(self, request, order_id: int):
        person = _member(request.user)
        order = mall_orders_of(person=person).filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("No such order."))
        try:
            order = mall_order_cancel(order=order, by=request.user)
        except OrderConflict:
            raise Conflict(_("This order was picked up already and cannot be cancelled.")) from None
        return Response(MallOrderSerializer(order).data)


class PickupInputSerializer(serializers.Serializer):
    pickup_code = serializers.CharField(max_length=40, help_text=_("as scanned from the member's QR code or typed"))

    def validate_pickup_code(self, value: str) -> str:
        code = pickup_code_normal(value)
        if not code.isalnum() or not code.isascii():
            raise serializers.ValidationError(_("A pickup code is letters and digits."))
        return code


class KeepsAStation(permissions.BasePermission):
    message = _("Only station keepers confirm pickups.")

    def has_permission(self, request, view):
        return stations_kept_by(request.user).exists()


class MallPickupApi(APIView):
    """The station keeper confirms the pickup of the order that a code names: the item changes hands. A code of
    another station's order is a 404, as one that does not exist; a code used before is a 409 naming it."""

    permission_classes = [permissions.IsAuthenticated, KeepsAStation]

    @extend_schema(request=PickupInputSerializer, responses={200: PickupSerializer})
    def post(self, request):
        data = PickupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data["pickup_code"]
        order = mall_order_for_pickup(code=code, keeper=request.user)
        if order is None:
            raise NotFound(_("No order with the pickup code %(code)s waits at your stations.") % {"code": code})
        try:
            order = mall_pickup_confirm(order=order, keeper=request.user)
        except OrderConflict as exc:
            if exc.order.status == MallOrder.Status.PICKED_UP:
                when = formats.date_format(timezone.localtime(exc.order.picked_up_at), "SHORT_DATETIME_FORMAT")
                message = _("The pickup code %(code)s was used already: picked up %(when)s.")
                raise Conflict(message % {"code": code, "when": when}) from None
            raise Conflict(_("The order of pickup code %(code)s was cancelled.") % {"code": code}) from None
        return Response(PickupSerializer(order).data)


urlpatterns = [
    path("mall/items/", MallItemListApi.as_view(), name="mall-items"),
    path("mall/orders/", MallOrderListCreateApi.as_view(), name="mall-orders"),
    path("mall/orders/mine/", MallOrdersMineApi.as_view(), name="mall-orders-mine"),
    path("mall/orders/<int:order_id>/cancel/", MallOrderCancelApi.as_view(), name="mall-order-cancel"),
    path("mall/pickups/", MallPickupApi.as_view(), name="mall-pickups"),
]
