"""Human-object interaction: actors handle objects on a table; every clip records the
task's outcome, action segments, contacts, commanded actions and a caption."""

from simfactory.scenes.hoi.family import DEFAULTS, build, draws_people, label, validate

__all__ = ["DEFAULTS", "build", "draws_people", "label", "validate"]
