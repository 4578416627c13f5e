"""simfactory engine: scene description, physics, rendering, labels, writers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("simfactory")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
