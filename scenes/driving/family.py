"""The "driving" scene family: an ego vehicle drives a procedural road network among
traffic that follows the lane graph and its rules, with pedestrians on sidewalks and
crosswalks; cameras and a LiDAR ride on the ego.

Random streams by purpose: "layout" (roads, lots, roadside placement), "appearance"
(vehicle bodies, colours, buildings, materials), "traffic" (signal timing, driving
behaviour, routes), "pedestrians" (who walks where and when), "lighting" (time of day,
weather). Changing one leaves what the others decide untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simfactory.scenes.driving.events import drive_events, frame_keys
from simfactory.scenes.driving.look import WEATHERS, make_look
from simfactory.scenes.driving.network import RoadNetwork
from simfactory.scenes.driving.pedestrians import pedestrian_bodies, plan_pedestrians
from simfactory.scenes.driving.rig import RIGS, make_lidar, make_rig
from simfactory.scenes.driving.road_meshes import road_bodies
from simfactory.scenes.driving.roads import ROAD_DEFAULTS, make_network, validate_road
from simfactory.scenes.driving.roadside import (
    make_buildings,
    make_parked_cars,
    make_signs,
    make_traffic_lights,
    make_trees_and_poles,
)
from simfactory.scenes.driving.signals import signal_plan, state_at
from simfactory.scenes.driving.traffic import FleetVehicle, simulate
from simfactory.scenes.driving.vehicles import KINDS, make_vehicle
from simfactory.sim.actors.body import POPULATION_AGES, body_model_installed, make_person
from simfactory.sim.actors.humanoid import dress
from simfactory.sim.model.spec import Body, Light, Motion, SceneSpec

DEFAULTS = dict(
    ROAD_DEFAULTS,
    num_vehicles=16,
    vehicle_mix={"sedan": 5, "suv": 3, "van": 1.5, "truck": 0.7, "bus": 0.5},
    num_pedestrians=8,
    pedestrian_body="anny",
    crossing_fraction=0.4,
    parked_fraction=0.6,
    time_of_day="random",
    weather="random",
    warmup_s=12.0,
    lidar={
        "channels": 32,
        "vertical_fov_deg": [-30.67, 10.67],
        "horizontal_resolution_deg": 0.4,
        "range_m": 100.0,
        "rotation_hz": None,
    },
    camera="rig",
    camera_options={"rig": "front"},
    fov_deg=40.0,
    fps=24,
)


PEDESTRIAN_MESH_CELL = 0.03  # m: pedestrians are drawn with a coarser body mesh


def draws_people(cfg: dict) -> bool:
    """Whether clips of this config draw pedestrians with the anny body model."""
    cfg = {**DEFAULTS, **(cfg or {})}
    count = cfg["num_pedestrians"]
    return cfg["pedestrian_body"] == "anny" and isinstance(count, int) and count > 0


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def validate(cfg: dict) -> list[str]:
    """Messages ("key: problem (got value)") for every invalid driving config key."""
    cfg = {**DEFAULTS, **(cfg or {})}
    errors = validate_road(cfg)

    def check(ok: bool, key: str, message: str) -> None:
        if not ok:
            errors.append(f"{key}: {message} (got {cfg[key]!r})")

    def count(v, top) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= top

    check(count(cfg["num_vehicles"], 200), "num_vehicles", "must be an integer in [0, 200]")
    check(count(cfg["num_pedestrians"], 100), "num_pedestrians", "must be an integer in [0, 100]")
    check(
        cfg["pedestrian_body"] in ("anny", "mannequin"),
        "pedestrian_body",
        "must be anny or mannequin",
    )
    check(
        not (draws_people(cfg) and not body_model_installed()),
        "pedestrian_body",
        "anny (the body model) is not installed: pip install 'simfactory[people]', or use "
        "scene.pedestrian_body=mannequin",
    )
    for key in ("crossing_fraction", "parked_fraction"):
        check(_number(cfg[key]) and 0 <= cfg[key] <= 1, key, "must be in [0, 1]")
    mix = cfg["vehicle_mix"]
    ok = (
        isinstance(mix, dict)
        and mix
        and set(mix) <= set(KINDS)
        and all(_number(w) and w >= 0 for w in mix.values())
        and sum(mix.values()) > 0
    )
    check(bool(ok), "vehicle_mix", f"must map some of {', '.join(KINDS)} to weights >= 0")
    tod = cfg["time_of_day"]
    check(
        tod == "random" or (_number(tod) and 0 <= tod < 24),
        "time_of_day",
        "must be an hour in [0, 24) or random",
    )
    check(
        cfg["weather"] in (*WEATHERS, "random"),
        "weather",
        f"must be one of {', '.join(WEATHERS)} or random",
    )
    check(
        _number(cfg["warmup_s"]) and 0 <= cfg["warmup_s"] <= 120,
        "warmup_s",
        "must be in [0, 120] seconds",
    )
    errors += _validate_lidar(cfg["lidar"])
    if cfg["camera"] != "rig":
        errors.append(
            f"camera.path: the driving family uses its rig camera (got {cfg['camera']!r})"
        )
    rig = (cfg.get("camera_options") or {}).get("rig", "front")
    if rig not in RIGS:
        errors.append(f"camera.rig: must be one of {', '.join(RIGS)} (got {rig!r})")
    return errors


def _validate_lidar(lidar) -> list[str]:
    if lidar is None:
        return []
    keys = {"channels", "vertical_fov_deg", "horizontal_resolution_deg", "range_m", "rotation_hz"}
    if (
        not isinstance(lidar, dict)
        or set(lidar) - keys
        or not {*keys} - {"rotation_hz"} <= set(lidar)
    ):
        return [
            f"lidar: must be null or a mapping with keys {', '.join(sorted(keys))} (got {lidar!r})"
        ]
    errors = []
    channels, fov = lidar["channels"], lidar["vertical_fov_deg"]
    if not (isinstance(channels, int) and not isinstance(channels, bool) and 1 <= channels <= 256):
        errors.append(f"lidar.channels: must be an integer in [1, 256] (got {channels!r})")
    if not (
        isinstance(fov, list | tuple)
        and len(fov) == 2
        and all(_number(v) for v in fov)
        and -90 <= fov[0] < fov[1] <= 90
    ):
        errors.append(
            f"lidar.vertical_fov_deg: must be [lower, upper] degrees with "
            f"-90 <= lower < upper <= 90 (got {fov!r})"
        )
    res = lidar["horizontal_resolution_deg"]
    if not (_number(res) and 0.05 <= res <= 10):
        errors.append(f"lidar.horizontal_resolution_deg: must be in [0.05, 10] (got {res!r})")
    if not (_number(lidar["range_m"]) and 1 <= lidar["range_m"] <= 1000):
        errors.append(f"lidar.range_m: must be in [1, 1000] metres (got {lidar['range_m']!r})")
    hz = lidar.get("rotation_hz")
    if hz is not None and not (_number(hz) and 0 < hz <= 100):
        errors.append(f"lidar.rotation_hz: must be null or in (0, 100] (got {hz!r})")
    return errors


def _fleet_kinds(rng: np.random.Generator, mix: dict, n: int) -> list[str]:
    kinds = [k for k in KINDS if mix.get(k, 0) > 0]
    weights = np.array([mix[k] for k in kinds], float)
    return [str(k) for k in rng.choice(kinds, size=n, p=weights / weights.sum())]


def _pose(x: float, y: float, yaw: float) -> np.ndarray:
    T = np.eye(4)
    T[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    T[:2, 3] = (x, y)
    return T


def _vehicle_body(name: str, model, keys: np.ndarray, times: np.ndarray) -> Body:
    poses = np.stack([_pose(*k[:3]) for k in keys])
    return Body(
        name=name,
        semantic_class=model.semantic_class,
        visuals=model.visuals,
        pose=poses[0],
        mass=0.0,
        collision="box",
        motion=Motion(times=times, poses=poses, interpolation="linear"),
    )


def _headlights(name: str, model) -> list[Light]:
    """Two forward spot lights at a vehicle's headlights (night)."""
    return [
        Light(
            kind="point",
            color=(1.0, 0.92, 0.8),
            intensity=30.0,
            position=tuple(float(v) for v in centre + (0.05, 0.0, 0.0)),
            direction=(1.0, 0.0, -0.08),
            body=name,
            cone_deg=40.0,
        )
        for centre in np.asarray(model.headlights, float)
    ]


def _network_summary(network: RoadNetwork) -> dict:
    return {
        "blocks": network.blocks,
        "lanes": len(network.lanes),
        "junctions": [
            {"id": j.id, "kind": j.kind, "signalled": j.signalled, "center": list(j.center)}
            for j in network.junctions
        ],
        "crosswalks": len(network.crosswalks),
    }


@dataclass
class Drive:
    """Everything decided about a drive before it becomes bodies: the road network,
    look, signal plan, pedestrians, vehicle models and the simulated traffic."""

    network: RoadNetwork
    look: object
    states: dict
    timings: dict
    plans: list
    crossing_list: list[dict]
    models: dict
    kinds: list[str]
    result: object
    left_out: list[str]


def plan_drive(cfg: dict, streams: dict, duration: float) -> Drive:
    """Roads, look, signals, pedestrians and traffic of one clip (no meshes placed)."""
    cfg = {**DEFAULTS, **cfg}
    fps = float(cfg["fps"])
    warmup = float(cfg["warmup_s"])
    layout, appearance = streams["layout"], streams["appearance"]
    traffic_rng, walkers_rng = streams["traffic"], streams["pedestrians"]

    network = make_network(layout, cfg)
    look = make_look(streams["lighting"], cfg["time_of_day"], cfg["weather"])

    # Traffic lights, pedestrians, then traffic that obeys both.
    states, timings = signal_plan(traffic_rng, network, -warmup, duration + 1.0)
    plans = plan_pedestrians(
        walkers_rng, network, cfg["num_pedestrians"], duration, cfg["crossing_fraction"]
    )
    crossings: dict[int, list] = {}
    crossing_list = []
    for plan in plans:
        for cw, t_in, t_out in plan.crossings:
            crossings.setdefault(cw, []).append((t_in, t_out, plan.name))
            crossing_list.append(
                {
                    "pedestrian": plan.name,
                    "crosswalk": int(cw),
                    "t_enter": float(t_in),
                    "t_exit": float(t_out),
                }
            )

    kinds = _fleet_kinds(appearance, cfg["vehicle_mix"], cfg["num_vehicles"])
    models = {
        "ego": make_vehicle(
            appearance, str(appearance.choice(["sedan", "suv"])), lights_on=look.night, wet=look.wet
        )
    }
    for i, kind in enumerate(kinds):
        models[f"vehicle_{i}"] = make_vehicle(appearance, kind, lights_on=look.night, wet=look.wet)
    fleet = [FleetVehicle(n, m.length, m.width) for n, m in models.items() if n != "ego"]
    ego = models["ego"]
    result, left_out = simulate(
        network,
        traffic_rng,
        fleet,
        FleetVehicle("ego", ego.length, ego.width),
        states,
        crossings,
        duration,
        fps,
        warmup,
    )

    return Drive(
        network, look, states, timings, plans, crossing_list, models, kinds, result, left_out
    )


def build(cfg: dict, streams: dict, width: int, height: int, duration: float) -> SceneSpec:
    """A drive for one clip."""
    cfg = {**DEFAULTS, **cfg}
    drive = plan_drive(cfg, streams, duration)
    network, look, states, plans = drive.network, drive.look, drive.states, drive.plans
    models, kinds, result, left_out = drive.models, drive.kinds, drive.result, drive.left_out
    crossing_list, timings = drive.crossing_list, drive.timings
    fps = float(cfg["fps"])
    num_frames = int(round(duration * fps)) + 1
    layout, appearance = streams["layout"], streams["appearance"]
    ego = models["ego"]

    bodies: list[Body] = list(road_bodies(network, appearance, look.wet))
    bodies += make_buildings(appearance, network.lots, night=look.night)
    props, lamp_lights = make_trees_and_poles(
        layout, [s for s in network.kerb_spots if s.kind == "pole"], look.night
    )
    bodies += props
    bodies += make_signs(layout, network)
    bodies += make_traffic_lights(network, states)
    parked = make_parked_cars(
        layout,
        [s for s in network.kerb_spots if s.kind == "parking"],
        cfg["parked_fraction"],
        False,
    )
    bodies += [body for body, _ in parked]
    agents = {
        body.name: {
            "kind": model.kind,
            "class": model.semantic_class,
            "parked": True,
            "size_lwh": [round(model.length, 4), round(model.width, 4), round(model.height, 4)],
        }
        for body, model in parked
    }
    lights = [look.sun, *lamp_lights]
    for name, model in models.items():
        if name in left_out:
            continue
        bodies.append(_vehicle_body(name, model, result.poses[name], result.times))
        agents[name] = {
            "kind": model.kind,
            "class": model.semantic_class,
            "parked": False,
            "ego": name == "ego",
            "size_lwh": [round(model.length, 4), round(model.width, 4), round(model.height, 4)],
        }
        if look.night and (name == "ego" or len(lights) < 40):
            lights += _headlights(name, model)
    people, regions = [], []
    if cfg["pedestrian_body"] == "anny":  # skinned bodies of all ages, coarse meshes
        people_rng = np.random.default_rng(int(appearance.integers(2**63)))
        for plan in plans:
            person, person_regions = make_person(
                plan.name, plan.name, people_rng, POPULATION_AGES, PEDESTRIAN_MESH_CELL
            )
            plan.height = person.height
            people.append(person)
            regions += person_regions
    walkers = pedestrian_bodies(plans)
    if not people:
        for body in walkers:
            dress(body, appearance)
    bodies += walkers
    for plan in plans:
        agents[plan.name] = {
            "kind": "pedestrian",
            "class": "person",
            "parked": False,
            "gait": plan.gait,
            "height": round(float(plan.height), 4),
        }
    for person in people:
        agents[person.name]["body"] = {"phenotype": person.phenotype, "look": person.look}

    cameras = make_rig(
        (cfg.get("camera_options") or {}).get("rig", "front"),
        "ego",
        ego.height,
        width,
        height,
        float(cfg["fov_deg"]),
    )
    lidars = make_lidar(cfg["lidar"], "ego", ego.height)

    keys = frame_keys(result, fps, num_frames)
    frame_times = np.arange(num_frames) / fps
    sizes = {n: (models[n].length, models[n].width) for n in result.poses}
    walkers = {
        plan.name: np.stack([np.interp(frame_times, plan.times, plan.xy[:, k]) for k in (0, 1)], 1)
        for plan in plans
    }
    events = drive_events(result, sizes, walkers, crossing_list, fps, num_frames)
    annotations = {
        "agents": agents,
        "ego": _ego_state(result.poses["ego"], result.accel["ego"], keys, fps),
        "traffic_lights": {
            f"traffic_light_{sid}": [state_at(k, t) for t in frame_times]
            for sid, k in sorted(states.items())
        },
        "events": events,
        "network": _network_summary(network),
        "signal_timing": timings,
        "pedestrian_crossings": crossing_list,
    }
    params = {
        **look.params,
        "blocks": [b.get("kind") for b in network.blocks],
        "lanes_per_direction": int(max(1, _lanes_per_direction(network))),
        "vehicles": len([n for n in models if n not in left_out]),
        "vehicle_kinds": {k: kinds.count(k) for k in sorted(set(kinds))},
        "ego_kind": ego.kind,
        "pedestrians": len(plans),
        "parked_cars": len(parked),
        "rig": (cfg.get("camera_options") or {}).get("rig", "front"),
        "lidar": cfg["lidar"],
    }
    return SceneSpec(
        family="driving",
        bodies=bodies,
        lights=lights,
        cameras=cameras,
        sky=look.sky,
        params=params,
        fog=look.fog,
        lidars=lidars,
        annotations=annotations,
        cloths=regions,
        people=people,
    )


def _lanes_per_direction(network: RoadNetwork) -> int:
    lane = next(ln for ln in network.lanes if ln.id == network.ego_lane)
    n = 1
    while lane.left is not None:
        lane = next(ln for ln in network.lanes if ln.id == lane.left)
        n += 1
    return n


def _ego_state(keys_xyyv: np.ndarray, accel: np.ndarray, keys: np.ndarray, fps: float) -> dict:
    """Per frame: position, yaw, speed, velocity (world), longitudinal acceleration and
    yaw rate of the ego, from the traffic simulation that drives it."""
    k = keys_xyyv[keys]
    yaw = np.unwrap(k[:, 2])
    yaw_rate = np.gradient(yaw, 1.0 / fps) if len(yaw) > 1 else np.zeros(1)
    velocity = np.stack([k[:, 3] * np.cos(k[:, 2]), k[:, 3] * np.sin(k[:, 2])], 1)
    return {
        "position_xy": np.round(k[:, :2], 5).tolist(),
        "yaw": np.round(k[:, 2], 6).tolist(),
        "speed_mps": np.round(k[:, 3], 5).tolist(),
        "velocity_xy": np.round(velocity, 5).tolist(),
        "acceleration_mps2": np.round(accel[keys], 5).tolist(),
        "yaw_rate_radps": np.round(yaw_rate, 6).tolist(),
    }
