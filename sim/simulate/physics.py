"""Physics rollout: a SceneSpec simulated by pybullet (DIRECT mode) into a Trajectory.

A fresh pybullet world is built for every clip (pybullet is deterministic for the
same command sequence). Physics runs at fixed substeps, ``substeps`` per frame, so
frame i is at exactly i / fps seconds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np
import pybullet as pb
import trimesh
from scipy.spatial.transform import Rotation

from simfactory.sim.model.motion import (
    invert,
    motion_pose,
    motion_velocity,
    pos_quat_xyzw,
    pose_from_pos_quat_xyzw,
    smoothstep,
)
from simfactory.sim.model.spec import Body, JointMotion, SceneSpec
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.simulate.softbody import (
    CLOTH_PHYSICS_HZ,
    add_cloth,
    cloth_holds,
    cloth_sound,
    cloth_vertices,
    convex_parts_shape,
    ignore_holders,
    update_cloth_holds,
)

JOINT_TYPES = {
    "fixed": pb.JOINT_FIXED,
    "revolute": pb.JOINT_REVOLUTE,
    "prismatic": pb.JOINT_PRISMATIC,
}


class PhysicsError(RuntimeError):
    """A rollout that produced an impossible state (NaN poses, bodies flying off)."""


@dataclass
class _Part:
    name: str
    body: int
    link: int
    pb_body: int
    T_frame_inertial: np.ndarray  # link frame -> pybullet's inertial frame (bases only)


def _collision_shape(client: int, meshes: list[trimesh.Trimesh], mode: str, dynamic: bool) -> int:
    if mode == "none" or not meshes:
        return -1
    if mode == "boxes":  # one box per mesh: a compound of its parts' bounds
        bounds = np.array([m.bounds for m in meshes])
        return pb.createCollisionShapeArray(
            [pb.GEOM_BOX] * len(meshes),
            halfExtents=((bounds[:, 1] - bounds[:, 0]) / 2).tolist(),
            collisionFramePositions=((bounds[:, 1] + bounds[:, 0]) / 2).tolist(),
            physicsClientId=client,
        )
    mesh = trimesh.util.concatenate(meshes)
    if mode == "auto":
        mode = "convex" if dynamic else "exact"
    if mode == "box":
        lo, hi = mesh.bounds
        return pb.createCollisionShape(
            pb.GEOM_BOX,
            halfExtents=((hi - lo) / 2).tolist(),
            collisionFramePosition=((hi + lo) / 2).tolist(),
            physicsClientId=client,
        )
    if mode == "sphere":  # exact primitive: the sphere inscribed in the bounds
        lo, hi = mesh.bounds
        return pb.createCollisionShape(
            pb.GEOM_SPHERE,
            radius=float((hi - lo).max() / 2),
            collisionFramePosition=((hi + lo) / 2).tolist(),
            physicsClientId=client,
        )
    if mode == "cylinder":  # exact primitive: axis along z, radius from the x extent
        lo, hi = mesh.bounds
        return pb.createCollisionShape(
            pb.GEOM_CYLINDER,
            radius=float((hi - lo)[0] / 2),
            height=float((hi - lo)[2]),
            collisionFramePosition=((hi + lo) / 2).tolist(),
            physicsClientId=client,
        )
    if mode == "convex":
        hull = mesh.convex_hull
        return pb.createCollisionShape(
            pb.GEOM_MESH, vertices=hull.vertices.tolist(), physicsClientId=client
        )
    if mode == "exact":
        return pb.createCollisionShape(
            pb.GEOM_MESH,
            vertices=mesh.vertices.tolist(),
            indices=mesh.faces.reshape(-1).tolist(),
            flags=pb.GEOM_FORCE_CONCAVE_TRIMESH,
            physicsClientId=client,
        )
    raise ValueError(f"unknown collision mode {mode!r}")


def _center_of_mass(meshes: list[trimesh.Trimesh]) -> np.ndarray:
    if not meshes:
        return np.zeros(3)
    hull = trimesh.util.concatenate(meshes).convex_hull
    return np.asarray(hull.center_mass if hull.is_volume else hull.centroid, dtype=float)


def _add_body(client: int, body: Body, deformable_world: bool = False) -> int:
    if body.urdf_path:
        pos, quat = pos_quat_xyzw(body.pose)
        uid = pb.loadURDF(
            body.urdf_path,
            pos,
            quat,
            globalScaling=body.urdf_scale,
            useFixedBase=body.mass == 0,
            physicsClientId=client,
        )
    else:
        dynamic = body.mass > 0
        meshes = [v.mesh for v in body.visuals]
        # Shapes and links are given in the body frame; the inertial frame sits at the
        # centre of mass (pybullet reports base poses in that frame; _read_part undoes it).
        com = _center_of_mass(meshes) if dynamic else np.zeros(3)
        if deformable_world and not dynamic and body.collision in ("auto", "exact"):
            shape = convex_parts_shape(client, meshes)  # soft bodies ignore concave meshes
        else:
            shape = _collision_shape(client, meshes, body.collision, dynamic)
        links = body.links
        link_shapes = [
            _collision_shape(client, [v.mesh for v in ln.visuals], body.collision, True)
            for ln in links
        ]
        pos, quat = pos_quat_xyzw(body.pose)
        uid = pb.createMultiBody(
            baseMass=body.mass,
            baseCollisionShapeIndex=shape,
            basePosition=pos,
            baseOrientation=quat,
            baseInertialFramePosition=com.tolist(),
            linkMasses=[ln.mass for ln in links],
            linkCollisionShapeIndices=link_shapes,
            linkVisualShapeIndices=[-1] * len(links),
            linkPositions=[ln.T_parent_link[:3, 3].tolist() for ln in links],
            linkOrientations=[pos_quat_xyzw(ln.T_parent_link)[1] for ln in links],
            linkInertialFramePositions=[[0, 0, 0]] * len(links),
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * len(links),
            linkParentIndices=[ln.parent + 1 for ln in links],
            linkJointTypes=[JOINT_TYPES[ln.joint_type] for ln in links],
            linkJointAxis=[list(ln.joint_axis) for ln in links],
            physicsClientId=client,
        )
        for j, ln in enumerate(links):
            if ln.joint_type != "fixed":
                pb.changeDynamics(
                    uid,
                    j,
                    jointLowerLimit=ln.joint_limits[0],
                    jointUpperLimit=ln.joint_limits[1],
                    physicsClientId=client,
                )
    for link in range(-1, pb.getNumJoints(uid, physicsClientId=client)):
        pb.changeDynamics(
            uid,
            link,
            lateralFriction=body.friction,
            restitution=body.restitution,
            linearDamping=0.0,  # no air drag: dropped bodies fall with g
            angularDamping=0.01,
            physicsClientId=client,
        )
    for j in range(pb.getNumJoints(uid, physicsClientId=client)):
        # Free joints by default: pybullet starts every joint with a motor (a spherical
        # joint's holds its first orientation, and shoves the links of an awake puppet).
        if pb.getJointInfo(uid, j, physicsClientId=client)[2] == pb.JOINT_SPHERICAL:
            pb.setJointMotorControlMultiDof(
                uid, j, pb.POSITION_CONTROL, [0.0, 0.0, 0.0, 1.0], targetVelocity=[0.0] * 3,
                positionGain=0.0, velocityGain=0.0, force=[0.0] * 3, physicsClientId=client,
            )  # fmt: skip
        else:
            pb.setJointMotorControl2(uid, j, pb.VELOCITY_CONTROL, force=0, physicsClientId=client)
    if not body.urdf_path:
        _start_links(client, uid, body)
    if body.urdf_path and body.collision == "none":
        for link in range(-1, pb.getNumJoints(uid, physicsClientId=client)):
            pb.setCollisionFilterGroupMask(uid, link, 0, 0, physicsClientId=client)
    if any(body.linear_velocity):
        pb.resetBaseVelocity(uid, list(body.linear_velocity), physicsClientId=client)
    return uid


def _start_links(client: int, uid: int, body: Body) -> None:
    """Put links at their initial joint positions and give free joints their friction:
    a velocity motor holding zero speed with at most that force, which the joint's
    motor (``joint_targets``) replaces where it has one."""
    for j, ln in enumerate(body.links):
        if ln.joint_type == "fixed":
            continue
        if ln.initial_position:
            pb.resetJointState(uid, j, ln.initial_position, physicsClientId=client)
        if ln.joint_friction > 0 and not ln.joint_targets:
            pb.setJointMotorControl2(
                uid,
                j,
                pb.VELOCITY_CONTROL,
                targetVelocity=0.0,
                force=ln.joint_friction,
                physicsClientId=client,
            )


def _parts(client: int, spec: SceneSpec, uids: list[int]) -> list[_Part]:
    parts = []
    for b, (body, uid) in enumerate(zip(spec.bodies, uids, strict=True)):
        info = pb.getDynamicsInfo(uid, -1, physicsClientId=client)
        T_frame_inertial = pose_from_pos_quat_xyzw(info[3], info[4])
        parts.append(_Part(body.name, b, -1, uid, T_frame_inertial))
        for j in range(pb.getNumJoints(uid, physicsClientId=client)):
            link_name = pb.getJointInfo(uid, j, physicsClientId=client)[12].decode()
            if body.links:
                link_name = body.links[j].name
            parts.append(_Part(f"{body.name}/{link_name}", b, j, uid, np.eye(4)))
    return parts


def _read_part(client: int, part: _Part) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pose of the part frame, and linear/angular velocity of its origin."""
    if part.link < 0:
        pos, quat = pb.getBasePositionAndOrientation(part.pb_body, physicsClientId=client)
        v_com, w = pb.getBaseVelocity(part.pb_body, physicsClientId=client)
        T_inertial = pose_from_pos_quat_xyzw(pos, quat)
        T = T_inertial @ invert(part.T_frame_inertial)
        com = np.asarray(pos)
    else:
        s = pb.getLinkState(
            part.pb_body,
            part.link,
            computeLinkVelocity=1,
            computeForwardKinematics=1,
            physicsClientId=client,
        )
        T = pose_from_pos_quat_xyzw(s[4], s[5])
        com, v_com, w = np.asarray(s[0]), s[6], s[7]
    w = np.asarray(w, dtype=float)
    v = np.asarray(v_com, dtype=float) + np.cross(w, T[:3, 3] - com)
    return T, v, w


def _read_parts(client: int, parts: list[_Part]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_read_part`` of many parts at once: one pybullet call per body for its links
    (``getLinkStates``) and the frame and velocity arithmetic on stacked arrays; returns
    poses (N, 4, 4), linear and angular velocities (N, 3)."""
    n = len(parts)
    T = np.zeros((n, 4, 4))
    com, v_com, w = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
    links: dict[int, list[int]] = {}
    for k, part in enumerate(parts):
        if part.link >= 0:
            links.setdefault(part.pb_body, []).append(k)
            continue
        pos, quat = pb.getBasePositionAndOrientation(part.pb_body, physicsClientId=client)
        v_com[k], w[k] = pb.getBaseVelocity(part.pb_body, physicsClientId=client)
        T[k] = pose_from_pos_quat_xyzw(pos, quat) @ invert(part.T_frame_inertial)
        com[k] = pos
    for uid, ks in links.items():
        states = pb.getLinkStates(
            uid,
            [parts[k].link for k in ks],
            computeLinkVelocity=1,
            computeForwardKinematics=1,
            physicsClientId=client,
        )
        for k, state in zip(ks, states, strict=True):
            T[k] = pose_from_pos_quat_xyzw(state[4], state[5])
            com[k], v_com[k], w[k] = state[0], state[6], state[7]
    v = v_com + np.cross(w, T[:, :3, 3] - com)
    return T, v, w


def _joint_target(keys: list[tuple[float, float]], t: float) -> float:
    times = [k[0] for k in keys]
    values = [k[1] for k in keys]
    return float(np.interp(t, times, values))


@dataclass
class _Track:
    """Keyed values between which scalars move linearly and rotations turn at a constant
    rate about a fixed axis (slerp); ``smooth`` eases each segment in and out instead.

    ``steps`` are the rotation vectors from key k to k + 1, in the rotated (child)
    frame when ``local`` (pybullet's convention for spherical joint velocities), else
    in the world frame (as ``motion.motion_pose`` slerps).
    """

    times: np.ndarray  # (T,), at least two keys
    values: np.ndarray  # (T, K)
    quats: np.ndarray  # (T, J, 4) xyzw
    steps: np.ndarray  # (T - 1, J, 3)
    local: bool
    smooth: bool = False


def _track(times, values, quats, local: bool, smooth: bool = False) -> _Track:
    times = np.asarray(times, dtype=float).reshape(-1)
    values = np.asarray(values, dtype=float).reshape(len(times), -1)
    quats = np.asarray(quats, dtype=float).reshape(len(times), -1, 4)
    quats = quats / np.linalg.norm(quats, axis=-1, keepdims=True)
    if len(times) == 1:  # a held pose: two equal keys
        times, values, quats = np.r_[times, times + 1.0], np.r_[values, values], np.r_[quats, quats]
    steps = np.zeros((len(times) - 1, quats.shape[1], 3))
    if quats.shape[1]:
        a = Rotation.from_quat(quats[:-1].reshape(-1, 4))
        b = Rotation.from_quat(quats[1:].reshape(-1, 4))
        steps[:] = (a.inv() * b if local else b * a.inv()).as_rotvec().reshape(steps.shape)
    return _Track(times, values, quats, steps, local, smooth)


def _sample(track: _Track, t: float):
    """Values, their rates, quaternions and angular velocities of a track at ``t``
    (held, with zero rates, outside its keys)."""
    times = track.times
    k = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2))
    span = times[k + 1] - times[k]
    u = min(max((t - times[k]) / span, 0.0), 1.0)
    s, ds = (smoothstep(u), 6.0 * u * (1.0 - u)) if track.smooth else (u, 1.0)
    rate = ds / span if times[0] < t < times[-1] else 0.0
    a, b = track.values[k], track.values[k + 1]
    step = track.steps[k]
    turn = _quat_exp(s * step)
    quats = _quat_mul(track.quats[k], turn) if track.local else _quat_mul(turn, track.quats[k])
    return a + s * (b - a), (b - a) * rate, quats, step * rate


def _quat_exp(rotvec: np.ndarray) -> np.ndarray:
    """Quaternions (x, y, z, w) of rotation vectors (N, 3)."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    scale = 0.5 * np.sinc(angle / (2 * np.pi))  # sin(angle / 2) / angle, 1/2 at 0
    return np.concatenate([rotvec * scale, np.cos(angle / 2)], axis=-1)


def _quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A vector rotated by a quaternion (x, y, z, w)."""
    u, w = q[:3], q[3]
    return v + 2.0 * (w * _cross(u, v) + _cross(u, _cross(u, v)))


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton products of quaternions (x, y, z, w), a then b as rotation matrices A @ B."""
    av, aw, bv, bw = a[..., :3], a[..., 3:], b[..., :3], b[..., 3:]
    vector = aw * bv + bw * av + _cross(av, bv)
    return np.concatenate([vector, aw * bw - (av * bv).sum(-1, keepdims=True)], axis=-1)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` of 3-vectors (..., 3) without its overhead on tiny arrays."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


@dataclass
class _Puppet:
    """A URDF body whose joints follow a JointMotion and whose base follows its Motion."""

    uid: int
    base: _Track | None  # position and rotation of the body frame
    inertial_pos: np.ndarray  # (3,) pybullet's base (inertial) frame in the body frame
    inertial_quat: np.ndarray  # (4,) xyzw
    joints: _Track  # values: revolute/prismatic joints; quats: spherical joints
    scalar_joints: list[int]
    sphere_joints: list[int]
    colliding: bool


def _puppet(client: int, body: Body, uid: int, T_frame_inertial: np.ndarray) -> _Puppet:
    jm: JointMotion = body.joint_motion
    if not body.urdf_path:
        raise ValueError(f"{body.name}: joint_motion needs a URDF body")
    count = pb.getNumJoints(uid, physicsClientId=client)
    index = {_joint_name(client, uid, j): j for j in range(count)}
    unknown = sorted(set(jm.positions) - set(index))
    if unknown:
        raise ValueError(f"{body.name}: joint_motion names unknown joints {unknown}")
    scalars = [n for n, v in jm.positions.items() if np.ndim(v) == 1]
    spheres = [n for n, v in jm.positions.items() if np.ndim(v) == 2]
    n = len(jm.times)
    values = np.array([jm.positions[j] for j in scalars], dtype=float).reshape(-1, n).T
    quats = np.array([jm.positions[j] for j in spheres], dtype=float).reshape(-1, n, 4)
    base = None
    if body.motion is not None:
        T = np.asarray(body.motion.poses, dtype=float)
        rotations = Rotation.from_matrix(T[:, :3, :3]).as_quat()
        smooth = body.motion.interpolation != "linear"
        base = _track(body.motion.times, T[:, :3, 3], rotations, local=False, smooth=smooth)
    for j in range(-1, count):  # never simulated: only set, and read
        pb.changeDynamics(uid, j, activationState=_ASLEEP, physicsClientId=client)
        if body.collision != "none":
            # Filtered like a static body: it touches what moves, and not the floor under
            # its feet or the furniture its knees brush, which would only shove its links
            # about within a step (pybullet collides a pair when either group meets the
            # other's mask).
            pb.setCollisionFilterGroupMask(
                uid, j, _STATIC_FILTER, _ALL_BUT_STATIC, physicsClientId=client
            )
    return _Puppet(
        uid=uid,
        base=base,
        inertial_pos=T_frame_inertial[:3, 3].copy(),
        inertial_quat=np.asarray(pos_quat_xyzw(T_frame_inertial)[1]),
        joints=_track(jm.times, values, np.swapaxes(quats, 0, 1), local=True),
        scalar_joints=[index[j] for j in scalars],
        sphere_joints=[index[j] for j in spheres],
        colliding=body.collision != "none",
    )


_STATIC_FILTER = 2  # Bullet's collision filter group of static bodies
_ALL_BUT_STATIC = -1 ^ _STATIC_FILTER
_ASLEEP = (
    pb.ACTIVATION_STATE_SLEEP
    + pb.ACTIVATION_STATE_ENABLE_SLEEPING
    + pb.ACTIVATION_STATE_DISABLE_WAKEUP
)


def _pose_puppet(client: int, puppet: _Puppet, t: float) -> None:
    """Set a puppet's base and joints to their scripted positions and velocities at ``t``."""
    uid = puppet.uid
    if puppet.base is not None:
        pos, v, quat, w = _sample(puppet.base, t)
        lever = _quat_rotate(quat[0], puppet.inertial_pos)  # body frame -> inertial frame
        pos_inertial = pos + lever
        quat_inertial = _quat_mul(quat[0], puppet.inertial_quat)
        v_inertial = v + _cross(w[0], lever)
        pb.resetBasePositionAndOrientation(
            uid, pos_inertial.tolist(), quat_inertial.tolist(), physicsClientId=client
        )
        pb.resetBaseVelocity(uid, v_inertial.tolist(), w[0].tolist(), physicsClientId=client)
    q, qd, quats, omega = _sample(puppet.joints, t)
    indices = puppet.scalar_joints + puppet.sphere_joints
    targets = [[x] for x in q.tolist()] + quats.tolist()
    speeds = [[x] for x in qd.tolist()] + omega.tolist()
    if indices:
        pb.resetJointStatesMultiDof(
            uid, indices, targets, targetVelocities=speeds, physicsClientId=client
        )


def rollout(spec: SceneSpec, fps: float, num_frames: int, physics_hz: float = 240.0) -> Trajectory:
    """Simulate ``spec`` for ``num_frames`` frames at ``fps`` and record a Trajectory.

    A URDF body with a ``joint_motion`` is a puppet (a pedestrian): pybullet never
    simulates it (it sleeps); its joints, and its base when it has a ``motion``, are
    set to their scripted positions and velocities at every frame, and before every
    physics step when it collides with others. Its recorded poses and link velocities
    are exactly the script's. The Trajectory's joints are the movable links of
    ``Body.links`` and the revolute/prismatic joints a ``joint_motion`` drives (named
    "body/joint"); spherical joints are left out of them.

    ``spec.attachments`` hold a child part fixed to its parent part by a pybullet
    constraint from the first step at or after their start to the first at or after
    their end (see ``_update_grasps``); a puppet that holds something is set to its
    script at the start of each step, and its holding link made far heavier than what
    it holds, so the held part follows it exactly. An upright attachment's constraint
    is turned before every step so that the child keeps its pose in the parent's level
    frame (``Attachment.upright``); a pivot attachment holds the child by one point and
    lets it turn (``Attachment.pivot``: a hand on a door's handle).

    A body with a ``lifetime`` is present from the first step at or after its start
    until the first at or after its end (see ``_update_lifetimes``); the Trajectory's
    ``present`` says so per frame, and records an absent body's parts where it waits.

    ``spec.cloths`` make it a deformable world (``sim.softbody``): each cloth is a
    soft body, its anchors hold vertices to parts like grasps (a holding puppet is set
    at the start of each step), and its vertices are recorded every frame; physics then
    runs at least at ``CLOTH_PHYSICS_HZ``.
    """
    if any(c.skin for c in spec.cloths):  # a person's skinned regions: drawn, not simulated
        spec = replace(spec, cloths=[c for c in spec.cloths if not c.skin])
    if spec.cloths:
        physics_hz = max(physics_hz, CLOTH_PHYSICS_HZ)
    substeps = max(1, round(physics_hz / fps))
    dt = 1.0 / (fps * substeps)
    client = pb.connect(pb.DIRECT)
    deformable = bool(spec.cloths)
    try:
        if deformable:
            pb.resetSimulation(pb.RESET_USE_DEFORMABLE_WORLD, physicsClientId=client)
        pb.setGravity(*spec.gravity, physicsClientId=client)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=dt, numSubSteps=1, deterministicOverlappingPairs=1, physicsClientId=client
        )
        uids = [_add_body(client, body, deformable) for body in spec.bodies]
        parts = _parts(client, spec, uids)
        part_index = {(p.pb_body, p.link): i for i, p in enumerate(parts)}
        puppet_bodies = [b for b, body in enumerate(spec.bodies) if body.joint_motion is not None]
        puppets = [
            _puppet(
                client, spec.bodies[b], uids[b], parts[part_index[(uids[b], -1)]].T_frame_inertial
            )
            for b in puppet_bodies
        ]
        scripted = [
            (b, uids[b], parts[part_index[(uids[b], -1)]].T_frame_inertial, {})
            for b, body in enumerate(spec.bodies)
            if body.motion is not None and body.joint_motion is None
        ]
        held_masks = _hold_scripted_dynamic(client, spec, uids)
        grasps = _grasps(spec, parts)
        cloth_uids = [add_cloth(client, cloth) for cloth in spec.cloths]
        holds = cloth_holds(spec, cloth_uids, {p.name: (p.pb_body, p.link) for p in parts})
        ignore_holders(client, holds)
        holding = {g.parent.pb_body for g in grasps} | {h.body for h in holds}
        lives = _lifetimes(client, spec, uids, parts)
        joints = [
            (uids[b], j, f"{body.name}/{ln.name}", ln.joint_targets)
            for b, body in enumerate(spec.bodies)
            for j, ln in enumerate(body.links)
            if ln.joint_type != "fixed"
        ]
        joints += [
            (p.uid, j, f"{spec.bodies[b].name}/{_joint_name(client, p.uid, j)}", [])
            for b, p in zip(puppet_bodies, puppets, strict=True)
            for j in p.scalar_joints
        ]

        fixed = [
            spec.bodies[p.body].mass == 0
            and spec.bodies[p.body].motion is None
            and pb.getNumJoints(p.pb_body, physicsClientId=client) == 0
            for p in parts
        ]
        link_parts = {b: [k for k, p in enumerate(parts) if p.body == b and p.link >= 0]
                      for b, *_ in scripted}  # fmt: skip
        _check_start_overlaps(client, spec, parts, part_index)
        P, F = len(parts), num_frames
        poses = np.zeros((F, P, 4, 4))
        lin = np.zeros((F, P, 3))
        ang = np.zeros((F, P, 3))
        qs = np.zeros((F, len(joints)))
        present = np.ones((F, P), dtype=bool)
        cloth_frames = [np.zeros((F, len(c.mesh.vertices), 3)) for c in spec.cloths]
        contacts: list[tuple] = []

        step = 0
        for frame in range(F):
            if frame > 0:
                for _ in range(substeps):
                    t_start = step * dt
                    step += 1
                    t = step * dt
                    _drive(client, spec, scripted, held_masks, joints, t)
                    for puppet in puppets:
                        if puppet.uid in holding:
                            # Set at the step's start with its velocity, so that what
                            # it holds ends the step where the hand is at its end.
                            _pose_puppet(client, puppet, t_start)
                        elif puppet.colliding:  # others touch it during the step
                            _pose_puppet(client, puppet, t)
                    _update_lifetimes(client, lives, t_start)
                    _update_grasps(client, grasps, t_start)
                    _move_upright_grasps(client, grasps, dt)
                    update_cloth_holds(client, holds, t_start)
                    pb.stepSimulation(physicsClientId=client)
            else:
                _drive(client, spec, scripted, held_masks, joints, 0.0, stepping=False)
            t = step * dt
            _update_lifetimes(client, lives, t)
            for puppet in puppets:
                _pose_puppet(client, puppet, t)
            # Static, unscripted parts without joints never move: read once.
            read = [i for i in range(P) if frame == 0 or not fixed[i]]
            poses[frame] = poses[0]
            poses[frame, read], lin[frame, read], ang[frame, read] = _read_parts(
                client, [parts[i] for i in read]
            )
            for b, *_ in scripted:
                motion = spec.bodies[b].motion
                if t <= motion.times[-1] or spec.bodies[b].mass == 0:
                    i = part_index[(uids[b], -1)]
                    v, w = motion_velocity(motion, t)
                    lin[frame, i], ang[frame, i] = v, w
                    for k in link_parts[b]:  # pybullet saw the base at rest: add its motion
                        r = poses[frame, k, :3, 3] - poses[frame, i, :3, 3]
                        lin[frame, k] += v + np.cross(w, r)
                        ang[frame, k] += w
            for life in lives:
                if not life.present:
                    present[frame, life.parts] = False
                    poses[frame, life.parts] = life.waiting
                    lin[frame, life.parts] = ang[frame, life.parts] = 0.0
            for k, (uid, j, _, _) in enumerate(joints):
                qs[frame, k] = pb.getJointState(uid, j, physicsClientId=client)[0]
            contacts.extend(_frame_contacts(client, frame, part_index))
            if not np.isfinite(poses[frame]).all():
                raise PhysicsError(f"non-finite pose at frame {frame}")
            for c, uid in enumerate(cloth_uids):
                cloth_frames[c][frame] = cloth_vertices(client, uid)
                if not cloth_sound(cloth_frames[c][frame], cloth_frames[c][0]):
                    raise PhysicsError(f"cloth {spec.cloths[c].name!r} blew up at frame {frame}")
    finally:
        pb.disconnect(client)

    return Trajectory(
        fps=float(fps),
        substeps=substeps,
        part_names=[p.name for p in parts],
        part_body=np.array([p.body for p in parts], dtype=np.int32),
        part_link=np.array([p.link for p in parts], dtype=np.int32),
        poses=poses,
        linear_velocity=lin,
        angular_velocity=ang,
        joint_names=[j[2] for j in joints],
        joint_positions=qs,
        **_contact_arrays(contacts),
        present=present,
        cloth_names=[c.name for c in spec.cloths],
        cloth_vertices=cloth_frames,
    )


START_OVERLAP = 0.02  # m: deeper interpenetration at the start would blow the scene up


def _check_start_overlaps(client: int, spec: SceneSpec, parts: list[_Part], part_index) -> None:
    """Raise PhysicsError when a free dynamic part starts inside another part."""
    pb.performCollisionDetection(physicsClientId=client)
    for c in pb.getContactPoints(physicsClientId=client):
        if c[1] == c[2] or c[8] >= -START_OVERLAP:
            continue
        ia, ib = part_index.get((c[1], c[3])), part_index.get((c[2], c[4]))
        if ia is None or ib is None:
            continue
        bodies = [spec.bodies[parts[i].body] for i in (ia, ib)]
        if any(b.mass > 0 and b.motion is None and b.joint_motion is None for b in bodies):
            raise PhysicsError(
                f"{parts[ia].name} and {parts[ib].name} overlap by {-c[8] * 100:.1f} cm "
                "at the start"
            )


@dataclass
class _Life:
    """A body with a lifetime in the rollout: its window, its parts and, while it is
    absent, where they wait (``waiting`` (n, 4, 4), the part poses recorded then)."""

    body: Body
    uid: int
    parts: list[int]  # indices into the rollout's parts
    members: list[_Part]  # those parts
    start: float
    end: float
    T_frame_inertial: np.ndarray
    held: bool  # a plain dynamic body: held in place while absent
    present: bool = True
    waiting: np.ndarray | None = None


def _lifetimes(client: int, spec: SceneSpec, uids: list[int], parts: list[_Part]) -> list[_Life]:
    """The bodies with a lifetime, each made absent if it starts after t = 0; raises
    ValueError for a window that ends before it starts, or a lifetime on a dynamic body
    that a Motion carries."""
    lives = []
    for b, body in enumerate(spec.bodies):
        if body.lifetime is None:
            continue
        start, end = body.lifetime
        end = np.inf if end is None else float(end)
        if end < start:
            raise ValueError(f"{body.name}: lifetime ends before it starts {body.lifetime}")
        if body.motion is not None and body.mass > 0 and body.joint_motion is None:
            raise ValueError(f"{body.name}: a lifetime needs a body no Motion carries")
        own = [i for i, p in enumerate(parts) if p.body == b]
        life = _Life(
            body=body,
            uid=uids[b],
            parts=own,
            members=[parts[i] for i in own],
            start=float(start),
            end=end,
            T_frame_inertial=parts[own[0]].T_frame_inertial,
            held=body.mass > 0 and body.motion is None and body.joint_motion is None,
        )
        lives.append(life)
    _update_lifetimes(client, lives, 0.0)
    return lives


def _update_lifetimes(client: int, lives: list[_Life], t: float) -> None:
    """Before the physics step that starts at ``t`` (and before a frame at ``t`` is
    recorded): a body whose window has begun appears at its pose with its velocity and
    collides again; one whose window has ended vanishes where it is. An absent body
    collides with nothing, and a dynamic one is put back where it waits, at rest (its
    base: movable links keep their joint positions)."""
    for life in lives:
        alive = life.start - _EPS_T <= t < life.end - _EPS_T
        if alive and not life.present:
            life.present, life.waiting = True, None
            if life.body.motion is None and life.body.joint_motion is None:  # not scripted
                pos, quat = pos_quat_xyzw(life.body.pose @ life.T_frame_inertial)
                pb.resetBasePositionAndOrientation(life.uid, pos, quat, physicsClientId=client)
                pb.resetBaseVelocity(
                    life.uid, list(life.body.linear_velocity), [0, 0, 0], physicsClientId=client
                )
            if life.body.collision != "none":
                _collide(client, life, True)
        elif not alive and life.present:
            life.present = False
            life.waiting = np.array([_read_part(client, part)[0] for part in life.members])
            _collide(client, life, False)
        if not life.present and life.held:
            T = life.waiting[0] @ life.T_frame_inertial
            pb.resetBasePositionAndOrientation(life.uid, *pos_quat_xyzw(T), physicsClientId=client)
            pb.resetBaseVelocity(life.uid, [0, 0, 0], [0, 0, 0], physicsClientId=client)


def _collide(client: int, life: _Life, enable: bool) -> None:
    """Switch a body's collisions on (pybullet's default groups) or off."""
    static = life.body.mass == 0
    for link in range(-1, pb.getNumJoints(life.uid, physicsClientId=client)):
        group, mask = (2, -3) if static and link < 0 else (1, -1)
        if not enable:
            group = mask = 0
        pb.setCollisionFilterGroupMask(life.uid, link, group, mask, physicsClientId=client)


GRASP_FORCE = 1e5  # N: a grasp's constraint holds against anything short of this
HOLDER_WEIGHT = 1e3  # a scripted holder's link outweighs what it holds this many times
_EPS_T = 1e-9  # s: a step "at" a time despite rounding


@dataclass
class _Grasp:
    """An Attachment in the rollout: its parts, window, constraint and the collision
    pairs (child part, parent link) it switched off."""

    parent: _Part
    child: _Part
    start: float
    end: float
    colliding: bool  # both bodies collide with others
    scripted: bool  # the parent is a puppet, moved by its script alone
    upright: bool = False  # held at the parent's position, level (Attachment.upright)
    base: _Part | None = None  # the parent body's base, whose heading turns an upright hold
    T_level_child: np.ndarray | None = None  # upright: the child in the parent's level frame
    pivot: bool = False  # held by a point, free to turn (Attachment.pivot)
    constraint: int = -1  # pybullet id while held
    parent_dynamics: tuple | None = None  # the parent link's own (mass, inertia) while held
    released: bool = False
    unfiltered: list[int] = field(default_factory=list)  # parent links kept from the child


def _grasps(spec: SceneSpec, parts: list[_Part]) -> list[_Grasp]:
    """Attachments matched to parts; raises ValueError naming unknown parts."""
    by_name = {p.name: p for p in parts}
    names = {n for a in spec.attachments for n in (a.parent, a.child)}
    unknown = sorted(names - set(by_name))
    if unknown:
        raise ValueError(f"attachments name unknown parts {unknown}; parts are {sorted(by_name)}")
    grasps = []
    for a in spec.attachments:
        if by_name[a.parent].pb_body == by_name[a.child].pb_body:
            raise ValueError(f"attachment {a.parent!r} -> {a.child!r}: parts of one body")
        end = np.inf if a.end is None else float(a.end)
        if end < a.start:
            raise ValueError(f"attachment {a.parent!r} -> {a.child!r} ends before it starts")
        parent, child = by_name[a.parent], by_name[a.child]
        colliding = all(spec.bodies[p.body].collision != "none" for p in (parent, child))
        scripted = spec.bodies[parent.body].joint_motion is not None
        base = next(p for p in parts if p.body == parent.body and p.link < 0)
        grasp = _Grasp(parent, child, float(a.start), end, colliding, scripted, a.upright, base)
        grasps.append(replace(grasp, pivot=a.pivot))
    return grasps


def _inertial_pose(client: int, part: _Part) -> np.ndarray:
    """World pose of the part's pybullet (centre of mass) frame, which constraints use."""
    if part.link < 0:
        pos, quat = pb.getBasePositionAndOrientation(part.pb_body, physicsClientId=client)
    else:
        s = pb.getLinkState(
            part.pb_body, part.link, computeForwardKinematics=1, physicsClientId=client
        )
        pos, quat = s[0], s[1]
    return pose_from_pos_quat_xyzw(pos, quat)


def _weigh_down(client: int, parent: _Part, child: _Part, T_parent_child: np.ndarray) -> tuple:
    """Make a puppet's holding link far heavier than what it holds, so that the
    constraint moves the held part and not the link (which pybullet's solver would
    otherwise share the correction with); returns the link's own mass and inertia."""
    own = pb.getDynamicsInfo(parent.pb_body, parent.link, physicsClientId=client)
    held = pb.getDynamicsInfo(child.pb_body, child.link, physicsClientId=client)
    lever = float(np.dot(T_parent_child[:3, 3], T_parent_child[:3, 3]))
    mass = max(own[0], HOLDER_WEIGHT * held[0])
    inertia = np.maximum(own[2], HOLDER_WEIGHT * (held[0] * lever + max(held[2])))
    pb.changeDynamics(
        parent.pb_body,
        parent.link,
        mass=mass,
        localInertiaDiagonal=inertia.tolist(),
        physicsClientId=client,
    )
    return own[0], list(own[2])


def _parent_links(client: int, grasp: _Grasp) -> list[int]:
    return list(range(-1, pb.getNumJoints(grasp.parent.pb_body, physicsClientId=client)))


def _filter_pair(client: int, grasp: _Grasp, link: int, enable: bool) -> None:
    pb.setCollisionFilterPair(
        grasp.parent.pb_body,
        grasp.child.pb_body,
        link,
        grasp.child.link,
        int(enable),
        physicsClientId=client,
    )


def _update_grasps(client: int, grasps: list[_Grasp], t: float) -> None:
    """Before the physics step that starts at ``t``: hold each grasp whose window has
    begun in the relative pose its parts have now, let go of those whose window has
    ended. The held part collides with no link of the holding body (fingers would
    fight the constraint); after release each pair collides again once it is apart."""
    for g in grasps:
        if g.constraint < 0 and not g.released and t >= g.start - _EPS_T and t < g.end - _EPS_T:
            if g.pivot:
                _hold_pivot(client, g)
                continue
            if g.upright:
                _hold_upright(client, g)
                continue
            T_parent_child = invert(_inertial_pose(client, g.parent)) @ _inertial_pose(
                client, g.child
            )
            pos, quat = pos_quat_xyzw(T_parent_child)
            g.constraint = pb.createConstraint(
                g.parent.pb_body,
                g.parent.link,
                g.child.pb_body,
                g.child.link,
                pb.JOINT_FIXED,
                [0.0, 0.0, 0.0],
                pos,
                [0.0, 0.0, 0.0],
                quat,
                physicsClientId=client,
            )
            pb.changeConstraint(g.constraint, maxForce=GRASP_FORCE, physicsClientId=client)
            if g.scripted:
                g.parent_dynamics = _weigh_down(client, g.parent, g.child, T_parent_child)
            # A pair filter overrides collision masks: bodies that collide with nothing
            # are left alone.
            g.unfiltered = _parent_links(client, g) if g.colliding else []
            for link in g.unfiltered:
                _filter_pair(client, g, link, False)
        elif g.constraint >= 0 and t >= g.end - _EPS_T:
            pb.removeConstraint(g.constraint, physicsClientId=client)
            g.constraint, g.released = -1, True
            if g.parent_dynamics is not None:
                mass, inertia = g.parent_dynamics
                pb.changeDynamics(
                    g.parent.pb_body,
                    g.parent.link,
                    mass=mass,
                    localInertiaDiagonal=inertia,
                    physicsClientId=client,
                )
        if g.released and g.unfiltered:
            apart = [
                link
                for link in g.unfiltered
                if not pb.getClosestPoints(
                    g.parent.pb_body,
                    g.child.pb_body,
                    0.0,
                    linkIndexA=link,
                    linkIndexB=g.child.link,
                    physicsClientId=client,
                )
            ]
            for link in apart:
                _filter_pair(client, g, link, True)
            g.unfiltered = [link for link in g.unfiltered if link not in apart]


def _hold_pivot(client: int, grasp: _Grasp) -> None:
    """Start a pivot hold: a point-to-point constraint at the parent part's centre,
    the child free to turn about it."""
    T_child = _inertial_pose(client, grasp.child)
    T_parent = _inertial_pose(client, grasp.parent)
    point = (invert(T_child) @ T_parent)[:3, 3]
    grasp.constraint = pb.createConstraint(
        grasp.parent.pb_body,
        grasp.parent.link,
        grasp.child.pb_body,
        grasp.child.link,
        pb.JOINT_POINT2POINT,
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        point.tolist(),
        physicsClientId=client,
    )
    pb.changeConstraint(grasp.constraint, maxForce=GRASP_FORCE, physicsClientId=client)
    if grasp.scripted:
        grasp.parent_dynamics = _weigh_down(
            client, grasp.parent, grasp.child, invert(T_parent) @ T_child
        )
    grasp.unfiltered = _parent_links(client, grasp) if grasp.colliding else []
    for link in grasp.unfiltered:
        _filter_pair(client, grasp, link, False)


def _level_frame(client: int, grasp: _Grasp, ahead: float) -> np.ndarray:
    """The parent's level frame ``ahead`` s from now (by its current velocities): at the
    parent part's origin, turned about z like its body's base x axis."""
    T, v, _ = _read_part(client, grasp.parent)
    T_base, _, w = _read_part(client, grasp.base)
    heading = np.arctan2(T_base[1, 0], T_base[0, 0]) + w[2] * ahead
    level = np.eye(4)
    level[:2, :2] = [[np.cos(heading), -np.sin(heading)], [np.sin(heading), np.cos(heading)]]
    level[:3, 3] = T[:3, 3] + v * ahead
    return level


def _inertial_pose_ahead(client: int, part: _Part, ahead: float) -> np.ndarray:
    """The part's inertial (constraint) frame ``ahead`` s from now, by its velocities."""
    T = _inertial_pose(client, part)
    _, v, w = _read_part(client, part)
    T[:3, 3] += v * ahead  # the link origin's velocity: the same as its centre's at small w
    T[:3, :3] = Rotation.from_rotvec(w * ahead).as_matrix() @ T[:3, :3]
    return T


def _upright_frame(client: int, grasp: _Grasp, ahead: float) -> tuple[list, list]:
    """The constraint's child frame (position, quaternion in the child's inertial frame)
    that holds an upright grasp's child level ``ahead`` s from now."""
    T_child = _level_frame(client, grasp, ahead) @ grasp.T_level_child
    T_parent = _inertial_pose_ahead(client, grasp.parent, ahead)
    return pos_quat_xyzw(invert(T_child) @ T_parent)


def _hold_upright(client: int, grasp: _Grasp) -> None:
    """Start an upright hold: a fixed constraint between the parent part and the child
    whose child frame ``_move_upright_grasps`` turns before every step, so that the
    child keeps its pose in the parent's level frame."""
    T_child = _inertial_pose(client, grasp.child)
    grasp.T_level_child = invert(_level_frame(client, grasp, 0.0)) @ T_child
    pos, quat = _upright_frame(client, grasp, 0.0)
    grasp.constraint = pb.createConstraint(
        grasp.parent.pb_body,
        grasp.parent.link,
        grasp.child.pb_body,
        grasp.child.link,
        pb.JOINT_FIXED,
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        pos,
        childFrameOrientation=quat,
        physicsClientId=client,
    )
    pb.changeConstraint(grasp.constraint, maxForce=GRASP_FORCE, physicsClientId=client)
    if grasp.scripted:
        T_parent_child = invert(_inertial_pose(client, grasp.parent)) @ T_child
        grasp.parent_dynamics = _weigh_down(client, grasp.parent, grasp.child, T_parent_child)
    grasp.unfiltered = _parent_links(client, grasp) if grasp.colliding else []
    for link in grasp.unfiltered:
        _filter_pair(client, grasp, link, False)


def _move_upright_grasps(client: int, grasps: list[_Grasp], dt: float) -> None:
    """Turn every upright hold's child frame to where it keeps the child level at the
    end of a step of ``dt`` s."""
    for g in grasps:
        if g.upright and not g.pivot and g.constraint >= 0:
            pos, quat = _upright_frame(client, g, dt)
            pb.changeConstraint(
                g.constraint,
                pos,
                jointChildFrameOrientation=quat,
                maxForce=GRASP_FORCE,
                physicsClientId=client,
            )


def _joint_name(client: int, uid: int, j: int) -> str:
    return pb.getJointInfo(uid, j, physicsClientId=client)[1].decode()


def _hold_scripted_dynamic(client: int, spec: SceneSpec, uids: list[int]) -> dict[int, bool]:
    """Dynamic bodies with a Motion are carried by it and collide with nothing until
    its last key; returns {body index: still held}."""
    held = {}
    for b, body in enumerate(spec.bodies):
        if body.motion is not None and body.mass > 0 and body.joint_motion is None:
            pb.setCollisionFilterGroupMask(uids[b], -1, 0, 0, physicsClientId=client)
            held[b] = True
    return held


def _drive(client, spec, scripted, held, joints, t: float, stepping: bool = True) -> None:
    """Apply scripted motions and joint targets for the step that ends at time ``t``
    (``stepping`` False: set the start state, no step follows).

    A kinematic scripted body is only moved while its path changes, and once more when
    it ends. A held dynamic body is set to its path at every step, at rest, with its
    weight cancelled for the step, so it stays exactly where its script says (before its
    path starts too) until it is released after its last key.
    """
    for entry in scripted:
        b, uid, T_frame_inertial, state = entry
        body = spec.bodies[b]
        motion = body.motion
        start, end = motion.times[0], motion.times[-1]
        if body.mass > 0 and not held.get(b, False):
            continue
        if body.mass > 0 and t > end:
            held[b] = False
            pb.setCollisionFilterGroupMask(uid, -1, 1, -1, physicsClientId=client)
            pb.resetBaseVelocity(uid, [0, 0, 0], [0, 0, 0], physicsClientId=client)
            continue
        if body.mass > 0:
            pos, quat = _held_pose(motion, t, T_frame_inertial, state)
            pb.resetBasePositionAndOrientation(uid, pos, quat, physicsClientId=client)
            pb.resetBaseVelocity(uid, [0, 0, 0], [0, 0, 0], physicsClientId=client)
            if stepping:
                if "weight" not in state:
                    mass = pb.getDynamicsInfo(uid, -1, physicsClientId=client)[0]
                    state["weight"] = [mass * float(g) for g in spec.gravity]
                lift = [-w for w in state["weight"]]
                pb.applyExternalForce(uid, -1, lift, pos, pb.WORLD_FRAME, physicsClientId=client)
            continue
        phase = "before" if t <= start else ("after" if t >= end else "moving")
        if phase != "moving" and state.get("phase") == phase:
            continue
        state["phase"] = phase
        pos, quat = pos_quat_xyzw(motion_pose(motion, t) @ T_frame_inertial)
        pb.resetBasePositionAndOrientation(uid, pos, quat, physicsClientId=client)
    for uid, j, _, keys in joints:
        if keys:
            pb.setJointMotorControl2(
                uid,
                j,
                pb.POSITION_CONTROL,
                targetPosition=_joint_target(keys, t),
                force=200.0,
                physicsClientId=client,
            )


def _held_pose(motion, t: float, T_frame_inertial: np.ndarray, state: dict) -> tuple:
    """Position and xyzw quaternion of a held body's inertial frame at ``t``; computed
    once per stretch of the script where the pose does not change (before the first
    key, after the last, between two equal keys)."""
    times = motion.times
    if t <= times[0]:
        stretch = -1
    elif t >= times[-1]:
        stretch = len(times) - 1
    else:
        k = int(np.searchsorted(times, t, side="right")) - 1
        still = np.array_equal(motion.poses[k], motion.poses[k + 1])
        stretch = k if still else None
    cached = state.get("held")
    if stretch is not None and cached is not None and cached[0] == stretch:
        return cached[1]
    pose = pos_quat_xyzw(motion_pose(motion, t) @ T_frame_inertial)
    state["held"] = (stretch, pose)
    return pose


def _frame_contacts(client: int, frame: int, part_index: dict) -> list[tuple]:
    """Contact points of this frame merged into one event per part pair."""
    merged: dict[tuple[int, int], list] = defaultdict(list)
    for c in pb.getContactPoints(physicsClientId=client):
        if (c[1], c[3]) not in part_index or (c[2], c[4]) not in part_index:
            continue  # a cloth: its contacts are not rigid contact points
        a, b = part_index[(c[1], c[3])], part_index[(c[2], c[4])]
        normal = np.asarray(c[7])  # on B, pointing towards A
        if a > b:
            a, b, normal = b, a, -normal
        merged[(a, b)].append((np.asarray(c[5]), np.asarray(c[6]), normal, c[9]))
    events = []
    for (a, b), pts in sorted(merged.items()):
        forces = np.array([p[3] for p in pts])
        mid = np.array([(p[0] + p[1]) / 2 for p in pts])
        normals = np.array([p[2] for p in pts])
        w = forces if forces.sum() > 0 else np.ones(len(pts))
        position = (mid * w[:, None]).sum(0) / w.sum()
        n = (normals * w[:, None]).sum(0)
        n = n / max(np.linalg.norm(n), 1e-12)
        events.append((frame, a, b, position, n, float(forces.sum()), len(pts)))
    return events


def _contact_arrays(events: list[tuple]) -> dict[str, np.ndarray]:
    n = len(events)
    return {
        "contact_frame": np.array([e[0] for e in events], dtype=np.int32).reshape(n),
        "contact_parts": np.array([(e[1], e[2]) for e in events], dtype=np.int32).reshape(n, 2),
        "contact_position": np.array([e[3] for e in events], dtype=float).reshape(n, 3),
        "contact_normal": np.array([e[4] for e in events], dtype=float).reshape(n, 3),
        "contact_force": np.array([e[5] for e in events], dtype=float).reshape(n),
        "contact_points": np.array([e[6] for e in events], dtype=np.int32).reshape(n),
    }
