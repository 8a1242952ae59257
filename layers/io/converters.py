"""What a cell of an import file becomes: `converter(target)` gives, per target kind, the function that returns the
cell's value or raises `ValueError` with the problem, in words for the report (values masked as everywhere else:
reports are shown to the importer and stored with the job).
"""

import datetime as dt
import re
from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import override

from layers.crypto import mask_id_card, mask_phone
from layers.identifiers import CREDIT_CODE_RE, ID_CARD_RE, credit_code_check, id_card_birth_date, id_card_check
from layers.io.specs import Target
from layers.models import Gender, Organization, PersonCategory, Place, Thing, WorkKind

# Choice values: the stored code, its English label, and the Chinese words departments write.
CHOICES: dict[str, dict[str, str]] = {
    "gender": {
        "男": Gender.MALE,
        "女": Gender.FEMALE,
        "m": Gender.MALE,
        "f": Gender.FEMALE,
        "男性": Gender.MALE,
        "女性": Gender.FEMALE,
        "1": Gender.MALE,
        "2": Gender.FEMALE,
    },
    "work_kind": {
        "快递员": WorkKind.COURIER,
        "快递": WorkKind.COURIER,
        "快递小哥": WorkKind.COURIER,
        "外卖骑手": WorkKind.FOOD_DELIVERY,
        "外卖": WorkKind.FOOD_DELIVERY,
        "骑手": WorkKind.FOOD_DELIVERY,
        "外卖员": WorkKind.FOOD_DELIVERY,
        "网约车司机": WorkKind.RIDE_HAILING,
        "网约车": WorkKind.RIDE_HAILING,
        "货车司机": WorkKind.TRUCK_DRIVER,
        "货运司机": WorkKind.TRUCK_DRIVER,
        "卡车司机": WorkKind.TRUCK_DRIVER,
        "主播": WorkKind.LIVE_STREAMER,
        "网络主播": WorkKind.LIVE_STREAMER,
        "带货主播": WorkKind.LIVE_STREAMER,
    },
    "categories": {
        "户籍人口": PersonCategory.REGISTERED,
        "户籍": PersonCategory.REGISTERED,
        "流动人口": PersonCategory.FLOATING,
        "留守儿童": PersonCategory.LEFT_BEHIND_CHILD,
        "留守老人": PersonCategory.LEFT_BEHIND_ELDER,
        "独居老人": PersonCategory.ELDERLY_ALONE,
        "空巢老人": PersonCategory.ELDERLY_ALONE,
        "残疾人": PersonCategory.DISABLED,
        "低保": PersonCategory.LOW_INCOME,
        "低收入": PersonCategory.LOW_INCOME,
        "刑满释放": PersonCategory.RELEASED,
        "刑满释放人员": PersonCategory.RELEASED,
        "社区戒毒": PersonCategory.DRUG_REHAB,
        "吸毒人员": PersonCategory.DRUG_REHAB,
        "退役军人": PersonCategory.VETERAN,
        "新就业形态劳动者": PersonCategory.GIG_WORKER,
        "新业态": PersonCategory.GIG_WORKER,
        "党员": PersonCategory.PARTY_MEMBER,
        "干部": PersonCategory.CADRE,
    },
    "place_kind": {
        "餐饮": Place.Kind.DINING,
        "购物": Place.Kind.SHOPPING,
        "商超": Place.Kind.SHOPPING,
        "住宿": Place.Kind.LODGING,
        "酒店": Place.Kind.LODGING,
        "交通": Place.Kind.TRANSIT,
        "教育": Place.Kind.EDUCATION,
        "学校": Place.Kind.EDUCATION,
        "医疗": Place.Kind.MEDICAL,
        "政务": Place.Kind.GOVERNMENT,
        "文体": Place.Kind.CULTURE,
        "小区": Place.Kind.RESIDENTIAL,
        "其他": Place.Kind.OTHER,
    },
    "thing_kind": {
        "消防栓": Thing.Kind.HYDRANT,
        "摄像头": Thing.Kind.CAMERA,
        "井盖": Thing.Kind.MANHOLE,
        "路灯": Thing.Kind.STREET_LIGHT,
        "除颤仪": Thing.Kind.AED,
        "垃圾桶": Thing.Kind.BIN,
        "充电桩": Thing.Kind.CHARGING_PILE,
        "灭火器": Thing.Kind.EXTINGUISHER,
        "其他": Thing.Kind.OTHER,
    },
    "condition": {
        "正常": Thing.Condition.OK,
        "完好": Thing.Condition.OK,
        "损坏": Thing.Condition.DAMAGED,
        "报废": Thing.Condition.RETIRED,
    },
    "organization_kind": {
        "党委": Organization.Kind.PARTY_COMMITTEE,
        "党总支": Organization.Kind.GENERAL_BRANCH,
        "党支部": Organization.Kind.BRANCH,
        "企业": Organization.Kind.ENTERPRISE,
        "平台": Organization.Kind.PLATFORM,
        "平台企业": Organization.Kind.PLATFORM,
        "协会": Organization.Kind.ASSOCIATION,
        "社会组织": Organization.Kind.ASSOCIATION,
        "部门": Organization.Kind.DEPARTMENT,
    },
}
# The English labels, whichever language is active when this module is first imported.
with override("en"):
    for _name, _choices in (
        ("gender", Gender),
        ("work_kind", WorkKind),
        ("categories", PersonCategory),
        ("place_kind", Place.Kind),
        ("thing_kind", Thing.Kind),
        ("condition", Thing.Condition),
        ("organization_kind", Organization.Kind),
    ):
        for _value, _label in _choices.choices:
            CHOICES[_name].setdefault(_value, _value)
            CHOICES[_name].setdefault(str(_label).lower(), _value)

_PHONE_RE = re.compile(r"^(\+?86)?(1[3-9]\d{9}|0\d{2,3}\d{7,8})$")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _id_card(value: object) -> str:
    if isinstance(value, int | float):
        raise ValueError(
            _(
                "stored as a number (a spreadsheet keeps only 15 digits of it): format the column as "
                "text and export again"
            )
        )
    text = "".join(_text(value).split()).upper()
    if not ID_CARD_RE.match(text):
        raise ValueError(_("%(value)s is not an 18-character ID-card number") % {"value": mask_id_card(text)})
    try:
        id_card_birth_date(text)
    except ValueError as exc:
        raise ValueError(_("%(value)s holds no valid birth date") % {"value": mask_id_card(text)}) from exc
    if id_card_check(text) != text[17]:
        raise ValueError(_("%(value)s: wrong check digit (GB 11643)") % {"value": mask_id_card(text)})
    return text


def _phone(value: object) -> str:
    text = re.sub(r"[\s\-()]", "", _text(value))
    if text and not _PHONE_RE.match(text):
        raise ValueError(_("%(value)s is not a mobile or landline number") % {"value": mask_phone(text)})
    return text


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(text[:10] if pattern == "%Y-%m-%d" else text, pattern).date()
        except ValueError:
            continue
    raise ValueError(_("%(value)s is not a date (write 2024-05-31)") % {"value": text})


def _bool(value: object) -> bool | None:
    text = _text(value).lower()
    if text in ("",):
        return None
    if text in ("是", "1", "true", "yes", "y", "t"):
        return True
    if text in ("否", "0", "false", "no", "n", "f"):
        return False
    raise ValueError(_("%(value)s is not yes/no (是/否)") % {"value": text})


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError as exc:
            raise ValueError(_("%(value)s is not a number") % {"value": value}) from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(_("%(value)s is not a number") % {"value": value})
    return number


def _credit_code(value: object) -> str:
    text = _text(value).upper()
    if text and (not CREDIT_CODE_RE.match(text) or credit_code_check(text) != text[17]):
        raise ValueError(_("%(value)s is not a valid unified social credit code (GB 32100)") % {"value": text})
    return text


def _choice(name: str) -> Callable[[object], str]:
    table = CHOICES[name]

    def convert(value: object) -> str:
        text = _text(value)
        if not text:
            return ""
        found = table.get(text) or table.get(text.lower())
        if found is None:
            raise ValueError(
                _("%(value)s is not one of %(known)s")
                % {"value": text, "known": "、".join(k for k in table if not k.isascii())}
            )
        return str(found)

    return convert


def _categories(value: object) -> list[str]:
    convert = _choice("categories")
    return sorted({convert(part) for part in re.split(r"[,，;；、/|]", _text(value)) if part.strip()})


def converter(target: Target) -> Callable[[object], object]:
    """The function that turns a cell into the target's value, raising ValueError with the problem."""
    if target.kind == "id_card":
        return _id_card
    if target.kind == "phone":
        return _phone
    if target.kind == "date":
        return _date
    if target.kind == "bool":
        return _bool
    if target.kind == "float":
        return _float
    if target.kind == "credit_code":
        return _credit_code
    if target.kind == "categories":
        return _categories
    if target.kind in CHOICES:
        return _choice(target.kind)
    limit = target.max_length

    def text(value: object) -> str:
        result = _text(value)
        if limit and len(result) > limit:
            raise ValueError(_("longer than %(n)d characters") % {"n": limit})
        return result

    return text
