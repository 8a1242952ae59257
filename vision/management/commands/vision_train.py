"""manage.py vision_train --data DIR [--model yolov8n.yaml|FILE.pt] [--epochs N] [--imgsz 640] [--device cpu|0]
[--out DIR]: train or fine-tune a detector with ultralytics, offline, and export it to ONNX."""

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from vision.engine.training import TrainingError, train_detector


def _hyperparameter(text: str) -> tuple[str, object]:
    import yaml  # the vision extra's: `manage.py help` must not need it

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(text)
    return key.strip(), yaml.safe_load(value)


class Command(BaseCommand):
    help = (
        "Train a detector from a local YOLO dataset (a folder with data.yaml), from an architecture such as "
        "yolov8n.yaml or fine-tuning a local .pt, then export the best checkpoint to ONNX. Nothing is downloaded. "
        "Prints the paths of best.pt and best.onnx; set VISION_DETECTOR_WEIGHTS to either to use it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", required=True, help="Dataset folder holding data.yaml (or the data.yaml file).")
        parser.add_argument(
            "--model",
            default="yolov8n.yaml",
            help="An architecture .yaml (an ultralytics config name such as yolov8n.yaml, or a file) to train from "
            "scratch, or a local .pt checkpoint to fine-tune. Hub names that are not local files are refused.",
        )
        parser.add_argument("--epochs", type=int, default=50)
        parser.add_argument("--imgsz", type=int, default=640, help="Training and export image size (pixels).")
        parser.add_argument("--device", default="cpu", help='"cpu", or a CUDA device such as "0" or "0,1".')
        parser.add_argument("--batch", type=int, default=16)
        parser.add_argument("--workers", type=int, default=2, help="Data loader processes (CPU training uses 0).")
        parser.add_argument(
            "--out", default=None, help="Folder for the run (default: VISION_CONFIG_DIR/train); the run is OUT/train."
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-onnx", action="store_true", help="Do not export the best checkpoint to ONNX.")
        parser.add_argument("--no-plots", action="store_true", help="Do not draw training plots.")
        parser.add_argument(
            "--set",
            dest="hyperparameters",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="Any other ultralytics training argument, e.g. --set lr0=0.01 --set mosaic=0 (repeatable).",
        )

    def handle(self, *args, **options) -> None:
        for name in ("epochs", "imgsz", "batch"):
            if options[name] < 1:
                raise CommandError(f"--{name} must be at least 1.")
        try:
            extra = dict(_hyperparameter(item) for item in options["hyperparameters"])
        except ValueError as exc:
            raise CommandError(f"--set takes KEY=VALUE, not {exc}") from exc
        reserved = {"data", "model", "epochs", "imgsz", "device", "batch", "workers", "project", "name", "seed"}
        if clash := sorted(reserved & extra.keys()):
            raise CommandError(f"use the command's own options for {', '.join(clash)}, not --set")
        out = Path(options["out"]) if options["out"] else Path(settings.VISION_CONFIG_DIR) / "train"
        if "ultralytics" not in sys.modules:  # ultralytics reads it once, at import; workers keep it quiet
            os.environ["YOLO_VERBOSE"] = "true" if options["verbosity"] >= 1 else "false"
        try:
            result = train_detector(
                data=Path(options["data"]),
                model=options["model"],
                epochs=options["epochs"],
                imgsz=options["imgsz"],
                device=options["device"],
                out=out,
                batch=options["batch"],
                workers=options["workers"],
                export_onnx=not options["no_onnx"],
                plots=not options["no_plots"],
                seed=options["seed"],
                **extra,
            )
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"best.pt: {result.best}")
        if result.onnx:
            self.stdout.write(f"onnx: {result.onnx}")
