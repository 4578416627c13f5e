"""When the drawers of a landed cabinet open (and maybe close again).

A cabinet that has landed opens one or two of its drawers a moment later, each easing
out to 40-90% of its travel in about half a second; when the clip is long enough a
drawer may close again. Joint targets hold 0 until the opening starts.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simfactory.scenes.furniture.geom2d import rect_corners
from simfactory.scenes.furniture.layout import Placement, front_of
from simfactory.scenes.furniture.pieces import Piece
from simfactory.sim.model.spec import Link

EASE_KEYS = 8
SETTLE = 0.15


def _ease(t0: float, t1: float, q0: float, q1: float) -> list[tuple[float, float]]:
    """Smoothstep keys from (t0, q0) to (t1, q1), without the first one."""
    u = np.linspace(0.0, 1.0, EASE_KEYS)[1:]
    s = u * u * (3 - 2 * u)
    return [
        (float(t0 + (t1 - t0) * a), float(q0 + (q1 - q0) * b)) for a, b in zip(u, s, strict=True)
    ]


def plan_drawers(
    rng: np.random.Generator, piece: Piece, landed: float, duration: float
) -> tuple[list[Link], list[dict]]:
    """The piece's links with joint targets for a piece that lands at ``landed``, and a
    plain description of each move. Moves that would not finish ``SETTLE`` s before
    ``duration`` are left out, so a drawer either completes its opening or stays shut."""
    drawers = [k for k, ln in enumerate(piece.links) if ln.semantic_class == "drawer"]
    links = list(piece.links)
    moves: list[dict] = []
    if not drawers:
        return links, moves
    count = min(len(drawers), int(rng.integers(1, 3)))
    chosen = [drawers[k] for k in rng.choice(len(drawers), size=count, replace=False)]
    start = landed + rng.uniform(0.1, 0.3)
    for k in chosen:
        ln = links[k]
        ease = rng.uniform(0.4, 0.6)
        opening = rng.uniform(0.4, 0.9) * ln.joint_limits[1]
        hold = rng.uniform(0.4, 1.0)
        close = rng.random() < 0.5
        end = start + ease
        if end + SETTLE <= duration:
            keys = [(0.0, 0.0), (float(start), 0.0), *_ease(start, end, 0.0, opening)]
            closing = None
            if close and end + hold + ease + SETTLE <= duration:
                closing = [float(end + hold), float(end + hold + ease)]
                keys += [(closing[0], float(opening)), *_ease(*closing, opening, 0.0)]
            links[k] = replace(ln, joint_targets=keys)
            moves.append(
                dict(
                    link=ln.name,
                    opening=float(opening),
                    open=[float(start), float(end)],
                    close=closing,
                    keys=[list(key) for key in keys],
                )
            )
        start += rng.uniform(0.2, 0.6)
    return links, moves


def drawer_zone(piece: Piece, placement: Placement, moves: list[dict]) -> np.ndarray | None:
    """Floor area (4, 2) in front of a placed piece that its opening drawers sweep, or
    None when no drawer moves."""
    if not moves:
        return None
    reach = max(m["opening"] for m in moves)
    w, d = piece.footprint
    c = np.array([placement.x, placement.y]) + front_of(placement.yaw) * (d + reach) / 2
    return rect_corners(c[0], c[1], w, reach, placement.yaw)
