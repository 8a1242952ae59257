"""Train or fine-tune a detector with ultralytics, offline, and export it to ONNX for the torch-free backend.

Used by `manage.py vision_train` (meant for GPU nodes; it also runs on CPU). Nothing here downloads:
- the model is either a local .pt (fine-tuning starts from its weights) or an architecture .yaml — a file path, or
  a name from ultralytics' own model configs such as "yolov8n.yaml" — built from scratch with `pretrained=False`;
  a bare hub name such as "yolov8n.pt" that is not a local file is refused, since ultralytics would download it;
- the dataset must be local: its data.yaml may not carry a `download:` entry, which ultralytics would run;
- ultralytics' AMP check loads yolo26n.pt from its weights folder and downloads it when missing: on CPU AMP is
  off (no check); on a GPU without that file we skip the check and keep AMP on, which is what ultralytics itself
  does when it finds itself offline, without the minutes of download retries;
- runtime.prepare() has set YOLO_OFFLINE, YOLO_AUTOINSTALL=false (no pip) and the fonts its plots need.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vision.engine import runtime

# yaml and ultralytics come with the vision extra: imported inside the functions that use them.

log = logging.getLogger(__name__)


class TrainingError(ValueError):
    """Bad training input: a missing dataset or model, or one that would need a download."""


@dataclass(frozen=True)
class TrainingResult:
    best: Path  # the best checkpoint (.pt) by validation fitness
    onnx: Path | None  # its ONNX export, beside it; None when export was not asked for
    run_dir: Path


def resolve_model(model: str) -> tuple[str, bool]:
    """→ (what to give YOLO(), whether it is a checkpoint to fine-tune). Refuses anything that would download."""
    path = Path(model).expanduser()
    if path.suffix.lower() == ".pt":
        if not path.is_file():
            raise TrainingError(
                f"model {model!r} is not a local file; hub names are not downloaded. Pass a .pt path, or an "
                "architecture such as yolov8n.yaml to train from scratch."
            )
        return str(path.resolve()), True
    if path.suffix.lower() in {".yaml", ".yml"}:
        if path.is_file():
            return str(path.resolve()), False
        # A config shipped in ultralytics (e.g. yolov8n.yaml: ultralytics reads the scale "n" from the name and
        # finds the file yolov8.yaml in its cfg folder).
        configs = runtime.ultralytics_package() / "cfg" / "models"
        unscaled = re.sub(r"(\d+)([nslmx])(.+)?$", r"\1\3", path.stem)  # as ultralytics does: yolov8n → yolov8
        names = {f"{path.stem}.yaml", f"{unscaled}.yaml"}
        if path.parent == Path(".") and any(next(configs.rglob(name), None) for name in names):
            return path.name, False
        raise TrainingError(f"model architecture {model!r} not found (neither a file nor an ultralytics config)")
    raise TrainingError(f"model {model!r} must be a .pt checkpoint or a .yaml architecture")


def check_dataset(data: Path) -> Path:
    """The data.yaml of a local dataset folder (or the file itself), with its train and val folders present."""
    import yaml

    data = Path(data).expanduser()
    if data.is_dir():
        data = data / "data.yaml"
    if not data.is_file():
        raise TrainingError(f"no data.yaml at {data}")
    config = yaml.safe_load(data.read_text()) or {}
    if not isinstance(config, dict) or "names" not in config or "train" not in config or "val" not in config:
        raise TrainingError(f"{data} needs train, val and names")
    if config.get("download"):
        raise TrainingError(f"{data} has a 'download' entry: datasets must be local, nothing is downloaded")
    base = Path(config.get("path") or data.parent)
    if not base.is_absolute():
        base = (data.parent / base).resolve()
    for split in ("train", "val"):
        for entry in config[split] if isinstance(config[split], list) else [config[split]]:
            if not (base / entry).exists():
                raise TrainingError(f"{split} data not found: {base / entry}")
    return data.resolve()


def train_detector(
    *,
    data: Path,
    model: str = "yolov8n.yaml",
    epochs: int = 50,
    imgsz: int = 640,
    device: str = "cpu",
    out: Path,
    batch: int = 16,
    workers: int = 2,
    export_onnx: bool = True,
    plots: bool = True,
    seed: int = 0,
    **extra,
) -> TrainingResult:
    """Train (or fine-tune) on a local dataset, keep the best checkpoint, and export it to ONNX beside it."""
    data = check_dataset(data)
    weights, fine_tune = resolve_model(model)
    runtime.prepare()
    from ultralytics import YOLO

    out = Path(out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    cpu = str(device).lower() == "cpu"
    yolo = YOLO(weights, task="detect")
    with _offline_amp_check(cpu):
        yolo.train(
            data=str(data),
            epochs=epochs,
            imgsz=imgsz,
            device=device,
            batch=batch,
            workers=workers,
            project=str(out),
            name="train",
            exist_ok=True,
            pretrained=fine_tune,
            amp=not cpu,
            plots=plots,
            seed=seed,
            deterministic=True,
            verbose=False,
            **extra,
        )
    trainer = yolo.trainer
    run_dir = Path(trainer.save_dir)
    best = Path(trainer.best) if Path(trainer.best).is_file() else Path(trainer.last)
    onnx = None
    if export_onnx:
        onnx = export_detector(best, imgsz=imgsz)
    return TrainingResult(best=best, onnx=onnx, run_dir=run_dir)


def export_detector(weights: Path, *, imgsz: int = 640) -> Path:
    """ONNX export of a .pt detector, beside it (fixed input size, fp32, NMS outside the graph: OnnxDetector's
    input). Runs on CPU, so a model trained on a GPU exports the same way."""
    runtime.prepare()
    from ultralytics import YOLO

    exported = YOLO(str(weights), task="detect").export(format="onnx", imgsz=imgsz, device="cpu", simplify=True)
    return Path(exported)


@contextlib.contextmanager
def _offline_amp_check(cpu: bool) -> Iterator[None]:
    """Keep ultralytics' AMP check from downloading yolo26n.pt (see the module docstring)."""
    if cpu:
        yield  # amp=False: ultralytics does not run the check at all
        return
    import ultralytics.engine.trainer as trainer_module
    from ultralytics.utils import WEIGHTS_DIR

    if (WEIGHTS_DIR / "yolo26n.pt").is_file():
        yield  # the check can run from the local file
        return
    original = trainer_module.check_amp

    def skipped(model) -> bool:
        log.warning("AMP check skipped: its reference model yolo26n.pt is not available offline; AMP stays on")
        return True

    trainer_module.check_amp = skipped
    try:
        yield
    finally:
        trainer_module.check_amp = original
