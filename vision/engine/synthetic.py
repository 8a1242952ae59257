"""A synthetic detection dataset, made on the spot: squares and circles on noise, in ultralytics' YOLO layout.

For tests and demos of `manage.py vision_train` where no real dataset may be downloaded. The shapes are solid,
high-contrast (squares dark, circles bright) and never overlap, so a tiny detector learns them in a few CPU
epochs; each image's labels are exact (the square itself, the circle's bounding square), so predictions can be
checked against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy and cv2 come with the vision extra: imported inside the functions that use them.

CLASSES = ("square", "circle")


@dataclass(frozen=True)
class Shape:
    class_name: str
    box: tuple[int, int, int, int]  # pixels: x1, y1, x2, y2


def shapes_image(
    rng: np.random.Generator,
    size: int = 160,
    *,
    count: tuple[int, int] = (1, 3),
    side: tuple[float, float] = (0.18, 0.35),
) -> tuple[np.ndarray, list[Shape]]:
    """One BGR image of `size`² with 1–3 non-overlapping squares or circles (sides a `side` fraction of the image)
    on grey noise, and its true boxes."""
    import cv2
    import numpy as np

    image = np.clip(rng.normal(128, 24, (size, size, 3)), 0, 255).astype(np.uint8)
    shapes: list[Shape] = []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        for _attempt in range(50):
            s = int(rng.integers(round(side[0] * size), round(side[1] * size) + 1))
            x, y = (int(v) for v in rng.integers(2, size - s - 2, 2))
            box = (x, y, x + s, y + s)
            if all(_apart(box, other.box) for other in shapes):
                break
        else:
            continue  # no room left
        class_name = CLASSES[int(rng.integers(0, len(CLASSES)))]
        # Solid colours far from the noise's mid grey, dark for squares and bright for circles: the colour is a
        # second cue besides the shape, so that a detector trained from scratch tells them apart within a few epochs.
        low, high = (20, 70) if class_name == "square" else (190, 250)
        color = tuple(int(c) for c in rng.integers(low, high, 3))
        if class_name == "square":
            cv2.rectangle(image, (x, y), (x + s - 1, y + s - 1), color, thickness=-1)
        else:
            cv2.circle(image, (x + s // 2, y + s // 2), s // 2, color, thickness=-1, lineType=cv2.LINE_AA)
        shapes.append(Shape(class_name, box))
    return image, shapes


def _apart(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int = 4) -> bool:
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def make_shapes_dataset(root: Path, *, train: int = 40, val: int = 10, size: int = 160, seed: int = 0) -> Path:
    """Write images/{train,val}/*.png, labels/{train,val}/*.txt and data.yaml under root; → data.yaml's path."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    root = Path(root)
    for split, n in (("train", train), ("val", val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image, shapes = shapes_image(rng, size)
            cv2.imwrite(str(root / "images" / split / f"{i:04d}.png"), image)
            lines = [_yolo_line(shape, size) for shape in shapes]
            (root / "labels" / split / f"{i:04d}.txt").write_text("\n".join(lines) + "\n")
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(CLASSES))
    data = root / "data.yaml"
    data.write_text(f"path: {root.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return data


def _yolo_line(shape: Shape, size: int) -> str:
    x1, y1, x2, y2 = shape.box
    cx, cy, w, h = (x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size, (y2 - y1) / size
    return f"{CLASSES.index(shape.class_name)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"
