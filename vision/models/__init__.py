from vision.models.cameras import Camera, Frame, Observation, Rule

__all__ = ["Camera", "Frame", "Observation", "Rule"]
