"""Static meshes for a road network: asphalt with painted markings, raised sidewalks
with vertical kerbs and crosswalk ramps, and the ground around them.

Every surface comes from the areas in ``roads`` (road, sidewalk, islands), simplified by
a couple of centimetres and triangulated in the plane; the sidewalk is cut from the
simplified road so that kerb and asphalt share their edge exactly.
"""

from __future__ import annotations

import numpy as np
import shapely
import trimesh
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import substring, unary_union

from simfactory.scenes.driving.network import RoadNetwork
from simfactory.scenes.driving.road_textures import asphalt, grass, paving
from simfactory.scenes.driving.roads import (
    crosswalk_area,
    island_area,
    road_area,
    roundabout_ring,
    sidewalk_area,
)
from simfactory.scenes.furniture.textures import srgb_to_linear
from simfactory.sim.model.spec import Body, Material, Visual

MARK_Z = 0.015  # paint above the asphalt (m)
GROUND_Z = -0.01
SIMPLIFY = 0.02  # polygon simplification tolerance (m)
LINE_WIDTH = 0.15
DASH = (3.0, 6.0)  # painted, gap (m)


def road_bodies(network: RoadNetwork, rng: np.random.Generator, wet: float = 0.0) -> list[Body]:
    """Three static bodies: "road" (asphalt and markings), "sidewalk" (kerbed slabs) and
    "terrain" (ground beyond everything, roundabout islands). ``wet`` in [0, 1] makes
    asphalt, paint and paving darker and glossier."""
    wet = float(np.clip(wet, 0.0, 1.0))
    mats = _materials(rng, wet)
    exact_road = road_area(network)
    road = _clean(exact_road.simplify(SIMPLIFY))
    sidewalk = _clean(sidewalk_area(network, exact_road).simplify(SIMPLIFY).difference(road))
    notches = _clean(
        unary_union([crosswalk_area(c) for c in network.crosswalks]).intersection(sidewalk)
    )
    slab = _clean(sidewalk.difference(notches))
    white, yellow = _markings(network, road)

    road_visuals = [Visual(_flat(road, 0.0), mats["asphalt"])]
    road_visuals += [
        Visual(_flat(paint, MARK_Z), mats[name])
        for name, paint in (("paint_white", white), ("paint_yellow", yellow))
        if not paint.is_empty
    ]
    walk = [_slab(slab, GROUND_Z, network.kerb_height)]
    if not notches.is_empty:
        walk.append(_ramps(notches, road, network.kerb_height, network.sidewalk_width / 2))

    paved = unary_union([road, sidewalk])
    lo, hi = np.array(paved.bounds[:2]), np.array(paved.bounds[2:])
    center, half = (lo + hi) / 2, max(200.0, float((hi - lo).max()) / 2 + 100.0)
    ground = box(*(center - half), *(center + half)).difference(paved)
    terrain = [_flat(ground, GROUND_Z)]
    islands = island_area(network)
    if not islands.is_empty:
        terrain.append(_slab(islands.simplify(SIMPLIFY), GROUND_Z, network.kerb_height))

    def body(name: str, visuals: list[Visual]) -> Body:
        return Body(name=name, semantic_class=name, visuals=visuals, mass=0.0, collision="exact")

    return [
        body("road", road_visuals),
        body("sidewalk", [Visual(trimesh.util.concatenate(walk), mats["paving"])]),
        body("terrain", [Visual(trimesh.util.concatenate(terrain), mats["grass"])]),
    ]


def _materials(rng: np.random.Generator, wet: float) -> dict[str, Material]:
    def grey(v: float) -> tuple[float, float, float, float]:
        return (v, v, v, 1.0)

    def paint(name: str, srgb) -> Material:
        r, g, b = (float(c) for c in srgb_to_linear(np.array(srgb) * (1 - 0.15 * wet)))
        return Material(name, (r, g, b, 1.0), roughness=0.55 - 0.35 * wet)

    return {
        "asphalt": Material(
            "asphalt",
            grey(1.0 - 0.3 * wet),
            roughness=0.9 - 0.75 * wet,
            texture=asphalt(rng),
            texture_scale=float(rng.uniform(3.0, 4.0)),
        ),
        "paint_white": paint("paint_white", (0.92, 0.92, 0.9)),
        "paint_yellow": paint("paint_yellow", (0.95, 0.74, 0.15)),
        "paving": Material(
            "paving",
            grey(1.0 - 0.2 * wet),
            roughness=0.8 - 0.45 * wet,
            texture=paving(rng),
            texture_scale=float(rng.uniform(2.0, 3.0)),
        ),
        "grass": Material(
            "grass",
            grey(1.0 - 0.1 * wet),
            roughness=0.95 - 0.3 * wet,
            texture=grass(rng),
            texture_scale=float(rng.uniform(2.5, 4.0)),
        ),
    }


# ---------------------------------------------------------------- markings


def _markings(network: RoadNetwork, road) -> tuple[object, object]:
    """White and yellow paint areas: lane dividers (dashed), double yellow centre lines,
    edge lines, stop lines, zebra stripes and roundabout ring lines."""
    white, yellow = [], []
    for lane in network.lanes:
        if lane.junction is not None:
            continue
        line = LineString(lane.centerline)
        half = lane.width / 2
        if lane.left is not None:
            white += _dashes(line.offset_curve(half), *DASH)
        else:
            yellow.append(line.offset_curve(half - 0.14))
        if lane.right is None:
            white.append(line.offset_curve(-(half - 0.25)))
    crossings = unary_union([crosswalk_area(c).buffer(0.3) for c in network.crosswalks])
    lines = [g.buffer(LINE_WIDTH / 2, cap_style="flat") for g in white]
    white_area = unary_union(lines).difference(crossings)
    yellow_area = unary_union([g.buffer(0.06, cap_style="flat") for g in yellow]).difference(
        crossings
    )
    bars = [_stop_line(lane.centerline, lane.width) for lane in network.lanes if lane.stop_at_end]
    zebra = [_zebra(c.a, c.b, c.width) for c in network.crosswalks]
    rings = [_ring_lines(network, j) for j in network.junctions if j.kind == "roundabout"]
    white_area = unary_union([white_area, *bars, *zebra, *rings])
    return _clean(white_area.intersection(road)), _clean(yellow_area.intersection(road))


def _dashes(line, painted: float, gap: float) -> list[LineString]:
    lines = getattr(line, "geoms", [line])
    out = []
    for g in lines:
        for s in np.arange(gap / 2, g.length, painted + gap):
            out.append(substring(g, s, min(s + painted, g.length)))
    return out


def _stop_line(centerline: np.ndarray, width: float) -> Polygon:
    """A 0.4 m bar across the lane, ending at the lane's end."""
    end = centerline[-1]
    d = end - centerline[-2]
    d /= np.linalg.norm(d)
    n = np.array([-d[1], d[0]]) * width / 2
    c = end - 0.2 * d
    return LineString([c - n, c + n]).buffer(0.2, cap_style="flat")


def _zebra(a, b, width: float) -> object:
    """Stripes 0.5 m wide every metre along a crosswalk, each as long as it is wide."""
    a, b = np.asarray(a), np.asarray(b)
    u = (b - a) / np.linalg.norm(b - a)
    v = np.array([-u[1], u[0]]) * width / 2
    stripes = [
        LineString([a + t * u - v, a + t * u + v]).buffer(0.25, cap_style="flat")
        for t in np.arange(0.5, np.linalg.norm(b - a), 1.0)
    ]
    return unary_union(stripes)


def _ring_lines(network: RoadNetwork, junction) -> object:
    """A solid line along the island and a dashed one along the ring's outer edge."""
    _, radius, width = roundabout_ring(network.lanes, junction)
    c = Point(junction.center)
    inner = radius - width / 2 + 0.3
    solid = c.buffer(inner + LINE_WIDTH / 2, quad_segs=32).difference(
        c.buffer(inner - LINE_WIDTH / 2, quad_segs=32)
    )
    outer = c.buffer(radius + width / 2 - 0.3, quad_segs=32).exterior
    dashed = [g.buffer(LINE_WIDTH / 2, cap_style="flat") for g in _dashes(outer, 1.0, 1.0)]
    return unary_union([solid, *dashed])


# ---------------------------------------------------------------- meshes


def _clean(geom) -> object:
    """Polygons only, without slivers under 1 cm^2."""
    polys = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and g.area > 1e-4]
    return unary_union(polys) if polys else Polygon()


def _flat(geom, z: float) -> trimesh.Trimesh:
    """A planar, upward-facing triangulation of polygons at height ``z``."""
    parts = []
    for poly in shapely.get_parts(geom):
        if poly.is_empty:
            continue
        v, f = trimesh.creation.triangulate_polygon(poly, engine="manifold")
        parts.append(trimesh.Trimesh(np.column_stack([v, np.full(len(v), z)]), f, process=False))
    return trimesh.util.concatenate(parts) if parts else trimesh.Trimesh()


def _slab(geom, z0: float, z1: float) -> trimesh.Trimesh:
    """Polygons extruded from ``z0`` to ``z1`` with vertical sides; the never-seen
    bottom faces are left out."""
    parts = []
    for poly in shapely.get_parts(geom):
        if poly.is_empty:
            continue
        mesh = trimesh.creation.extrude_polygon(poly, z1 - z0, engine="manifold")
        mesh.apply_translation([0.0, 0.0, z0])
        keep = mesh.face_normals[:, 2] > -0.5
        parts.append(trimesh.Trimesh(mesh.vertices, mesh.faces[keep], process=False))
    return trimesh.util.concatenate(parts) if parts else trimesh.Trimesh()


def _ramps(notches, road, kerb: float, run: float) -> trimesh.Trimesh:
    """The crosswalk cuts in the sidewalk, sloping from road level at the kerb up to
    the kerb height ``run`` metres in."""
    mesh = _flat(notches, 0.0)
    distance = shapely.distance(shapely.points(mesh.vertices[:, :2]), road.boundary)
    mesh.vertices[:, 2] = kerb * np.clip(distance / run, 0.0, 1.0)
    return mesh
