"""Cameras at geolocated sites, frame sources, detectors, observations, rules that raise incidents, and
face-based duty attendance (vision.attendance). The web process imports none of the heavy libraries
(torch, ultralytics, onnxruntime): they load only inside the analysis code, in the `vision` Celery queue."""
