"""Fingertips on what a person's hands hold: for every gripping task, how far the closing
fingertips are from the held part's surface (and how deep inside it) in every frame the
fingers are fully closed (``sim.actors.body.fingertip_depths``: depth > 0 inside, < 0
outside; a pinched cloth: minus the distance to its sheet), over seeds (physics and
skinning, no rendering).

python benchmarks/fingertips.py --seeds 8
python benchmarks/fingertips.py --seeds 4 --cases cut_fruit fold_tshirt --cache /tmp/rollouts
"""

from __future__ import annotations

import argparse
import os
import pickle
import time

import numpy as np

from simfactory.sim.actors.body import each_grip, ensure_cache, fingertip_depths, skin_people
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.config import load_config
from simfactory.sim.simulate.physics import rollout

FINGERS = ("thumb", "forefinger", "middle", "ring", "little")
CASES = {  # name: the task and its keys
    "cut_fruit": ["scene.task=cut_fruit"],
    "fold_towel": ["scene.task=fold_cloth", "scene.cloth=towel"],
    "fold_tshirt": ["scene.task=fold_cloth", "scene.cloth=tshirt"],
    "open_drawer": ["scene.task=open_drawer"],
    "close_drawer": ["scene.task=close_drawer"],
    "open_door": ["scene.task=open_door"],
    "close_door": ["scene.task=close_door"],
    "pick_place": ["scene.task=pick_place", "scene.place_on=random"],
}
GAP, PRESS = 0.01, 0.005  # m: the bounds, a fingertip at most this far off / inside


def _clip(case: str, seed: int, args, cache: str | None):
    cfg = load_config(
        [
            "scene=hoi",
            "scene.actor=human",
            f"fps={args.fps}",
            f"frames={args.frames}",
            "resolution=[64,48]",
            "camera.path=static",
            *CASES[case],
        ]
    )
    spec = build_scene(cfg, seed)
    path = cache and os.path.join(cache, f"{case}_{seed}_{args.fps}_{args.frames}.pkl")
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            traj = pickle.load(f)
    else:
        traj = rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])
        if path:
            with open(path, "wb") as f:
                pickle.dump(traj, f)
    skin_people(spec, traj)
    return spec, traj


def _held(grip: dict) -> str:
    """What a grip holds, in words."""
    if "vertex" in grip:
        return "pinched cloth"
    if "visuals" in grip:
        return "handle bar"
    if "/" in grip["object"]:
        return grip["object"].replace("/", " ")  # "knife handle"
    return "the object"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--frames", type=int, default=48, help="48 at 12 fps: a 4 s clip")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--cache", help="a folder keeping the rollouts (physics) between runs")
    args = parser.parse_args()
    if args.cache:
        os.makedirs(args.cache, exist_ok=True)
    ensure_cache()
    seeds = range(args.first, args.first + args.seeds)
    print(f"seeds {seeds.start}-{seeds.stop - 1}, {args.frames} frames at {args.fps} fps")
    print("| task | grip | frames | fingertips | least depth (mm) | most depth (mm) | "
          f"off > {GAP * 1000:.0f} mm | in > {PRESS * 1000:.0f} mm |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        rows: dict[str, list] = {}
        start = time.perf_counter()
        for seed in seeds:
            spec, traj = _clip(case, seed, args, args.cache)
            person = spec.people[0]
            for hand, grip in each_grip(person.grips):
                name = f"{hand} hand, {_held(grip)}"
                frames, fingers, depth = fingertip_depths(spec, traj, person, hand, grip)
                rows.setdefault(name, []).append((seed, fingers, depth))
        for name, found in rows.items():
            n = sum(d.shape[0] for _, _, d in found)
            tips = sum(d.size for _, _, d in found)
            off = min(found, key=lambda r: r[2].min() if r[2].size else np.inf)
            deep = max(found, key=lambda r: r[2].max() if r[2].size else -np.inf)

            def where(row, pick) -> str:
                seed, fingers, d = row
                if not d.size:
                    return "–"
                k = np.unravel_index(pick(d), d.shape)[1]
                return f"seed {seed}, {FINGERS[fingers[k] - 1]}"

            least = off[2].min() * 1000 if off[2].size else float("nan")
            most = deep[2].max() * 1000 if deep[2].size else float("nan")
            far = sum(int((d < -GAP).sum()) for _, _, d in found)
            inside = sum(int((d > PRESS).sum()) for _, _, d in found)
            print(
                f"| `{case}` | {name} | {n} | {tips} | {least:.1f} ({where(off, np.argmin)})"
                f" | {most:.1f} ({where(deep, np.argmax)}) | {far} | {inside} |",
                flush=True,
            )
        print(f"<!-- {case}: {time.perf_counter() - start:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
