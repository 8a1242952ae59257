"""Face enrolment and identification (vision/engine/faces.py) on real photos that ship with the installed packages:
skimage's astronaut (Eileen Collins), matplotlib's Grace Hopper, and the 100 faces of skimage's LFW subset as
strangers. Both methods where their libraries are installed: LBPH (opencv-contrib) and dlib embeddings.

How the default thresholds (project/settings.py, VISION_FACE_THRESHOLD_*) were chosen, from these photos with
probes made as below (many more seeds than the test keeps):
- LBPH (chi-square distance to the nearest enrolled histogram): the subjects' own probes lay at 20–58, the worst
  76 (contrast ×1.4 with brightness +26, which blows out the skin); the other subject's face at ≥ 99, the LFW
  strangers at ≥ 99.4 (1st percentile 100, median 120). 85 sits between, with ~10 to spare either way.
- dlib (Euclidean distance between 128-d embeddings): own probes 0.04–0.29; the other subject ≥ 0.62, the LFW
  strangers (blurry 25-pixel faces, which come closest) ≥ 0.60. dlib's own operating point, 0.6, would sit at the
  nearest stranger; 0.5 keeps a margin there and is still far above any own probe.
"""

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")
cbook = pytest.importorskip("matplotlib.cbook")

from vision.engine.faces import FaceEngine, NoFace, available_methods, template_method  # noqa: E402

METHODS = [
    pytest.param(
        "lbph", marks=pytest.mark.skipif("lbph" not in available_methods(), reason="opencv-contrib is not installed")
    ),
    pytest.param(
        "dlib",
        marks=pytest.mark.skipif(
            "dlib" not in available_methods(), reason="dlib or face_recognition_models is not installed"
        ),
    ),
]
ASTRONAUT, HOPPER = 1, 2


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def astronaut() -> np.ndarray:
    return _bgr(skimage_data.astronaut())


def grace_hopper() -> np.ndarray:
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return _bgr(np.asarray(Image.open(handle).convert("RGB")))


def lfw_faces() -> list[np.ndarray]:
    """The 100 LFW faces (25x25 grey, 0…1) upscaled to 150 px, with a third of that as margin, as BGR."""
    faces = []
    for face in skimage_data.lfw_subset()[:100]:
        grey = cv2.resize((face * 255).round().astype(np.uint8), (150, 150), interpolation=cv2.INTER_CUBIC)
        framed = cv2.copyMakeBorder(grey, 50, 50, 50, 50, cv2.BORDER_REPLICATE)
        faces.append(cv2.cvtColor(framed, cv2.COLOR_GRAY2BGR))
    return faces


def probes(image: np.ndarray, seed: int) -> list[tuple[str, np.ndarray]]:
    """Several of each: mirrored, brightness/contrast changed, turned a little, scaled, noisy, recompressed."""
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]

    def turned(img: np.ndarray, degrees: float) -> np.ndarray:
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        return cv2.warpAffine(img, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)

    def tone(img: np.ndarray) -> np.ndarray:
        return cv2.convertScaleAbs(img, alpha=rng.uniform(0.7, 1.3), beta=rng.uniform(-35, 35))

    def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
        ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        return cv2.imdecode(data, cv2.IMREAD_COLOR)

    out = [("flip", cv2.flip(image, 1))]
    out += [("flip+tone", tone(cv2.flip(image, 1))), ("flip+turn", turned(cv2.flip(image, 1), rng.uniform(-8, 8)))]
    out += [("tone", tone(image)) for _ in range(3)]
    out += [(f"turn {deg:+.0f}", turned(image, deg)) for deg in rng.uniform(-10, 10, 3)]
    for factor in (rng.uniform(0.5, 0.8), rng.uniform(0.8, 1.2), rng.uniform(1.2, 1.6)):
        out.append((f"scale {factor:.2f}", cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)))
    for sigma in rng.uniform(4, 12, 3):
        noise = rng.normal(0, sigma, image.shape)
        out.append((f"noise {sigma:.0f}", np.clip(image + noise, 0, 255).astype(np.uint8)))
    out += [(f"jpeg {q}", jpeg(image, int(q))) for q in rng.integers(20, 60, 3)]
    return out


@pytest.fixture(scope="module")
def subjects() -> dict[int, np.ndarray]:
    return {ASTRONAUT: astronaut(), HOPPER: grace_hopper()}


@pytest.fixture(scope="module")
def enrolled(subjects):
    """method → {key: template}, each enrolled from the subject's one photo."""
    cache: dict[str, dict[int, bytes]] = {}

    def get(method: str) -> dict[int, bytes]:
        if method not in cache:
            engine = FaceEngine(method=method)
            cache[method] = {key: engine.enrol([image]) for key, image in subjects.items()}
        return cache[method]

    return get


@pytest.mark.parametrize("method", METHODS)
def test_own_augmented_probes_match_and_never_the_other_subject(method, subjects, enrolled):
    engine = FaceEngine(method=method)
    templates = enrolled(method)
    misses, confusions, total = [], [], 0
    for key, image in subjects.items():
        for name, probe in probes(image, seed=key):
            total += 1
            matches = engine.identify(probe, templates)
            keys = {m.key for m in matches}
            if key not in keys:
                misses.append((key, name, [round(m.distance, 3) for m in matches]))
            if keys - {key, None}:
                confusions.append((key, name, [(m.key, round(m.distance, 3)) for m in matches]))
    assert total == 36
    assert misses == [], f"{len(misses)}/{total} own probes not recognised"
    assert confusions == [], "a probe was taken for the other subject"


@pytest.mark.parametrize("method", METHODS)
def test_lfw_strangers_are_rejected(method, enrolled):
    engine = FaceEngine(method=method)
    templates = enrolled(method)
    found = accepted = 0
    for face in lfw_faces():
        matches = engine.identify(face, templates)
        found += bool(matches)
        accepted += any(m.key is not None for m in matches)
    # The strangers' faces are found (so that rejecting them means something)…
    assert found >= 85, f"only {found} of 100 LFW faces detected"
    # …and all or nearly all of them are told apart from both subjects.
    assert accepted <= 5, f"{accepted} of 100 strangers taken for an enrolled subject"
    assert (100 - accepted) / 100 >= 0.95


@pytest.mark.parametrize("method", METHODS)
def test_templates_hold_features_not_photos(method, subjects, enrolled):
    templates = enrolled(method)
    for template in templates.values():
        assert template_method(template) == method
        # a 512x512 photo is 786 kB raw; the template is a few compressed feature vectors
        assert len(template) < 150_000
    other = "dlib" if method == "lbph" else "lbph"
    if other in available_methods():
        with pytest.raises(ValueError):
            FaceEngine(method=other).identify(subjects[ASTRONAUT], templates)


@pytest.mark.parametrize("method", METHODS)
def test_threshold_is_configurable(method, subjects, enrolled, settings):
    templates = enrolled(method)
    probe = cv2.convertScaleAbs(subjects[ASTRONAUT], alpha=0.9, beta=10)
    assert ASTRONAUT in {m.key for m in FaceEngine(method=method).identify(probe, templates)}
    # a threshold of zero: a face is somebody only if it is exactly an enrolment photo, which this one is not
    matches = FaceEngine(method=method, threshold=0.0).identify(probe, templates)
    assert matches and all(m.key is None for m in matches)
    # and the default comes from settings
    setattr(settings, f"VISION_FACE_THRESHOLD_{method.upper()}", 0.0)
    assert FaceEngine(method=method).threshold == 0.0
    assert all(m.key is None for m in FaceEngine(method=method).identify(probe, templates))


@pytest.mark.parametrize("method", METHODS)
def test_enrolling_a_photo_without_a_face_raises_noface(method, subjects):
    engine = FaceEngine(method=method)
    coffee = _bgr(skimage_data.coffee())
    with pytest.raises(NoFace) as raised:
        engine.enrol([coffee])
    assert raised.value.indexes == [0]
    with pytest.raises(NoFace) as raised:
        engine.enrol([subjects[HOPPER], coffee, np.full((300, 300, 3), 128, np.uint8)])
    assert raised.value.indexes == [1, 2]
    assert raised.value.index == 1


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        FaceEngine(method="eigenfaces")
