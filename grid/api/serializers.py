from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from grid.models import AdminArea, Category, Grid, Incident


class AreaRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdminArea
        fields = ["id", "code", "name", "level"]


class AreaFeatureSerializer(GeoFeatureModelSerializer):
    boundary = GeometryField(precision=6)
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = AdminArea
        geo_field = "boundary"
        fields = ["id", "code", "name", "level", "parent"]


class GridRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Grid
        fields = ["id", "code", "name", "households"]


class GridFeatureSerializer(GeoFeatureModelSerializer):
    boundary = GeometryField(precision=6)
    community = AreaRefSerializer(read_only=True)

    class Meta:
        model = Grid
        geo_field = "boundary"
        fields = ["id", "code", "name", "households", "community"]


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Category
        fields = ["code", "name", "name_en", "parent"]


class IncidentFeatureSerializer(GeoFeatureModelSerializer):
    location = GeometryField(precision=7)
    category = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    grid = GridRefSerializer(read_only=True)
    community = AreaRefSerializer(read_only=True)
    street = AreaRefSerializer(read_only=True)
    county = AreaRefSerializer(read_only=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Incident
        geo_field = "location"
        fields = [
            "id",
            "client_uuid",
            "category",
            "category_name",
            "note",
            "status",
            "created",
            "reporter",
            "grid",
            "community",
            "street",
            "county",
        ]
