"""Make torch, torchvision and ultralytics safe to import on a worker: offline, self-contained, CPU-capable.

`prepare()` must run before the first `import ultralytics` or `import torchvision` in a process (ultralytics reads
its environment once, at import): every engine function that needs them calls it first (it is idempotent and
cheap after the first call), and so must tests before `pytest.importorskip("ultralytics")`. It does three things.

1. **Offline.** ultralytics reaches for the network in several places: a hub model name downloads weights, the
   plotting code downloads Arial.ttf when it cannot find it, `check_requirements` pip-installs missing packages,
   and the AMP check of a GPU training downloads yolo26n.pt. We set `YOLO_OFFLINE=1` (its `ONLINE` flag becomes
   False without a DNS probe, which also turns its usage analytics off) and `YOLO_AUTOINSTALL=false` (never pip),
   and we never pass a hub model name (only existing file paths or a model .yaml, see `training.py`, which also
   keeps the AMP check from downloading).

2. **Its own config dir.** `YOLO_CONFIG_DIR` is `settings.VISION_CONFIG_DIR`, owned by the app, instead of the
   worker user's home: ultralytics writes its settings.json to its `Ultralytics/` subfolder and looks there first
   for its fonts. We copy matplotlib's DejaVuSans.ttf (a dependency we ship) there as Arial.ttf and
   Arial.Unicode.ttf, the two names ultralytics asks for, so `check_font` finds them and never downloads.
   DejaVu Sans covers Latin, Greek and Cyrillic; Chinese class names are drawn as boxes in ultralytics' own
   plots, which only training writes.

3. **torchvision on CPU torch.** PyPI's torchvision 0.28.0 wheel is a CUDA build: its `_C.so` links
   libc10_cuda.so and libtorch_cuda.so, which the CPU torch wheel (2.13.0+cpu) does not have, so the extension
   fails to load. torchvision then fails at import ("operator torchvision::nms does not exist"), because its
   `_meta_registrations` registers a fake kernel for `torchvision::nms` and `torchvision::qnms` unconditionally,
   and ultralytics imports torchvision from its model code. (PyPI has only the CUDA build; the CPU build is on
   PyTorch's own index, which our installs do not use.)
   The only operator YOLO detection needs from torchvision is NMS (ultralytics calls `torchvision.ops.nms`
   whenever torchvision is imported), so when, and only when, the native extension cannot load, we define the
   `torchvision::nms` and `torchvision::qnms` operators ourselves with `torch.library` before torchvision is
   imported, implemented in plain torch (greedy NMS, the same semantics as torchvision's CPU kernel), and tell
   torchvision's op guard that ops are available. The other torchvision operators (roi_align, deform_conv2d…)
   stay undefined: nothing in detection, tracking, training or ONNX export uses them. On a GPU node with a
   matching CUDA torch, the native extension loads and nothing is patched.

   The ONNX backend (`detectors.OnnxDetector`) needs none of this: it runs on onnxruntime and numpy only.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_lock = threading.Lock()
_prepared = False
_nms_registered = False
_library = None  # the torch.library.Library that owns our operator definitions; kept alive for the process

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def config_dir() -> Path:
    """The app-owned ultralytics config dir: settings.VISION_CONFIG_DIR, or var/vision without Django settings."""
    try:
        from django.conf import settings

        if settings.configured:
            return Path(settings.VISION_CONFIG_DIR)
    except ImportError:  # pragma: no cover - Django is always installed with this project
        pass
    return Path(os.environ.get("VISION_CONFIG_DIR") or Path(__file__).resolve().parents[2] / "var" / "vision")


def prepare() -> None:
    """Idempotent: offline ultralytics with an app-owned config dir and fonts, and torchvision importable on CPU."""
    global _prepared
    if _prepared:
        return
    with _lock:
        if _prepared:
            return
        directory = config_dir()
        # ultralytics keeps its files in YOLO_CONFIG_DIR/Ultralytics (its USER_CONFIG_DIR): fonts go there.
        _install_fonts(directory / "Ultralytics")
        if "ultralytics" in sys.modules and os.environ.get("YOLO_CONFIG_DIR") != str(directory):
            log.warning("ultralytics was imported before vision.engine.runtime.prepare(): it may try the network")
        os.environ["YOLO_CONFIG_DIR"] = str(directory)
        os.environ["YOLO_OFFLINE"] = "1"
        os.environ["YOLO_AUTOINSTALL"] = "false"
        os.environ.setdefault("YOLO_VERBOSE", "false")
        _make_torchvision_importable()
        _keep_pillow_unpatched()
        _prepared = True


def _keep_pillow_unpatched() -> None:
    """Undo ultralytics' process-wide replacement of PIL.Image.open.

    On import, ultralytics (ultralytics/utils/patches.py) swaps Image.open for a wrapper that, for any file Pillow
    cannot identify, calls check_requirements("pi-heif") (an install attempt) and raises ModuleNotFoundError. The
    same worker validates incident photos (grid/photos.py), which must see Pillow's own UnidentifiedImageError to
    answer "not a JPEG, PNG or WebP". Gridline never feeds HEIC/AVIF to ultralytics, so Pillow's own open is kept.
    """
    if importlib.util.find_spec("ultralytics") is None:
        return
    from PIL import Image
    from ultralytics.utils import patches

    Image.open = patches._image_open


def _install_fonts(directory: Path) -> None:
    """Copy matplotlib's DejaVuSans.ttf as the fonts ultralytics looks up by name, so it never downloads them."""
    missing = [name for name in FONT_NAMES if not (directory / name).is_file()]
    if not missing:
        return
    directory.mkdir(parents=True, exist_ok=True)
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        log.warning("matplotlib is not installed: no font for ultralytics' plots")
        return
    source = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in missing:
        # Copy then rename, so that a concurrent worker never sees a half-written font.
        partial = directory / f".{name}.{os.getpid()}.part"
        shutil.copyfile(source, partial)
        partial.replace(directory / name)


def _make_torchvision_importable() -> None:
    """Register a CPU NMS for torchvision when its native extension cannot load (see the module docstring)."""
    global _nms_registered, _library
    spec = importlib.util.find_spec("torchvision")
    if spec is None or "torchvision" in sys.modules:
        return  # not installed (ONNX/HOG-only worker), or already imported: nothing to do or too late to help
    import torch

    if _native_extension_loads(spec) or hasattr(torch.ops.torchvision, "nms"):
        return
    _library = torch.library.Library("torchvision", "DEF")
    _library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _library.define("qnms(Tensor qdets, Tensor qscores, float iou_threshold) -> Tensor")
    # CompositeExplicitAutograd: one kernel for every device; it only indexes and compares, no gradients.
    _library.impl("nms", nms_reference, "CompositeExplicitAutograd")
    _library.impl("qnms", nms_reference, "CompositeExplicitAutograd")
    _nms_registered = True

    import torchvision.extension

    # torchvision.ops.nms asserts that the native ops loaded; ours are the ones nms and qnms need.
    torchvision.extension._has_ops = lambda: True


def _native_extension_loads(spec) -> bool:
    """Whether torchvision's own _C library loads into this torch (it does on a matching build)."""
    import torch

    for location in spec.submodule_search_locations or []:
        for library in sorted(Path(location).glob("_C*.so")) + sorted(Path(location).glob("_C*.pyd")):
            try:
                torch.ops.load_library(str(library))
            except (OSError, ImportError, RuntimeError):
                return False
            return True
    return False


def nms_registered() -> bool:
    """Whether prepare() supplied torchvision's NMS (True on CPU torch with PyPI's CUDA torchvision)."""
    return _nms_registered


def nms_reference(dets, scores, iou_threshold: float):
    """Greedy NMS: indices of the kept boxes by decreasing score; a box is dropped when its IoU with a kept, higher
    scoring box is above iou_threshold. Boxes are x1, y1, x2, y2. Same rule and area formula as torchvision's CPU
    kernel (areas are not clamped, intersections are)."""
    import torch

    if dets.numel() == 0:
        return torch.empty((0,), dtype=torch.long, device=dets.device)
    boxes = dets.float()
    order = torch.argsort(scores.float(), descending=True, stable=True)
    x1, y1, x2, y2 = boxes[order].unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    remaining = torch.arange(order.numel(), device=dets.device)
    keep = []
    # One pass per kept box, each vectorised over the boxes still in play.
    while remaining.numel():
        i = remaining[0]
        keep.append(i)
        rest = remaining[1:]
        if not rest.numel():
            break
        width = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        height = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = width * height
        iou = inter / (areas[i] + areas[rest] - inter)
        remaining = rest[~(iou > iou_threshold)]
    return order[torch.stack(keep)]


def ultralytics_package() -> Path:
    """The installed ultralytics package folder, found without importing it."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("ultralytics is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def ultralytics_assets() -> Path:
    """The folder of photos in the ultralytics wheel (bus.jpg, zidane.jpg)."""
    return ultralytics_package() / "assets"
