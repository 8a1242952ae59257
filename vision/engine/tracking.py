"""Tracking and line/zone counting over detections from any backend.

`Tracker` runs ultralytics' ByteTrack (`ultralytics.trackers.byte_tracker.BYTETracker`, the tracker of
`model.track()`) on our `Detection`s, so the ONNX and HOG backends get the same tracking as the ultralytics
one: we hand it the small "results" object it reads (conf, cls, xywh, xyxy, boolean indexing) instead of an
ultralytics `Boxes`. `LineCounter` turns tracks into crossings of a counting line; `in_zone` places a box in a
zone. Both work in normalised image coordinates (0…1, origin top left), as cameras store their line and zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vision.engine import runtime

if TYPE_CHECKING:
    import numpy as np

    from vision.engine.detectors import Detection

# numpy and ultralytics come with the vision extra: imported inside the functions that use them.

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Track:
    track_id: int
    class_name: str
    box: Box  # pixels: x1, y1, x2, y2 (ByteTrack's Kalman-smoothed box)


class _Detections:
    """The slice of ultralytics' `Boxes` API that BYTETracker reads, over plain numpy arrays."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray):
        import numpy as np

        self.xyxy = xyxy
        self.conf = conf
        self.cls = cls
        self.xywh = np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index) -> _Detections:
        return _Detections(self.xyxy[index], self.conf[index], self.cls[index])


class Tracker:
    """ByteTrack over detections from any backend. One Tracker per camera stream, fed consecutive frames;
    `frame_rate` scales how long a lost track is kept (ByteTrack's track_buffer is in frames at 30 fps)."""

    def __init__(self, *, frame_rate: int = 30, **overrides):
        runtime.prepare()
        from ultralytics.trackers.byte_tracker import BYTETracker
        from ultralytics.utils import YAML, IterableSimpleNamespace

        config = YAML.load(runtime.ultralytics_package() / "cfg" / "trackers" / "bytetrack.yaml")
        config.update(overrides)
        if frame_rate != 30:
            config["track_buffer"] = max(1, round(config["track_buffer"] * frame_rate / 30))
        self._tracker = BYTETracker(IterableSimpleNamespace(**config))
        self._class_ids: dict[str, int] = {}
        self._class_names: list[str] = []

    def update(self, detections: list[Detection], frame: np.ndarray | None = None) -> list[Track]:
        """The tracks confirmed in this frame (a new object needs two frames in a row, except in the first)."""
        import numpy as np

        xyxy = np.asarray([d.box for d in detections], dtype=np.float32).reshape(-1, 4)
        conf = np.asarray([d.confidence for d in detections], dtype=np.float32)
        cls = np.asarray([self._class_id(d.class_name) for d in detections], dtype=np.float32)
        rows = self._tracker.update(_Detections(xyxy, conf, cls), frame)
        return [Track(int(row[4]), self._class_names[int(row[6])], tuple(float(v) for v in row[:4])) for row in rows]

    def _class_id(self, name: str) -> int:
        if name not in self._class_ids:
            self._class_ids[name] = len(self._class_names)
            self._class_names.append(name)
        return self._class_ids[name]


@dataclass
class _TrackState:
    side: int  # -1 or +1: the side of the line the track's anchor was last seen on, outside the jitter band
    point: tuple[float, float]  # where it was then (pixels)
    last_seen: int
    counted: set[str] = field(default_factory=set)  # directions already counted for this track


class LineCounter:
    """Counts tracks whose anchor point (the box's bottom centre: where a person stands) crosses a segment.

    A crossing counts when a track's anchor is seen on one side of the line and later on the other, both times
    farther than `jitter` (a fraction of the frame's diagonal) from the line, and the path between the two points
    passes through the segment itself, not its extension. Each track counts at most once per direction, so a box
    trembling on the line, or a person stepping back and forth, is not counted again.

    Directions, with the line drawn from its first point A to its second B: "in" is the direction of A→B turned a
    quarter turn counter-clockwise as seen on the image. For a line drawn top to bottom, "in" is moving left to
    right; for a line drawn left to right, "in" is moving upwards. Swap the line's points to swap in and out.
    """

    def __init__(
        self,
        line: Sequence[Sequence[float]],
        frame_size: tuple[int, int],
        *,
        jitter: float = 0.01,
        anchor: str = "bottom",
        forget_after: int = 300,
    ):
        (ax, ay), (bx, by) = line
        width, height = frame_size
        self.a = (ax * width, ay * height)
        self.b = (bx * width, by * height)
        self.length = ((self.b[0] - self.a[0]) ** 2 + (self.b[1] - self.a[1]) ** 2) ** 0.5
        if self.length == 0:
            raise ValueError("a counting line needs two distinct points")
        self.band = jitter * (width**2 + height**2) ** 0.5
        self.anchor = anchor
        self.forget_after = forget_after
        self.total_in = 0
        self.total_out = 0
        self._tracks: dict[int, _TrackState] = {}
        self._frame = 0

    def update(self, tracks: list[Track]) -> tuple[int, int]:
        """New crossings in this frame: (in, out)."""
        self._frame += 1
        new_in = new_out = 0
        for track in tracks:
            point = anchor_point(track.box, self.anchor)
            distance = self._signed_distance(point)
            state = self._tracks.get(track.track_id)
            if state is not None:
                state.last_seen = self._frame
            if abs(distance) <= self.band:
                continue  # on the line, within the jitter band: wait until it is clearly on one side
            side = 1 if distance > 0 else -1
            if state is None:
                self._tracks[track.track_id] = _TrackState(side, point, self._frame)
                continue
            if side != state.side and self._crosses_segment(state.point, point):
                direction = "in" if state.side > 0 else "out"
                if direction not in state.counted:
                    state.counted.add(direction)
                    if direction == "in":
                        new_in += 1
                    else:
                        new_out += 1
            state.side, state.point = side, point
        self._forget_stale()
        self.total_in += new_in
        self.total_out += new_out
        return new_in, new_out

    def _signed_distance(self, point: tuple[float, float]) -> float:
        """Distance from the line in pixels, positive on the side that "in" leaves (see the class docstring)."""
        (ax, ay), (bx, by) = self.a, self.b
        return ((bx - ax) * (point[1] - ay) - (by - ay) * (point[0] - ax)) / self.length

    def _crosses_segment(self, p: tuple[float, float], q: tuple[float, float]) -> bool:
        """Whether the path p→q (which changes side of the infinite line) meets the segment A–B."""
        dp, dq = self._signed_distance(p), self._signed_distance(q)
        t = dp / (dp - dq)  # where along p→q the line is met
        x, y = p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])
        (ax, ay), (bx, by) = self.a, self.b
        along = ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / self.length**2
        return -1e-6 <= along <= 1 + 1e-6

    def _forget_stale(self) -> None:
        stale = [tid for tid, s in self._tracks.items() if self._frame - s.last_seen > self.forget_after]
        for track_id in stale:
            del self._tracks[track_id]


def anchor_point(box: Sequence[float], anchor: str = "bottom") -> tuple[float, float]:
    """The box's bottom centre (where a person stands), or its centre."""
    x1, y1, x2, y2 = box
    return ((x1 + x2) / 2, y2 if anchor == "bottom" else (y1 + y2) / 2)


def in_zone(box: Sequence[float], zone: Sequence[Sequence[float]], frame_size: tuple[int, int]) -> bool:
    """Whether the box's bottom centre lies in the zone (a normalised polygon; its boundary counts as inside)."""
    width, height = frame_size
    px, py = anchor_point(box, "bottom")
    points = [(x * width, y * height) for x, y in zone]
    if len(points) < 3:
        return False
    inside = False
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        if _on_segment(px, py, x1, y1, x2, y2):
            return True
        if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _on_segment(px: float, py: float, x1: float, y1: float, x2: float, y2: float, eps: float = 1e-9) -> bool:
    cross = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
    if abs(cross) > eps * max(1.0, abs(x2 - x1) + abs(y2 - y1)):
        return False
    return min(x1, x2) - eps <= px <= max(x1, x2) + eps and min(y1, y2) - eps <= py <= max(y1, y2) + eps
