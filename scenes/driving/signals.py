"""Traffic-light phase plans: each signalled junction cycles its phase groups through
green, amber and all-red; a random offset per junction decorrelates the junctions."""

from __future__ import annotations

import numpy as np

from simfactory.scenes.driving.network import RoadNetwork

AMBER_S = 3.0
ALL_RED_S = 1.5


def signal_plan(
    rng: np.random.Generator, network: RoadNetwork, start: float, end: float
) -> tuple[dict[int, list[tuple[float, str]]], dict]:
    """Per signal id, (time s, state) keys covering [start, end] (a state holds from its
    key on), and the sampled timings per junction for the annotations."""
    states: dict[int, list[tuple[float, str]]] = {}
    timings = {}
    for junction in network.junctions:
        if not junction.signalled:
            continue
        green = float(rng.uniform(7.0, 14.0))
        period = junction.groups * (green + AMBER_S + ALL_RED_S)
        offset = float(rng.uniform(0.0, period))
        timings[f"junction_{junction.id}"] = {
            "green_s": round(green, 3),
            "amber_s": AMBER_S,
            "all_red_s": ALL_RED_S,
            "cycle_s": round(period, 3),
            "offset_s": round(offset, 3),
        }
        for signal in network.signals:
            if signal.junction != junction.id:
                continue
            keys = []
            # The cycle starts at the earliest cycle boundary at or before ``start``.
            t0 = start - ((start + offset) % period)
            while t0 <= end:
                g = t0 + signal.group * (green + AMBER_S + ALL_RED_S)
                keys += [(g, "green"), (g + green, "amber"), (g + green + AMBER_S, "red")]
                t0 += period
            keys.sort()
            keys = [k for k in keys if k[0] <= end]
            first = max((k for k in keys if k[0] <= start), default=(start, "red"))
            keys = [(start, first[1])] + [k for k in keys if start < k[0]]
            states[signal.id] = keys
    return states, timings


def state_at(keys: list[tuple[float, str]], t: float) -> str:
    """The state of a signal at time ``t`` from its keys."""
    state = keys[0][1]
    for time, value in keys:
        if time > t:
            break
        state = value
    return state
