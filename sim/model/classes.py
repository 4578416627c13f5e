"""The semantic class table shared by every family (``assets/classes.csv``)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class ClassTable:
    names: tuple[str, ...]
    colors: np.ndarray  # (N, 3) uint8, indexed by class id
    groups: tuple[str, ...] = ()  # coarse group per class (structure, furniture, agent ...)

    def id_of(self, name: str) -> int:
        """Class id for a class name; raises KeyError naming the unknown class."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown semantic class {name!r}; see assets/classes.csv") from None


@cache
def class_table() -> ClassTable:
    """Load the class table once per process. Ids are the row order, starting at 0."""
    text = resources.files("simfactory.assets").joinpath("classes.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    for expected, row in enumerate(rows):
        if int(row["id"]) != expected:
            raise ValueError(f"classes.csv: ids must be 0..N-1 in order, row {expected}")
    colors = np.array([[int(r["r"]), int(r["g"]), int(r["b"])] for r in rows], dtype=np.uint8)
    return ClassTable(tuple(r["name"] for r in rows), colors, tuple(r["group"] for r in rows))
