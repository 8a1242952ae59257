"""Faces: find them in a frame, reduce each to a template, and tell enrolled people from strangers.

Two methods, chosen by settings.VISION_FACE_METHOD or per engine:

- "lbph": OpenCV finds faces with its Haar cascades (frontalface default, then alt2 where the first finds none);
  each face is aligned on its eyes where the eye cascade finds both, cropped, made grayscale, equalised and
  resized to a fixed square; opencv-contrib's LBPH recogniser turns it into local binary pattern histograms. A
  person's template is those histograms (never the photo), and a face's distance to it is LBPH's own measure,
  the chi-square distance (HISTCMP_CHISQR_ALT) to the nearest of them: what LBPHFaceRecognizer.predict computes
  with a model trained on that person's crops.
- "dlib": dlib's HOG face detector (better than Haar on turned and small faces), its 5-point shape predictor to
  align, and its ResNet model for a 128-d embedding; the distance is Euclidean to the nearest enrolled
  embedding. Model files come from the face_recognition_models package (found by path: its __init__ imports
  pkg_resources, which recent setuptools no longer ships).

A face farther than the threshold from every template is a stranger: key None, and nothing about it is kept.
Everything heavy (cv2, dlib, numpy) is imported inside functions, so that web code may import this module.
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    import numpy as np

METHODS = ("lbph", "dlib")
# The side of the normalised face crop that LBPH reads; its 8x8 grid then sees 12-pixel cells.
FACE_SIZE = 96
# Frames are searched at most this large (longest side); a bigger frame is shrunk first, for speed.
SEARCH_MAX_SIDE = 1280
# Faces smaller than this (pixels, in the searched image) are too coarse to tell people apart.
MIN_FACE = 36
# Enrolment adds these in-plane rotations (degrees) and zooms of every crop, and their mirror images: a camera
# sees a head a little tilted or from the other side, and the cascade's box is ±10% of the face's size.
ENROL_ROTATIONS = (-8.0, 0.0, 8.0)
ENROL_ZOOMS = (0.9, 1.0, 1.1)
_MAGIC = b"GLFACE1\n"


class NoFace(ValueError):
    """Enrolment photos in which no face was found: `indexes` (0-based positions in the list given), `index` the
    first of them."""

    def __init__(self, index: int = 0, indexes: list[int] | None = None):
        self.indexes = list(indexes) if indexes else [index]
        self.index = self.indexes[0]
        super().__init__("no face found in image " + ", ".join(str(i + 1) for i in self.indexes))


@dataclass(frozen=True)
class FaceMatch:
    """One face in a frame: where (x1, y1, x2, y2 in pixels), whose (an enrolment key, or None for a stranger)
    and how far from that key's template (or from the nearest one, for a stranger; inf with no templates)."""

    box: tuple[int, int, int, int]
    key: int | None
    distance: float


def available_methods() -> list[str]:
    """The methods that can run here: lbph needs opencv-contrib, dlib needs dlib and face_recognition_models."""
    found = []
    try:
        import cv2

        if hasattr(cv2, "face"):
            found.append("lbph")
    except ImportError:
        pass
    try:
        import dlib  # noqa: F401

        if _dlib_model_dir() is not None:
            found.append("dlib")
    except ImportError:
        pass
    return found


def default_threshold(method: str) -> float:
    return float(settings.VISION_FACE_THRESHOLD_DLIB if method == "dlib" else settings.VISION_FACE_THRESHOLD_LBPH)


class FaceEngine:
    """Enrols faces as templates and identifies the faces of a frame against templates (see the module doc)."""

    def __init__(self, method: str | None = None, threshold: float | None = None):
        method = method or settings.VISION_FACE_METHOD
        if method not in METHODS:
            raise ValueError(f"unknown face method {method!r}; expected one of {', '.join(METHODS)}")
        self.method = method
        self.threshold = default_threshold(method) if threshold is None else float(threshold)
        self._backend = _DlibBackend() if method == "dlib" else _LbphBackend()

    def enrol(self, images: list[np.ndarray]) -> bytes:
        """The template of the one person shown in `images` (BGR or grayscale uint8): the largest face of each.

        Raises NoFace (naming every image that shows none) after looking at all of them; ValueError for no images.
        """
        import numpy as np

        if not images:
            raise ValueError("no images to enrol")
        vectors, missing = [], []
        for index, image in enumerate(images):
            image = _as_bgr(image)
            boxes = self._backend.find(image)
            if not boxes:
                missing.append(index)
                continue
            largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
            vectors.extend(self._backend.describe(image, largest, enrol=True))
        if missing:
            raise NoFace(indexes=missing)
        return _pack(self.method, np.stack(vectors).astype(np.float32))

    def identify(self, frame: np.ndarray, templates: dict[int, bytes]) -> list[FaceMatch]:
        """Every face in `frame` (BGR uint8) with the key of the template it matches within the threshold."""
        import numpy as np

        frame = _as_bgr(frame)
        boxes = self._backend.find(frame)
        if not boxes:
            return []
        unpacked = [(key, _unpack(self.method, blob)) for key, blob in templates.items()]
        matches = []
        for box in boxes:
            vector = self._backend.describe(frame, box, enrol=False)[0]
            best_key, best = None, math.inf
            for key, rows in unpacked:
                distance = float(np.min(self._backend.distances(vector, rows)))
                if distance < best:
                    best_key, best = key, distance
            matches.append(FaceMatch(box=box, key=best_key if best <= self.threshold else None, distance=best))
        return matches

    def distance(self, image: np.ndarray, template: bytes) -> float:
        """The distance of the largest face of `image` to `template` (inf with no face): for tuning thresholds."""
        import numpy as np

        image = _as_bgr(image)
        boxes = self._backend.find(image)
        if not boxes:
            return math.inf
        largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        vector = self._backend.describe(image, largest, enrol=False)[0]
        return float(np.min(self._backend.distances(vector, _unpack(self.method, template))))


# Templates: a magic line, the method, then the vectors as a compressed .npy (float16 for LBPH's histograms,
# whose bins are fractions of a cell's 144 pixels, float32 for embeddings). No pickle: a template is data.


def _pack(method: str, vectors: np.ndarray) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, vectors.astype(np.float16 if method == "lbph" else np.float32), allow_pickle=False)
    return _MAGIC + method.encode() + b"\n" + zlib.compress(buffer.getvalue(), 6)


def _unpack(method: str, blob: bytes) -> np.ndarray:
    import numpy as np

    if not blob.startswith(_MAGIC):
        raise ValueError("not a face template")
    stored, _, body = blob[len(_MAGIC) :].partition(b"\n")
    if stored.decode() != method:
        raise ValueError(f"a {stored.decode()} template cannot be compared by the {method} method")
    return np.load(io.BytesIO(zlib.decompress(body)), allow_pickle=False).astype(np.float32)


def template_method(blob: bytes) -> str:
    """The method a template was made with."""
    if not blob.startswith(_MAGIC):
        raise ValueError("not a face template")
    return blob[len(_MAGIC) :].partition(b"\n")[0].decode()


def _as_bgr(image: np.ndarray) -> np.ndarray:
    import cv2
    import numpy as np

    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError("images must be uint8")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"not an image: shape {image.shape}")


def _shrink(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The image at most SEARCH_MAX_SIDE on its longest side, and the factor back to the original's pixels."""
    import cv2

    height, width = image.shape[:2]
    scale = SEARCH_MAX_SIDE / max(height, width)
    if scale >= 1:
        return image, 1.0
    small = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return small, 1 / scale


# LBPH -------------------------------------------------------------------------------------------------------


@cache
def _cascade(name: str):
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if cascade.empty():
        raise RuntimeError(f"OpenCV cascade {name} could not be loaded")
    return cascade


def haar_faces(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces by OpenCV's Haar cascades, as (x1, y1, x2, y2) in the image's pixels."""
    import cv2

    small, back = _shrink(image)
    gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
    found, votes = [], []
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml"):
        # minNeighbors 5: the textbook value, which keeps the background's faces-by-chance out.
        found, votes = _cascade(name).detectMultiScale2(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE, MIN_FACE)
        )
        if len(found):
            break
    return [
        (round(x * back), round(y * back), round((x + w) * back), round((y + h) * back))
        for x, y, w, h in _suppress([tuple(box) for box in found], list(votes))
    ]


def _suppress(boxes: list, votes: list) -> list:
    """One box per face: where boxes overlap (the cascade groups one face at two scales, a tight box with many
    votes and a loose one with few), the one with more votes stays."""
    order = sorted(range(len(boxes)), key=lambda i: -votes[i])
    kept: list = []
    for i in order:
        x, y, w, h = boxes[i]
        overlaps = False
        for kx, ky, kw, kh in kept:
            ix = max(0, min(x + w, kx + kw) - max(x, kx))
            iy = max(0, min(y + h, ky + kh) - max(y, ky))
            if ix * iy > 0.5 * min(w * h, kw * kh):
                overlaps = True
                break
        if not overlaps:
            kept.append((x, y, w, h))
    return kept


def _eye_angle(gray_face: np.ndarray) -> float | None:
    """The tilt of the line through both eyes (degrees), where the eye cascade finds one eye in each upper
    quarter of the face; None otherwise (the crop is then used as found)."""
    size = gray_face.shape[0]
    upper = gray_face[: size // 2]
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(
        upper, scaleFactor=1.1, minNeighbors=5, minSize=(size // 8, size // 8), maxSize=(size // 3, size // 3)
    )
    left = [e for e in eyes if e[0] + e[2] / 2 < size / 2]
    right = [e for e in eyes if e[0] + e[2] / 2 >= size / 2]
    if len(left) != 1 or len(right) != 1:
        return None
    (lx, ly, lw, lh), (rx, ry, rw, rh) = left[0], right[0]
    angle = math.degrees(math.atan2((ry + rh / 2) - (ly + lh / 2), (rx + rw / 2) - (lx + lw / 2)))
    return angle if abs(angle) <= 25 else None


def face_crop(
    image: np.ndarray, box: tuple[int, int, int, int], *, rotate: float = 0.0, zoom: float = 1.0
) -> np.ndarray:
    """The face in `box` as LBPH reads it: grayscale, eyes levelled where found, FACE_SIZE square, equalised.

    The crop is cut from the whole image around the box's centre (so that turning it brings in real pixels,
    not black corners) and smoothed a little: local binary patterns react to every pixel of sensor noise or
    JPEG blocking, a 3x3 Gaussian keeps the edges that tell faces apart.
    """
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    scale = FACE_SIZE * zoom / side

    def cut(angle: float) -> np.ndarray:
        matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        matrix[0, 2] += FACE_SIZE / 2 - cx
        matrix[1, 2] += FACE_SIZE / 2 - cy
        return cv2.warpAffine(
            gray, matrix, (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
        )

    upright = cut(0.0)
    tilt = _eye_angle(cv2.equalizeHist(upright)) or 0.0
    face = cut(tilt + rotate) if tilt or rotate else upright
    return cv2.equalizeHist(cv2.GaussianBlur(face, (3, 3), 0))


@cache
def _lbph_histogram_model():
    import cv2

    if not hasattr(cv2, "face"):
        raise RuntimeError("LBPH needs opencv-contrib (cv2.face)")
    return cv2.face


def lbph_histograms(crops: list[np.ndarray]) -> np.ndarray:
    """LBPH's spatial histograms of normalised crops: one row each (OpenCV defaults: radius 1, 8 neighbours,
    8x8 grid → 16,384 bins)."""
    import numpy as np

    recogniser = _lbph_histogram_model().LBPHFaceRecognizer_create()
    recogniser.train(crops, np.zeros(len(crops), dtype=np.int32))
    return np.concatenate(recogniser.getHistograms(), axis=0)


def chi_square(vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """OpenCV's HISTCMP_CHISQR_ALT (LBPH's predict distance) from one histogram to each row."""
    import numpy as np

    total = rows + vector
    diff = (rows - vector) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(total > 0, diff / total, 0.0)
    return 2.0 * terms.sum(axis=1)


class _LbphBackend:
    def find(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        return haar_faces(image)

    def describe(self, image: np.ndarray, box: tuple[int, int, int, int], *, enrol: bool) -> list[np.ndarray]:
        import cv2

        if not enrol:
            return list(lbph_histograms([face_crop(image, box)]))
        crops = [face_crop(image, box, rotate=angle, zoom=zoom) for angle in ENROL_ROTATIONS for zoom in ENROL_ZOOMS]
        crops += [cv2.flip(crop, 1) for crop in crops]
        return list(lbph_histograms(crops))

    def distances(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return chi_square(vector, rows)


# dlib -------------------------------------------------------------------------------------------------------


def _dlib_model_dir():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    needed = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")
    return folder if all((folder / name).is_file() for name in needed) else None


@cache
def _dlib_models():
    import dlib

    folder = _dlib_model_dir()
    if folder is None:
        raise RuntimeError("the dlib method needs the face_recognition_models package")
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat")),
        dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat")),
    )


class _DlibBackend:
    def find(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        import cv2

        detector, _, _ = _dlib_models()
        small, back = _shrink(image)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        # dlib's HOG window is 80 px; searching the image upsampled once finds faces down to ~40 px, the size of a
        # face across a duty room in a 1280x720 frame (~0.5 s a frame on one core, about what the cascade takes).
        height, width = image.shape[:2]
        boxes = []
        for rect in detector(rgb, 1):
            x1, y1 = max(0, round(rect.left() * back)), max(0, round(rect.top() * back))
            x2, y2 = min(width, round(rect.right() * back)), min(height, round(rect.bottom() * back))
            if x2 - x1 >= MIN_FACE // 2 and y2 - y1 >= MIN_FACE // 2:
                boxes.append((x1, y1, x2, y2))
        return boxes

    def describe(self, image: np.ndarray, box: tuple[int, int, int, int], *, enrol: bool) -> list[np.ndarray]:
        import cv2
        import dlib
        import numpy as np

        _, predictor, model = _dlib_models()
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        shape = predictor(rgb, dlib.rectangle(*box))
        vectors = [np.asarray(model.compute_face_descriptor(rgb, shape), dtype=np.float32)]
        if enrol:
            mirrored = np.ascontiguousarray(rgb[:, ::-1])
            width = rgb.shape[1]
            x1, y1, x2, y2 = box
            shape = predictor(mirrored, dlib.rectangle(width - x2, y1, width - x1, y2))
            vectors.append(np.asarray(model.compute_face_descriptor(mirrored, shape), dtype=np.float32))
        return vectors

    def distances(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.linalg.norm(rows - vector, axis=1)
