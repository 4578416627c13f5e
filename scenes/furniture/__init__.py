"""Furniture placement: a procedural room furnished piece by piece, then cluttered.

``build`` makes a clip's SceneSpec; ``validate`` checks a scene config.
"""

from simfactory.scenes.furniture.family import build, validate

__all__ = ["build", "validate"]
