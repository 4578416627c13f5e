"""Driving: procedural road networks with traffic, traffic lights and pedestrians,
seen by a camera rig and a LiDAR on the ego vehicle."""

from simfactory.scenes.driving.family import DEFAULTS, build, draws_people, validate

__all__ = ["DEFAULTS", "build", "draws_people", "validate"]
