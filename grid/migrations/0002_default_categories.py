"""The categories every county starts with; editable afterwards in the admin."""

from django.db import migrations

CATEGORIES = [
    ("city_appearance", "市容环境", "City appearance and environment", None),
    ("litter", "垃圾堆放", "Litter and waste", "city_appearance"),
    ("illegal_parking", "乱停乱放", "Illegal parking", "city_appearance"),
    ("public_security", "治安隐患", "Public security hazard", None),
    ("fire_hazard", "消防隐患", "Fire hazard", "public_security"),
    ("neighbour_dispute", "邻里纠纷", "Neighbour dispute", None),
    ("facility_damage", "设施损坏", "Damaged facility", None),
    ("road_damage", "道路破损", "Damaged road", "facility_damage"),
    ("street_light", "路灯故障", "Street light out", "facility_damage"),
    ("gig_worker_appeal", "新就业群体诉求", "Gig worker request", None),
    ("flood_control", "防汛", "Flood control", None),
]


def add(apps, schema_editor):
    Category = apps.get_model("grid", "Category")
    for order, (code, name, name_en, parent) in enumerate(CATEGORIES):
        Category.objects.update_or_create(code=code, defaults={
            "name": name, "name_en": name_en, "sort_order": order,
            "parent": Category.objects.get(code=parent) if parent else None})


class Migration(migrations.Migration):
    dependencies = [("grid", "0001_initial")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
