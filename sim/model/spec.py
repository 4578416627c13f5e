"""SceneSpec: the plain-data description of a scene that a family builds.

Nothing here holds a pybullet or GL object, so a spec can be pickled, sent to
another process and simulated or rendered there. Poses are 4x4 matrices
``T_world_<thing>`` (Z up, metres). Meshes are ``trimesh.Trimesh`` in the local
frame of the part they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh


@dataclass
class Material:
    """PBR material: base colour (linear RGBA), roughness, metallic, optional texture.

    ``texture`` is an sRGB uint8 image (H, W, 3) that multiplies ``base_color``; it is
    mapped by triplanar projection in the part's local frame, one tile every
    ``texture_scale`` metres, so procedural meshes need no UV coordinates.
    """

    name: str
    base_color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    roughness: float = 0.6
    metallic: float = 0.0
    texture: np.ndarray | None = None
    texture_scale: float = 1.0
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # Time-varying emission (a traffic-light lamp): from each key's time (s) on, the
    # emission is that key's colour; before the first key it is ``emissive``.
    emissive_keys: list[tuple[float, tuple[float, float, float]]] = field(default_factory=list)


@dataclass
class Visual:
    """One renderable mesh of a part, in the part's local frame."""

    mesh: trimesh.Trimesh
    material: Material
    # a coarser mesh of the same surface that the raster's shadow maps draw instead
    # (shadows are colour only: no label depends on them); None: the mesh itself
    shadow_mesh: trimesh.Trimesh | None = None


@dataclass
class Motion:
    """A scripted kinematic path: keyframe times (s) and poses ``T_world_body``.

    Before the first key the body holds the first pose, after the last it holds the
    last one. Between keys rotation follows a slerp and position a smoothstep ease
    ("smooth": each key is a stop) or a straight line at constant speed ("linear":
    dense keys sampled from a continuous path, e.g. a vehicle's drive).
    """

    times: np.ndarray
    poses: np.ndarray
    interpolation: str = "smooth"  # smooth | linear (constant velocity between keys)


@dataclass
class JointMotion:
    """Scripted joint positions of a URDF body, applied kinematically every step.

    ``positions`` maps a URDF joint name to its values at ``times``: shape (T,) for a
    revolute or prismatic joint, (T, 4) quaternions (x, y, z, w) for a spherical one.
    Values are interpolated linearly (slerp for quaternions); the motion holds its
    first and last values outside ``times``.
    """

    times: np.ndarray
    positions: dict[str, np.ndarray]


@dataclass
class Link:
    """A child link of an articulated body (pybullet multibody link).

    ``T_parent_link`` places the link frame in its parent's frame at joint position 0;
    ``parent`` is -1 for the base or the index of an earlier link.
    ``joint_targets`` is a list of (time s, position) keys followed by a position motor.
    ``initial_position`` is the joint position at the start of the rollout (an open
    drawer). A joint without targets moves freely when pushed or pulled, against
    ``joint_friction`` (N for a prismatic joint, N m for a revolute one): with some, a
    drawer let go of stays where it is instead of sliding on.
    """

    name: str
    semantic_class: str
    visuals: list[Visual]
    T_parent_link: np.ndarray
    parent: int = -1
    joint_type: str = "fixed"  # fixed | revolute | prismatic
    joint_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    joint_limits: tuple[float, float] = (0.0, 0.0)
    mass: float = 1.0
    joint_targets: list[tuple[float, float]] = field(default_factory=list)
    initial_position: float = 0.0
    joint_friction: float = 0.0


@dataclass
class Body:
    """A rigid body (or the base of an articulated one).

    mass 0 makes it static; a static body with ``motion`` is kinematic and follows it.
    ``collision``: "auto" (exact mesh when static, convex hull when dynamic),
    "convex", "exact", or an exact primitive fitted to the visuals' bounds: "box",
    "sphere", "cylinder" (axis along z); "boxes" (a box on each visual's bounds, for
    parts built from boxes, such as a drawer with a bar handle); or "none".
    ``urdf_path``: load the body from a URDF instead of ``visuals`` and ``links``;
    ``joint_motion`` then drives its joints kinematically (a walking pedestrian).
    ``lifetime``: (appear, vanish) seconds, vanish None = the end of the clip; None = the
    whole clip. Outside it the body is absent: it collides with nothing, stays where it
    waits (its ``pose`` before it appears, where it was when it vanishes), is not drawn
    and is left out of that frame's labels. It appears at ``pose`` with
    ``linear_velocity`` (a fruit's halves replacing the whole fruit at a cut).
    """

    name: str
    semantic_class: str
    visuals: list[Visual] = field(default_factory=list)
    pose: np.ndarray = field(default_factory=lambda: np.eye(4))
    mass: float = 0.0
    friction: float = 0.6
    restitution: float = 0.05
    collision: str = "auto"
    motion: Motion | None = None
    links: list[Link] = field(default_factory=list)
    urdf_path: str | None = None
    urdf_scale: float = 1.0
    linear_velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    joint_motion: JointMotion | None = None
    # Materials replacing a URDF's own colours, by link name ("base" for the base link).
    urdf_materials: dict[str, Material] = field(default_factory=dict)
    lifetime: tuple[float, float | None] | None = None
    # The cube (m) of vertex clustering its URDF's dense visual meshes are drawn at (0:
    # as the files have them); chosen per clip by ``actors.urdf.choose_detail``.
    urdf_cell_m: float = 0.0


@dataclass
class Light:
    """A light. ``directional`` lights shine along ``direction`` (world); ``point``
    lights sit at ``position``. Intensity: directional in lux-like units (about 3 for
    sunlight in the renderer's scale), point lights in candela-like units."""

    kind: str  # directional | point
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 3.0
    direction: tuple[float, float, float] = (0.0, 0.0, -1.0)
    position: tuple[float, float, float] = (0.0, 0.0, 2.5)
    cast_shadows: bool = False
    # A light carried by a body (headlights): ``position`` and ``direction`` are then
    # in that body's frame and move with it.
    body: str = ""
    # Spot cone: full intensity inside ``cone_deg`` / 2 of ``direction``, fading to
    # zero at ``cone_deg`` / 2 + 10 degrees; 0 means an omnidirectional point light.
    cone_deg: float = 0.0


@dataclass
class Sky:
    """Background and ambient light: a vertical gradient seen where no surface is."""

    zenith: tuple[float, float, float] = (0.30, 0.50, 0.85)
    horizon: tuple[float, float, float] = (0.75, 0.82, 0.90)
    ground: tuple[float, float, float] = (0.35, 0.32, 0.30)
    ambient: float = 0.35


@dataclass
class Fog:
    """Homogeneous fog: colour blends in by ``1 - exp(-density * distance)``."""

    density: float = 0.0  # 1/m
    color: tuple[float, float, float] = (0.7, 0.72, 0.75)  # linear RGB


@dataclass
class CameraPath:
    """How a camera moves.

    kind: "static" (``eye``, ``target``), "orbit" (``target``, ``radius``, ``height``,
    ``start_angle``, ``sweep`` radians over the clip), "waypoints" (``points`` eye
    positions and ``targets``, walked at constant speed), "follow" (``body`` name; the
    eye is at the body's position + ``offset`` and looks at its position + ``target``,
    both in the world frame), "mounted" (rigidly fixed to ``body`` at ``T_body_camera``,
    OpenCV camera axes, e.g. a vehicle's camera rig), "keyed" (eye ``points`` and
    ``targets`` at ``times`` s, each followed by a cubic spline in time and held
    outside the keys: a hand-held camera's shake).
    """

    kind: str = "static"
    eye: tuple[float, float, float] = (3.0, -3.0, 2.0)
    target: tuple[float, float, float] = (0.0, 0.0, 0.5)
    radius: float = 3.0
    height: float = 1.6
    start_angle: float = 0.0
    sweep: float = 1.0
    points: list[tuple[float, float, float]] = field(default_factory=list)
    targets: list[tuple[float, float, float]] = field(default_factory=list)
    body: str = ""
    offset: tuple[float, float, float] = (-2.0, 0.0, 1.5)
    T_body_camera: np.ndarray = field(default_factory=lambda: np.eye(4))
    times: list[float] = field(default_factory=list)


@dataclass
class CameraSpec:
    name: str
    width: int
    height: int
    fov_y_deg: float = 60.0
    near: float = 0.05
    far: float = 100.0
    path: CameraPath = field(default_factory=CameraPath)


@dataclass
class LidarSpec:
    """A spinning LiDAR rigidly mounted on ``body`` at ``T_body_lidar`` (lidar frame:
    x forward, y left, z up, as a Velodyne's).

    ``channels`` beams spread evenly over ``vertical_fov_deg`` (lower, upper), one
    ray every ``horizontal_resolution_deg`` of azimuth. ``rotation_hz`` None gives one
    full revolution per frame; otherwise a frame holds the sector swept since the
    previous frame (``360 * rotation_hz / fps`` degrees, at most 360).
    """

    name: str
    body: str
    T_body_lidar: np.ndarray = field(default_factory=lambda: np.eye(4))
    channels: int = 32
    vertical_fov_deg: tuple[float, float] = (-30.67, 10.67)
    horizontal_resolution_deg: float = 0.2
    range_m: float = 100.0
    rotation_hz: float | None = None


@dataclass
class Attachment:
    """A rigid grasp: from ``start`` (s) until ``end`` (s, None = the end of the clip)
    the part ``child`` is held fixed to the part ``parent`` in the relative pose they
    have at ``start`` (a hand or gripper holding an object). Parts are named as in the
    Trajectory: "body" for a base, "body/link" for a link.

    ``upright``: the child is held at the parent's position but keeps its orientation,
    turning only about the vertical as the parent's body turns (the heading of its base's
    x axis): a hand without a wrist joint that holds things level.

    ``pivot``: the child is held by one point (where the parent part's origin is at
    ``start``) and turns freely about it: a hand on a door's handle, the door turning
    about its hinge (``pivot`` overrides ``upright``)."""

    parent: str
    child: str
    start: float
    end: float | None = None
    upright: bool = False
    pivot: bool = False


@dataclass
class ClothAnchor:
    """A cloth vertex held by a part: from ``start`` (s) until ``end`` (s, None = the end
    of the clip) vertex ``vertex`` of the cloth's mesh moves with ``part`` (named as in the
    Trajectory: "body" or "body/link") at the offset they have at ``start`` (a gripper
    pinching a corner)."""

    vertex: int
    part: str
    start: float
    end: float | None = None


@dataclass
class Cloth:
    """A deformable sheet (napkin, towel), simulated as a mass-spring soft body in
    pybullet's deformable world.

    ``mesh`` is its rest shape in the cloth frame (a flat grid, see ``sim.cloth.grid``),
    ``pose`` places it (``T_world_cloth``). Springs run along the mesh edges
    (``stretch_stiffness``, N/m) and across pairs of triangles (``bend_stiffness``);
    ``damping`` damps the springs, ``collision_margin`` (m) is the contact thickness.
    ``self_collision`` is pybullet's soft-body self-collision (in pybullet 3.2.7 it did
    not keep a folded cloth's layers apart). The defaults are a set that proved stable
    (README, "Folding a cloth"). The material's texture is mapped on the rest shape, so
    it moves with the fabric.
    """

    name: str
    semantic_class: str
    mesh: trimesh.Trimesh
    material: Material
    pose: np.ndarray = field(default_factory=lambda: np.eye(4))
    mass: float = 0.1
    stretch_stiffness: float = 100.0
    bend_stiffness: float = 0.1
    damping: float = 0.1
    friction: float = 1.0
    collision_margin: float = 0.002
    self_collision: bool = False
    anchors: list[ClothAnchor] = field(default_factory=list)
    # A region of a person's skinned body (``sim.actors.body``) rather than a sheet: the
    # name of the ``Person``; it is not simulated, and its vertices every frame are those
    # of the skinned body mesh at ``skin_vertices`` (indices into the whole mesh).
    skin: str = ""
    skin_vertices: np.ndarray | None = None
    # Its levels of detail: (error (m), faces (T, 3) into ``mesh.vertices``) from the full
    # mesh (error 0) to the coarsest; ``sim.actors.body.choose_detail`` makes the coarser
    # ones for a clip and draws one. ``skin_kept``: its vertices every level keeps (the
    # fingertips, which are keypoints).
    skin_levels: tuple = ()
    skin_kept: np.ndarray | None = None


@dataclass
class Person:
    """A person's visible body: the anny body model (``sim.actors.body``) with its
    ``phenotype`` (anny's parameters and the age in years) and ``look`` (skin, hair and
    clothes), skinned every frame on the motion of the humanoid Body ``proxy``, which moves
    and collides but is not drawn. Its mesh is drawn as the cloths whose ``skin`` is
    ``name`` (one per region: skin, hair, top, ...). ``height`` is its standing height (m).
    ``grips``: per hand ("left", "right"), what it grasps: {"object": a body's name (or
    "body/link"), "start": s, "end": s or None, optionally "visuals": the indices of the
    part's visuals it grasps (a handle), "across": the axis of the bar the fingers
    close around and "at": the point the palm goes to, both in the part's frame}; the
    hand turns its palm onto the object before ``start`` and its fingers close on it
    (``sim.actors.body.grasp_hands``)."""

    name: str
    proxy: str
    phenotype: dict
    look: dict
    height: float
    grips: dict = field(default_factory=dict)


@dataclass
class SceneSpec:
    """Everything needed to simulate and render one clip."""

    family: str
    bodies: list[Body]
    lights: list[Light]
    cameras: list[CameraSpec]
    sky: Sky = field(default_factory=Sky)
    gravity: tuple[float, float, float] = (0.0, 0.0, -9.81)
    params: dict = field(default_factory=dict)
    fog: Fog | None = None
    lidars: list[LidarSpec] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    # Family-specific labels written into annotations.json under "family" (plain
    # JSON types): e.g. per-frame traffic-light states, events, ego state.
    annotations: dict = field(default_factory=dict)
    # Deformable sheets; a spec with any is simulated in pybullet's deformable world.
    cloths: list[Cloth] = field(default_factory=list)
    # People drawn with the body model, each dressing a humanoid proxy (its regions are
    # cloths with ``skin`` set, after the simulated ones).
    people: list[Person] = field(default_factory=list)
