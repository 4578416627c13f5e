"""Parametric furniture built from boxes and cylinders.

Local frame of every piece: origin at the centre of its footprint on the floor, Z up,
all geometry at z >= 0, and the usable side (seat, drawer fronts, shelf opening)
facing +y. Sizes follow real furniture so pieces fit together in a room.

Material keys: wood, fabric, metal, plastic; optional fabric2 (cushions), linen
(mattress and pillows) and shade (lamp shade), which fall back to fabric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import trimesh

from simfactory.scenes.furniture.shapes import (
    bounds_of,
    box,
    box_at,
    cylinder,
    cylinder_along,
    revolve,
)
from simfactory.sim.model.spec import Link, Material, Visual


@dataclass
class Piece:
    """One furniture piece in its local frame.

    ``support_surfaces``: (rect [xmin, ymin, xmax, ymax], z) where small objects can rest.
    ``params``: the sampled proportions and variants, as plain floats and strings.
    ``links``: moving parts (drawers, doors) at joint position 0, without joint
    targets; ``footprint`` and ``height`` cover them in that pose.
    ``handles``: where a hand grasps each link's handle, a point in the link's frame
    (pieces built to be opened by hand: ``make_small_cabinet``).
    """

    name_class: str
    visuals: list[Visual]
    footprint: tuple[float, float]
    height: float
    support_surfaces: list[tuple[np.ndarray, float]]
    front: str = "+y"
    params: dict = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    handles: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def reach(self) -> float:
        """How far the piece's prismatic links (drawers) can move out of the footprint."""
        return max(
            (ln.joint_limits[1] for ln in self.links if ln.joint_type == "prismatic"), default=0.0
        )


Part = tuple[trimesh.Trimesh, Material]


def _plain(value):
    """A JSON-friendly copy of a sampled parameter (numpy scalars to Python floats)."""
    if isinstance(value, bool | str | int):
        return value
    return float(value)


def _finish(
    name_class: str,
    parts: list[Part],
    surfaces: list,
    params: dict,
    links: list[Link] | None = None,
) -> Piece:
    """Centre the parts and links on the footprint, put the lowest point on the floor,
    and package."""
    meshes = [m for m, _ in parts]
    links = links or []
    placed = [v.mesh.copy().apply_transform(ln.T_parent_link) for ln in links for v in ln.visuals]
    lo, hi = bounds_of(meshes + placed)
    shift = np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
    for m in meshes:
        m.apply_translation(shift)
    moved = []
    for ln in links:
        T = ln.T_parent_link.copy()
        T[:3, 3] += shift
        moved.append(replace(ln, T_parent_link=T))
    rects = [
        (np.asarray(rect, dtype=float) + np.tile(shift[:2], 2), float(z + shift[2]))
        for rect, z in surfaces
    ]
    size = hi - lo
    params = {k: _plain(v) for k, v in params.items()}
    return Piece(
        name_class=name_class,
        visuals=[Visual(m, mat) for m, mat in parts],
        footprint=(float(size[0]), float(size[1])),
        height=float(size[2]),
        support_surfaces=rects,
        params=params,
        links=moved,
    )


def _fabric2(materials: dict[str, Material]) -> Material:
    return materials.get("fabric2", materials["fabric"])


def make_table(rng: np.random.Generator, materials: dict[str, Material]) -> Piece:
    """Dining table: round or rectangular top on four legs or a central pedestal."""
    wood = materials["wood"]
    legs_mat = wood if rng.random() < 0.6 else materials["metal"]
    h = rng.uniform(0.72, 0.76)
    t = rng.uniform(0.025, 0.05)
    shape = "round" if rng.random() < 0.35 else "rect"
    under = h - t
    parts: list[Part] = []
    if shape == "round":
        r = rng.uniform(0.4, 0.6)
        w = d = 2 * r
        parts.append((cylinder(r, under, h, sections=48), wood))
        a = 0.95 * r / np.sqrt(2)
        rect = [-a, -a, a, a]
        base = "pedestal" if rng.random() < 0.6 else "legs"
    else:
        r = 0.0
        w, d = rng.uniform(1.0, 1.8), rng.uniform(0.7, 1.0)
        parts.append((box_at((w, d, t), (0, 0, under + t / 2)), wood))
        rect = [-w / 2, -d / 2, w / 2, d / 2]
        base = "pedestal" if (w < 1.3 and rng.random() < 0.25) else "legs"
    apron = False
    if base == "pedestal":
        foot_t = rng.uniform(0.02, 0.04)
        parts.append((cylinder(rng.uniform(0.04, 0.07), foot_t, under), legs_mat))
        if shape == "round":
            parts.append((cylinder(r * rng.uniform(0.45, 0.6), 0, foot_t, sections=32), legs_mat))
        else:
            parts.append((box_at((0.6 * w, 0.07, foot_t), (0, 0, foot_t / 2)), legs_mat))
            parts.append((box_at((0.07, 0.8 * d, foot_t), (0, 0, foot_t / 2)), legs_mat))
    else:
        leg = rng.uniform(0.04, 0.07)
        round_legs = rng.random() < 0.4
        if shape == "round":
            ang = np.pi / 4 + np.arange(4) * np.pi / 2
            xy = 0.55 * r * np.stack([np.cos(ang), np.sin(ang)], axis=1)
        else:
            inset = rng.uniform(0.03, 0.1)
            hx, hy = w / 2 - inset - leg / 2, d / 2 - inset - leg / 2
            xy = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
            apron = rng.random() < 0.5
            if apron:
                ah = rng.uniform(0.06, 0.1)
                for sy in (-1, 1):
                    parts.append((box_at((2 * hx, 0.02, ah), (0, sy * hy, under - ah / 2)), wood))
                for sx in (-1, 1):
                    parts.append((box_at((0.02, 2 * hy, ah), (sx * hx, 0, under - ah / 2)), wood))
        for x, y in xy:
            if round_legs:
                parts.append((cylinder(leg / 2, 0, under, xy=(x, y), sections=12), legs_mat))
            else:
                parts.append((box_at((leg, leg, under), (x, y, under / 2)), legs_mat))
    params = dict(shape=shape, base=base, width=w, depth=d, height=h, top_thickness=t, apron=apron)
    return _finish("table", parts, [(rect, h)], params)


def make_chair(rng: np.random.Generator, materials: dict[str, Material]) -> Piece:
    """Dining chair: seat on four legs, a backrest at -y (panel, slats or rails), optional
    seat cushion and armrests."""
    wood = materials["wood"]
    frame = wood if rng.random() < 0.75 else materials["metal"]
    seat_h = rng.uniform(0.43, 0.47)
    w, d = rng.uniform(0.40, 0.50), rng.uniform(0.40, 0.48)
    st = rng.uniform(0.03, 0.045)
    back_h = rng.uniform(0.80, 0.95)
    leg = rng.uniform(0.03, 0.045)
    cushion = rng.random() < 0.5
    ct = rng.uniform(0.03, 0.05) if cushion else 0.0
    arms = rng.random() < 0.3
    arm_h = seat_h + rng.uniform(0.18, 0.25)
    frame_top = seat_h - ct
    parts: list[Part] = [(box_at((w, d, st), (0, 0, frame_top - st / 2)), wood)]
    hx, hy = w / 2 - leg / 2, d / 2 - leg / 2
    for x in (-hx, hx):
        parts.append((box_at((leg, leg, back_h), (x, -hy, back_h / 2)), frame))
        front_top = arm_h if arms else frame_top - st
        parts.append((box_at((leg, leg, front_top), (x, hy, front_top / 2)), frame))
    rail_h = rng.uniform(0.05, 0.1)
    rail_top = back_h - rail_h
    inner = w - 2 * leg
    parts.append((box_at((inner, leg, rail_h), (0, -hy, back_h - rail_h / 2)), wood))
    back = str(rng.choice(["panel", "slats", "rails"]))
    if back == "panel":
        z0 = seat_h + rng.uniform(0.1, 0.2)
        parts.append((box_at((inner, 0.02, rail_top - z0), (0, -hy, (z0 + rail_top) / 2)), wood))
    elif back == "slats":
        n = int(rng.integers(2, 6))
        sw = rng.uniform(0.02, 0.04)
        for x in np.linspace(-inner / 2, inner / 2, n + 2)[1:-1]:
            parts.append(
                (box((x - sw / 2, -hy - 0.01, frame_top), (x + sw / 2, -hy + 0.01, rail_top)), wood)
            )
    else:
        n = int(rng.integers(1, 3))
        for z in np.linspace(seat_h + 0.08, rail_top, n + 2)[1:-1]:
            parts.append((box_at((inner, 0.02, 0.04), (0, -hy, z)), wood))
    if cushion:
        size = (w - 2 * leg, d - 2 * leg, ct)
        parts.append((box_at(size, (0, 0, frame_top + ct / 2)), materials["fabric"]))
    arm_w = 0.0
    if arms:
        arm_w = max(leg, 0.045)
        for sx in (-1, 1):
            x = sx * (w / 2 - arm_w / 2)
            parts.append(
                (box((x - arm_w / 2, -d / 2, arm_h - 0.025), (x + arm_w / 2, d / 2, arm_h)), frame)
            )
    side = max(arm_w, leg) + 0.01
    rect = [-w / 2 + side, -d / 2 + leg + 0.02, w / 2 - side, d / 2 - 0.01]
    params = dict(
        seat_height=seat_h,
        width=w,
        depth=d,
        back_height=back_h,
        backrest=back,
        cushion=cushion,
        armrests=arms,
    )
    return _finish("chair", parts, [(rect, seat_h)], params)


def make_shelf(rng: np.random.Generator, materials: dict[str, Material]) -> Piece:
    """Bookcase: two sides, top, back panel and 3-5 boards; open towards +y."""
    wood = materials["wood"]
    w, d, h = rng.uniform(0.6, 1.2), rng.uniform(0.28, 0.4), rng.uniform(1.2, 2.0)
    th = rng.uniform(0.018, 0.028)
    back_t = 0.008
    plinth = rng.uniform(0.04, 0.1)
    n = int(rng.integers(3, 6))
    inner = w - 2 * th
    parts: list[Part] = []
    for sx in (-1, 1):
        parts.append((box_at((th, d, h), (sx * (w / 2 - th / 2), 0, h / 2)), wood))
    parts.append((box_at((inner, d, th), (0, 0, h - th / 2)), wood))
    parts.append((box((-inner / 2, -d / 2, plinth), (inner / 2, -d / 2 + back_t, h - th)), wood))
    parts.append((box((-inner / 2, d / 2 - th - 0.01, 0), (inner / 2, d / 2 - 0.01, plinth)), wood))
    z0 = plinth + th
    gap = (h - th - z0) / n
    rect = [-inner / 2, -d / 2 + back_t, inner / 2, d / 2]
    surfaces = [(rect, h)]
    for i in range(n):
        z = z0 + i * gap
        parts.append((box((-inner / 2, -d / 2 + back_t, z - th), (inner / 2, d / 2, z)), wood))
        surfaces.append((rect, z))
    params = dict(width=w, depth=d, height=h, boards=n, board_gap=gap, thickness=th)
    return _finish("shelf", parts, surfaces, params)


def make_sofa(rng: np.random.Generator, materials: dict[str, Material]) -> Piece:
    """Sofa: base, arms and back in fabric, 2-3 seat cushions, optional back cushions,
    short feet. Seat faces +y."""
    fabric, cushions = materials["fabric"], _fabric2(materials)
    feet_mat = materials["wood"] if rng.random() < 0.6 else materials["metal"]
    w, d = rng.uniform(1.6, 2.4), rng.uniform(0.8, 1.0)
    seat_h = rng.uniform(0.40, 0.46)
    back_top = rng.uniform(0.75, 0.9)
    arm_h, arm_w = rng.uniform(0.55, 0.68), rng.uniform(0.12, 0.22)
    foot = rng.uniform(0.04, 0.12)
    ct = rng.uniform(0.1, 0.15)
    back_t = rng.uniform(0.15, 0.22)
    base_top = seat_h - ct
    iw = w - 2 * arm_w
    parts: list[Part] = [
        (box((-iw / 2, -d / 2, foot), (iw / 2, d / 2, base_top)), fabric),
        (box((-iw / 2, -d / 2, foot), (iw / 2, -d / 2 + back_t, back_top)), fabric),
    ]
    for sx in (-1, 1):
        x0, x1 = sorted((sx * iw / 2, sx * w / 2))
        parts.append((box((x0, -d / 2, foot), (x1, d / 2, arm_h)), fabric))
    n = 3 if w > 2.1 else 2 if w < 1.8 else int(rng.integers(2, 4))
    cw = (iw - (n - 1) * 0.01) / n
    xs = -iw / 2 + cw / 2 + np.arange(n) * (cw + 0.01)
    y_back = -d / 2 + back_t
    for x in xs:
        parts.append((box((x - cw / 2, y_back, base_top), (x + cw / 2, d / 2, seat_h)), cushions))
    back_cushions = rng.random() < 0.6
    bt = rng.uniform(0.1, 0.16) if back_cushions else 0.0
    if back_cushions:
        top = back_top - rng.uniform(0.0, 0.06)
        for x in xs:
            parts.append(
                (box((x - cw / 2, y_back, seat_h), (x + cw / 2, y_back + bt, top)), cushions)
            )
    fr = rng.uniform(0.02, 0.03)
    for sx in (-1, 1):
        for sy in (-1, 1):
            xy = (sx * (w / 2 - 0.06), sy * (d / 2 - 0.06))
            parts.append((cylinder(fr, 0, foot, xy=xy, sections=12), feet_mat))
    rect = [-iw / 2 + 0.02, y_back + bt + 0.02, iw / 2 - 0.02, d / 2 - 0.02]
    params = dict(
        width=w,
        depth=d,
        seat_height=seat_h,
        back_height=back_top,
        arm_height=arm_h,
        arm_width=arm_w,
        seat_cushions=n,
        back_cushions=back_cushions,
    )
    return _finish("sofa", parts, [(rect, seat_h)], params)


def make_bed(rng: np.random.Generator, materials: dict[str, Material]) -> Piece:
    """Bed: frame on legs, mattress, pillows and blanket, headboard at -y, optional
    footboard."""
    wood = materials["wood"]
    linen = materials.get("linen", materials["fabric"])
    w, length = rng.uniform(1.4, 2.0), rng.uniform(2.0, 2.2)
    leg_h = rng.uniform(0.05, 0.15)
    frame_top = rng.uniform(0.25, 0.35)
    mt = rng.uniform(0.18, 0.25)
    hb_t, hb_h = rng.uniform(0.04, 0.08), rng.uniform(0.9, 1.2)
    head_mat = wood if rng.random() < 0.7 else materials["fabric"]
    y0, y1 = -length / 2, length / 2
    parts: list[Part] = [
        (box((-w / 2, y0, leg_h), (w / 2, y1, frame_top)), wood),
        (box((-w / 2, y0 - hb_t, 0), (w / 2, y0, hb_h)), head_mat),
        (
            box((-w / 2 + 0.02, y0 + 0.02, frame_top), (w / 2 - 0.02, y1 - 0.02, frame_top + mt)),
            linen,
        ),
    ]
    for sx in (-1, 1):
        for sy in (-1, 1):
            xy = (sx * (w / 2 - 0.04), sy * (length / 2 - 0.04))
            parts.append((box_at((0.06, 0.06, leg_h), (*xy, leg_h / 2)), wood))
    m_top = frame_top + mt
    footboard = rng.random() < 0.35
    if footboard:
        fb_h = m_top + rng.uniform(0.0, 0.15)
        parts.append((box((-w / 2, y1, 0), (w / 2, y1 + hb_t, fb_h)), head_mat))
    n = 2 if w >= 1.5 else 1
    pw = min(rng.uniform(0.5, 0.7), (w - 0.1) / n - 0.05)
    pd, ph = rng.uniform(0.35, 0.45), rng.uniform(0.1, 0.15)
    for x in [-w / 4, w / 4] if n == 2 else [0.0]:
        lo, hi = (x - pw / 2, y0 + 0.05, m_top), (x + pw / 2, y0 + 0.05 + pd, m_top + ph)
        parts.append((box(lo, hi), linen))
    b0 = y0 + 0.05 + pd + rng.uniform(0.05, 0.3)
    parts.append(
        (
            box((-w / 2 + 0.01, b0, m_top - 0.12), (w / 2 - 0.01, y1 - 0.01, m_top + 0.03)),
            materials["fabric"],
        )
    )
    rect = [-w / 2 + 0.1, y0 + 0.1 + pd, w / 2 - 0.1, y1 - 0.1]
    params = dict(
        width=w,
        length=length,
        frame_height=frame_top,
        mattress=mt,
        headboard=hb_h,
        footboard=footboard,
        pillows=n,
    )
    return _finish("bed", parts, [(rect, m_top + 0.03)], params)


def _drawer(
    name: str,
    x: tuple[float, float],
    y: tuple[float, float],
    z: tuple[float, float],
    front: Part,
    handle: Part,
    wood: Material,
    travel: float,
) -> Link:
    """A prismatic drawer link: ``front`` and ``handle`` (cabinet frame) and a tray
    filling the opening ``x`` by ``y`` by ``z`` behind the front. The link frame sits at
    the centre of the front's back face; the joint slides along +y."""
    origin = np.array([0.0, y[1], (z[0] + z[1]) / 2])
    bt, wall = 0.008, 0.012
    (x0, x1), (y0, y1), (z0, z1) = x, y, z
    tray = trimesh.util.concatenate(
        [
            box((x0, y0, z0), (x1, y1, z0 + bt)),
            box((x0, y0, z0), (x0 + wall, y1, z1)),
            box((x1 - wall, y0, z0), (x1, y1, z1)),
            box((x0 + wall, y0, z0), (x1 - wall, y0 + wall, z1)),
        ]
    )
    visuals = [Visual(m, mat) for m, mat in (front, handle, (tray, wood))]
    for v in visuals:
        v.mesh.apply_translation(-origin)
    volume = (x1 - x0) * (y1 - y0) * (z1 - z0)
    T = np.eye(4)
    T[:3, 3] = origin
    return Link(
        name=name,
        semantic_class="drawer",
        visuals=visuals,
        T_parent_link=T,
        joint_type="prismatic",
        joint_axis=(0.0, 1.0, 0.0),
        joint_limits=(0.0, float(travel)),
        mass=float(np.clip(60.0 * volume, 2.0, 5.0)),
    )


def make_cabinet(rng: np.random.Generator, materials: dict[str, Material]) -> Piece:
    """Drawer unit: a carcass of panels (sides, top, bottom, back, dividers) open at +y,
    on a plinth or legs, and 2-4 drawers (front, bar or knob handle, tray) as prismatic
    links that slide out along +y by up to 0.8 x the depth."""
    wood = materials["wood"]
    fronts_mat = wood if rng.random() < 0.7 else materials["plastic"]
    metal = materials["metal"]
    w, d, h = rng.uniform(0.4, 1.0), rng.uniform(0.4, 0.55), rng.uniform(0.5, 1.1)
    ft, top_t = rng.uniform(0.018, 0.025), rng.uniform(0.02, 0.035)
    base_h = rng.uniform(0.05, 0.12)
    overhang = rng.uniform(0.0, 0.02)
    back_t = 0.008
    y_back, y_open = -d / 2, d / 2 - ft
    z_top = h - top_t
    inner = w / 2 - ft
    parts: list[Part] = [
        (
            box((-w / 2 - overhang, -d / 2, z_top), (w / 2 + overhang, d / 2 + overhang, h)),
            wood,
        ),
        (box((-inner, y_back, base_h), (inner, y_back + back_t, z_top)), wood),
        (box((-inner, y_back + back_t, base_h), (inner, y_open, base_h + ft)), wood),
        (box((-w / 2, y_back, base_h), (-inner, y_open, z_top)), wood),
        (box((inner, y_back, base_h), (w / 2, y_open, z_top)), wood),
    ]
    base = "plinth" if rng.random() < 0.5 else "legs"
    if base == "plinth":
        parts.append(
            (
                box((-w / 2 + 0.03, -d / 2 + 0.03, 0), (w / 2 - 0.03, d / 2 - ft - 0.03, base_h)),
                wood,
            )
        )
    else:
        lr = rng.uniform(0.015, 0.025)
        for sx in (-1, 1):
            for sy in (-1, 1):
                xy = (sx * (w / 2 - 0.04), sy * (d / 2 - ft - 0.04))
                parts.append((cylinder(lr, 0, base_h + 0.01, xy=xy, sections=12), wood))
    n = int(rng.integers(2, 5))
    gap = 0.004
    fh = (h - top_t - base_h - (n + 1) * gap) / n
    handle = "bar" if rng.random() < 0.6 else "knob"
    hw = min(0.12, 0.4 * w) / 2
    travel = 0.8 * d
    floors = [base_h + ft]
    for i in range(1, n):
        zb = base_h + i * (fh + gap) + gap / 2
        parts.append(
            (box((-inner, y_back + back_t, zb - ft / 2), (inner, y_open, zb + ft / 2)), wood)
        )
        floors.append(zb + ft / 2)
    ceilings = [f - ft for f in floors[1:]] + [z_top]
    tray_x = (-inner + 0.008, inner - 0.008)
    tray_y = (y_back + back_t + 0.01, y_open)
    links = []
    for i in range(n):
        z = base_h + gap + i * (fh + gap)
        front = box((-w / 2 + gap, y_open, z), (w / 2 - gap, d / 2, z + fh))
        zc = z + fh * 0.5
        if handle == "bar":
            grip = box((-hw, d / 2, zc - 0.0075), (hw, d / 2 + 0.025, zc + 0.0075))
        else:
            grip = cylinder_along(0.012, (0, d / 2, zc), (0, d / 2 + 0.025, zc))
        tray_z = (floors[i] + 0.002, ceilings[i] - 0.012)
        parts_i = (front, fronts_mat), (grip, metal)
        links.append(_drawer(f"drawer_{i}", tray_x, tray_y, tray_z, *parts_i, wood, travel))
    rect = [-w / 2 + 0.02, -d / 2 + 0.02, w / 2 - 0.02, d / 2 - ft]
    params = dict(
        width=w, depth=d, height=h, drawers=n, handle=handle, base=base, drawer_travel=travel
    )
    return _finish("cabinet", parts, [(rect, h)], params, links)


HANDLE_RADIUS = 0.006  # m: the bar of a small cabinet's handle
HANDLE_STANDOFF = 0.03  # m: from the front face to the bar's axis


def _bar_handle(a, b, outward) -> tuple[list[trimesh.Trimesh], np.ndarray]:
    """A bar handle from point ``a`` to point ``b`` on a front face, held
    ``HANDLE_STANDOFF`` out along ``outward`` by a post at each end, so fingers fit
    around the bar; returns the meshes (bar, posts) and the bar's middle."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out = np.asarray(outward, dtype=float) * HANDLE_STANDOFF
    meshes = [
        cylinder_along(HANDLE_RADIUS, a + out, b + out),
        cylinder_along(0.8 * HANDLE_RADIUS, a, a + out),
        cylinder_along(0.8 * HANDLE_RADIUS, b, b + out),
    ]
    return meshes, (a + b) / 2 + out


def _door(
    name: str, hinge: np.ndarray, side: int, panel: Part, handle: list[Part], grasp: np.ndarray
) -> tuple[Link, np.ndarray]:
    """A door turning about the vertical axis through ``hinge`` (cabinet frame) at its
    outer edge, ``side`` -1 for a door hinged at -x, +1 at +x; the joint opens it
    outwards (+y) for positive angles up to a right angle. Returns the link and the
    grasp point in its frame."""
    visuals = [Visual(m, mat) for m, mat in (panel, *handle)]
    for v in visuals:
        v.mesh.apply_translation(-hinge)
    T = np.eye(4)
    T[:3, 3] = hinge
    volume = np.prod(panel[0].extents)
    link = Link(
        name=name,
        semantic_class="door",
        visuals=visuals,
        T_parent_link=T,
        joint_type="revolute",
        joint_axis=(0.0, 0.0, float(-side)),
        joint_limits=(0.0, float(np.pi / 2)),
        mass=float(np.clip(600.0 * volume, 0.5, 2.0)),
        joint_friction=0.3,
    )
    return link, grasp - hinge


def make_small_cabinet(
    rng: np.random.Generator, materials: dict[str, Material], fronts: str = "drawers"
) -> Piece:
    """Bedside-sized cabinet small enough to stand on a table within a robot arm's
    reach: a carcass open at +y on a plinth, with 2-3 drawers (``fronts="drawers"``,
    prismatic links sliding out along +y by 0.75 x the depth, fronts 13-16 cm high so
    a hand on one handle stays clear of the next), one hinged door (``"door"``, hinged
    at either side) or a pair (``"doors"``), each door a revolute link about a vertical
    axis at its outer edge, opening outwards by up to a right angle. Every front has a
    bar handle on a standoff (horizontal on drawers, vertical on a door's opening side);
    ``Piece.handles`` holds the grasp points. The joints have a little friction, so a
    drawer or door stays where it is let go."""
    if fronts not in ("drawers", "door", "doors"):
        raise ValueError(f"fronts must be 'drawers', 'door' or 'doors' (got {fronts!r})")
    wood = materials["wood"]
    fronts_mat = wood if rng.random() < 0.7 else materials["plastic"]
    metal = materials["metal"]
    w = rng.uniform(0.26, 0.32) if fronts == "door" else rng.uniform(0.36, 0.5)
    d = rng.uniform(0.26, 0.32)
    ft, top_t, back_t, gap = 0.016, rng.uniform(0.018, 0.025), 0.008, 0.004
    base_h = rng.uniform(0.03, 0.05)
    n = int(rng.integers(2, 4)) if fronts == "drawers" else 0
    fh = rng.uniform(0.13, 0.16)
    if fronts == "drawers":
        h = base_h + (n + 1) * gap + n * fh + top_t
    else:
        h = rng.uniform(0.3, 0.42)
    y_back, y_open = -d / 2, d / 2 - ft
    z_top = h - top_t
    inner = w / 2 - ft
    parts: list[Part] = [
        (box((-w / 2, -d / 2, z_top), (w / 2, d / 2, h)), wood),
        (box((-inner, y_back, base_h), (inner, y_back + back_t, z_top)), wood),
        (box((-inner, y_back + back_t, base_h), (inner, y_open, base_h + ft)), wood),
        (box((-w / 2, y_back, base_h), (-inner, y_open, z_top)), wood),
        (box((inner, y_back, base_h), (w / 2, y_open, z_top)), wood),
        (box((-w / 2 + 0.02, -d / 2 + 0.02, 0), (w / 2 - 0.02, y_open - 0.02, base_h)), wood),
    ]
    links: list[Link] = []
    handles: dict[str, np.ndarray] = {}
    outward = (0.0, 1.0, 0.0)
    if fronts == "drawers":
        hw = min(0.1, 0.3 * w) / 2
        floors = [base_h + ft]
        for i in range(1, n):
            zb = base_h + i * (fh + gap) + gap / 2
            parts.append(
                (box((-inner, y_back + back_t, zb - ft / 2), (inner, y_open, zb + ft / 2)), wood)
            )
            floors.append(zb + ft / 2)
        ceilings = [f - ft for f in floors[1:]] + [z_top]
        for i in range(n):
            z = base_h + gap + i * (fh + gap)
            front = box((-w / 2 + gap, y_open, z), (w / 2 - gap, d / 2, z + fh))
            zc = z + fh / 2
            (bar, *posts), grasp = _bar_handle((-hw, d / 2, zc), (hw, d / 2, zc), outward)
            tray = ((-inner + 0.006, inner - 0.006), (y_back + back_t + 0.01, y_open))
            link = _drawer(
                f"drawer_{i}",
                *tray,
                (floors[i] + 0.002, ceilings[i] - 0.008),
                (front, fronts_mat),
                (bar, metal),
                wood,
                0.75 * d,
            )
            origin = link.T_parent_link[:3, 3]
            posts = [Visual(m.apply_translation(-origin), metal) for m in posts]
            links.append(replace(link, visuals=link.visuals + posts, joint_friction=4.0))
            handles[link.name] = grasp - origin
        count = n
    else:
        shelf_z = base_h + (z_top - base_h) * rng.uniform(0.45, 0.6)
        parts.append(
            (
                box((-inner, y_back + back_t, shelf_z - ft / 2), (inner, y_open, shelf_z + ft / 2)),
                wood,
            )
        )
        count = 1 if fronts == "door" else 2
        dw = (w - (count + 1) * gap) / count
        z0, z1 = base_h + gap, z_top - gap
        hl = min(0.1, 0.4 * (z1 - z0)) / 2
        zc = (z0 + z1) / 2 + rng.uniform(0.0, 0.25) * (z1 - z0) / 2
        sides = [int(rng.choice([-1, 1]))] if count == 1 else [-1, 1]
        for k, side in enumerate(sides):
            outer = side * (w / 2 - gap)
            free = outer - side * dw
            panel = box((min(outer, free), y_open, z0), (max(outer, free), d / 2, z1))
            x_h = free + side * 0.035
            grip, grasp = _bar_handle((x_h, d / 2, zc - hl), (x_h, d / 2, zc + hl), outward)
            hinge = np.array([outer, d / 2, (z0 + z1) / 2])
            handle = [(m, metal) for m in grip]
            link, grasp_link = _door(f"door_{k}", hinge, side, (panel, fronts_mat), handle, grasp)
            links.append(link)
            handles[link.name] = grasp_link
    rect = [-w / 2 + 0.02, -d / 2 + 0.02, w / 2 - 0.02, d / 2 - 0.02]
    params = dict(width=w, depth=d, height=h, fronts=fronts, count=count)
    return replace(_finish("cabinet", parts, [(rect, h)], params, links), handles=handles)


def make_lamp(rng: np.random.Generator, materials: dict[str, Material]) -> Piece:
    """Floor lamp: round or square base, thin pole, conical or cylindrical shade."""
    metal = materials["metal"]
    shade_mat = materials.get("shade", materials["fabric"])
    base_r, base_t = rng.uniform(0.12, 0.18), rng.uniform(0.02, 0.04)
    pole_r, pole_h = rng.uniform(0.01, 0.018), rng.uniform(1.3, 1.6)
    shade_h = rng.uniform(0.2, 0.32)
    rb = rng.uniform(0.16, 0.24)
    shade = "cone" if rng.random() < 0.65 else "drum"
    rt = rb * rng.uniform(0.5, 0.85) if shade == "cone" else rb
    square = rng.random() < 0.3
    z0 = pole_h - shade_h * rng.uniform(0.3, 0.6)
    parts: list[Part] = []
    if square:
        parts.append((box_at((2 * base_r, 2 * base_r, base_t), (0, 0, base_t / 2)), metal))
    else:
        parts.append((cylinder(base_r, 0, base_t, sections=32), metal))
    parts.append((cylinder(pole_r, base_t, pole_h, sections=12), metal))
    profile = [(0, z0), (rb, z0), (rt, z0 + shade_h), (0, z0 + shade_h)]
    parts.append((revolve(profile, sections=32), shade_mat))
    params = dict(
        base_radius=base_r,
        pole_height=pole_h,
        shade=shade,
        shade_height=shade_h,
        shade_radius=rb,
        square_base=square,
    )
    return _finish("lamp", parts, [], params)


MAKERS: dict[str, Callable[[np.random.Generator, dict[str, Material]], Piece]] = {
    "table": make_table,
    "chair": make_chair,
    "shelf": make_shelf,
    "sofa": make_sofa,
    "bed": make_bed,
    "cabinet": make_cabinet,
    "lamp": make_lamp,
}

PIECE_CLASSES = tuple(MAKERS)


def make_piece(rng: np.random.Generator, name_class: str, materials: dict[str, Material]) -> Piece:
    """Build one piece of ``name_class`` (one of ``PIECE_CLASSES``)."""
    return MAKERS[name_class](rng, materials)
