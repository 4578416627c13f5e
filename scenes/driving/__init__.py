"""Driving: procedural road networks with traffic, traffic lights and pedestrians,
seen by a camera rig and a LiDAR on the ego vehicle."""

from simfactory.scenes.driving.family import DEFAULTS, build, validate

__all__ = ["DEFAULTS", "build", "validate"]
