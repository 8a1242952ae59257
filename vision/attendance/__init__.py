"""Duty attendance and meeting check-in by face, from the cameras of vision/."""
