"""The person's body: the ``anny`` parametric body model (NAVER LABS, Apache-2.0, built on
MakeHuman's CC0 assets), dressed, and skinned every frame on the humanoid's motion.

- **Phenotype.** Each person draws anny's six phenotype parameters (gender, age, muscle,
  weight, height, proportions, all in [0, 1]) from its seed (``sample_phenotype``): an age
  in years from a population's age range, then a body of that age. The standing height in
  metres is measured on the rest mesh.
- **Look.** A skin tone, a hair colour and style (short, long, a cap or none), a top
  (short or long sleeves), trousers or shorts and shoes (``sample_look``). Clothing and
  hair are *regions* of the body mesh with materials of their own (``body_regions``):
  every vertex belongs to one region by its dominant bone and its place on the rest body.
- **Motion.** The DeepMimic humanoid (``sim.actors.humanoid``) keeps moving and colliding
  (a hidden proxy); every anny bone follows the world rotation of the humanoid link it
  maps to (``DRIVERS``), its rest direction aligned to the humanoid's rest pose first
  (arms and legs straight down), the spine and neck spread between the links around
  them; the root follows the pelvis. The bones are anny's ``world-orient`` pose
  parameters: (F, 104, 4, 4) world rotations with the root's world position, so
  ``anny.Anny()(pose_parameters=bones, phenotype_kwargs=phenotype,
  pose_parameterization="world-orient")["vertices"]`` gives the mesh in the world frame.
  The arms are then bent by two-bone inverse kinematics so that each wrist is where the
  humanoid's wrist is (the hand that holds things). All frames of a clip are skinned in
  one batched call (``skin_people``).
- **Hands.** A hand that grasps something turns its palm onto it and its fingers close
  until their tips touch its surface (``grasp_hands``, ``close_fingers``).
- **Keypoints.** COCO-WholeBody's 133 points from the mesh and bones
  (``wholebody_keypoints``); the face's 68 are not placed.
- **Level of detail.** ``choose_detail`` draws each region as a coarser mesh over its own
  vertices (``simplify_region``, meshoptimizer) whose error is at most ``DETAIL_PIXELS``
  of a pixel where the person comes nearest a camera.

The model is created when a clip needs it (``body_model``) and released once the clip is
skinned; anny builds a cache on its first use on a machine (about two minutes, under
``~/.cache/anny`` or ``$ANNY_CACHE_DIR``), which ``ensure_cache`` does once before any
worker starts.
"""

from __future__ import annotations

import glob
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from functools import cache

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from simfactory.sim.actors.humanoid import CLOTHES as MANNEQUIN_CLOTHES
from simfactory.sim.model.spec import Cloth, Material, Person

ANNY_PHENOTYPE = ("gender", "age", "muscle", "weight", "height", "proportions")
# anny's age parameter at its blendshape anchors (baby, child, young, old) and the ages in
# years MakeHuman gives those anchors; ages between are interpolated linearly.
AGE_ANCHORS = ((0.0, 1.0), (1 / 3, 11.0), (2 / 3, 25.0), (1.0, 90.0))
ADULT_AGES = (16.0, 80.0)  # years: who does household tasks
POPULATION_AGES = (6.0, 85.0)  # years: who walks the streets

# anny is modelled Z up, facing -y, its left side on +x; the humanoid's rest pose in the
# world faces +x, Z up (``sim.actors.humanoid``): a quarter turn about z maps one to the other.
ANNY_TO_REST = Rotation.from_euler("z", 90, degrees=True)
HUMANOID_REST = Rotation.from_euler("x", 90, degrees=True)  # every link at rest, world

# The humanoid link (or two links and a blend) whose world rotation drives each anny bone,
# by bone-name prefix; the first prefix that matches wins. Sides: ".L" -> "left_".
DRIVERS = (
    ("root", ("root", "root", 0.0)),
    ("pelvis", ("root", "root", 0.0)),
    ("spine05", ("root", "root", 0.0)),
    ("spine04", ("root", "chest", 0.25)),
    ("spine03", ("root", "chest", 0.5)),
    ("spine02", ("root", "chest", 0.75)),
    ("spine01", ("chest", "chest", 0.0)),
    ("clavicle", ("chest", "chest", 0.0)),
    ("shoulder01", ("chest", "chest", 0.0)),
    ("neck01", ("chest", "neck", 0.4)),
    ("neck02", ("chest", "neck", 0.7)),
    ("neck03", ("neck", "neck", 0.0)),
    ("head", ("neck", "neck", 0.0)),
    ("eye", ("neck", "neck", 0.0)),
    ("upperarm", ("{side}shoulder", "{side}shoulder", 0.0)),
    ("lowerarm", ("{side}elbow", "{side}elbow", 0.0)),
    ("wrist", ("{side}wrist", "{side}wrist", 0.0)),
    ("finger", ("{side}wrist", "{side}wrist", 0.0)),
    ("metacarpal", ("{side}wrist", "{side}wrist", 0.0)),
    ("upperleg", ("{side}hip", "{side}hip", 0.0)),
    ("lowerleg", ("{side}knee", "{side}knee", 0.0)),
    ("foot", ("{side}ankle", "{side}ankle", 0.0)),
    ("toe", ("{side}ankle", "{side}ankle", 0.0)),
)
# Long bones whose rest direction (head to the head of the named bone) is turned to the
# humanoid's rest direction of the same segment: arms down, a little out; legs down.
ALIGN = {
    "upperarm01": ("lowerarm01", "arm"),
    "upperarm02": ("lowerarm01", "arm"),
    "lowerarm01": ("wrist", "arm"),
    "lowerarm02": ("wrist", "arm"),
    "upperleg01": ("lowerleg01", "leg"),
    "upperleg02": ("lowerleg01", "leg"),
    "lowerleg01": ("foot", "leg"),
    "lowerleg02": ("foot", "leg"),
}
ARM_ABDUCTION = np.radians(6.0)  # the rest arm hangs this far out from vertical

SKIN_TONES = (
    (0.87, 0.68, 0.58),
    (0.80, 0.57, 0.45),
    (0.62, 0.42, 0.30),
    (0.43, 0.28, 0.19),
    (0.27, 0.17, 0.11),
    (0.70, 0.52, 0.38),
)
HAIR_COLOURS = (
    (0.02, 0.015, 0.01),
    (0.08, 0.05, 0.03),
    (0.20, 0.12, 0.06),
    (0.55, 0.40, 0.20),
    (0.35, 0.12, 0.05),
    (0.55, 0.55, 0.55),
)
# the mannequin's dressing palette and two more colours
CLOTHES = (*MANNEQUIN_CLOTHES, (0.70, 0.20, 0.15), (0.12, 0.18, 0.45))
SHOES = ((0.03, 0.03, 0.03), (0.6, 0.6, 0.6), (0.25, 0.12, 0.05), (0.15, 0.15, 0.2))
HAIR_STYLES = ("short", "long", "cap", "none")
REGIONS = ("skin", "hair", "eyes", "top", "bottom", "shoes")
ROUGHNESS = {"skin": 0.5, "hair": 0.7, "eyes": 0.2, "top": 0.85, "bottom": 0.8, "shoes": 0.45}


# The model and its cache.


def body_model_installed() -> bool:
    """Whether the ``anny`` package (the ``people`` extra) can be imported."""
    import importlib.util

    return importlib.util.find_spec("anny") is not None


def cache_dir() -> str:
    """Where anny keeps the cache it builds on its first use on a machine."""
    from anny.paths import get_anny_cache_path

    return str(get_anny_cache_path())


def cache_built() -> bool:
    """Whether anny's model cache is on this machine (creating the model is then quick)."""
    pattern = os.path.join(cache_dir(), "**", "build_compact_model_data_*.safetensors")
    return bool(glob.glob(pattern, recursive=True))


def ensure_cache(log=None) -> None:
    """Build anny's cache now if this machine has none (once per machine: about two
    minutes), saying so through ``log`` (default: a line on stderr)."""
    if cache_built():
        return
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    log(f"people: building the anny body model's cache in {cache_dir()} (once per machine, ~2 min)")
    t = time.perf_counter()
    body_model()
    log(f"people: anny cache built in {time.perf_counter() - t:.0f} s")


@cache
def body_model():
    """anny's full-body model (13,718 vertices, 104 bones with fingers), once per process
    (its rest shapes and bones; the skinning is ``linear_blend_skinning``)."""
    import warnings

    import anny

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Skinning is done here (``linear_blend_skinning``): anny's warp kernels are not
        # loaded (warp takes ~200 MB of a worker's memory).
        return anny.Anny(skinning_method="lbs")


def release_body_model() -> None:
    """Drop the model and what was computed from its phenotypes (a worker then renders
    with ~100 MB less; the next clip that needs it creates it again in under a second).
    What every body shares (skinning weights, bone names and parents, the keypoint
    regressor: a few MB of numpy) is kept for the worker's life. The model holds no
    reference cycles: dropping the last reference frees it (no ``gc.collect``, which
    costs ~0.2 s with torch loaded)."""
    for cached in (body_model, _rest_body_cached, _corrections, _hand_points,
                   _fingertip_vertices, _hand_frame):  # fmt: skip
        cached.cache_clear()


@cache
def bone_labels() -> tuple[str, ...]:
    return tuple(body_model().bone_labels)


def anny_version() -> str:
    import anny

    return str(anny.__version__)


# Phenotype and look.


def age_parameter(years: float) -> float:
    """anny's age parameter of an age in years (``AGE_ANCHORS``)."""
    params, ages = zip(*AGE_ANCHORS, strict=True)
    return float(np.interp(years, ages, params))


@dataclass
class Phenotype:
    """anny's phenotype parameters (each in [0, 1]; gender 0 is male, 1 female) and the
    age in years they were drawn for."""

    gender: float
    age: float
    muscle: float
    weight: float
    height: float
    proportions: float
    age_years: float

    def kwargs(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in ANNY_PHENOTYPE}


def sample_phenotype(rng: np.random.Generator, ages: tuple[float, float] = ADULT_AGES) -> Phenotype:
    """A person of a real population: an age (years) in ``ages`` (more young adults than
    elders), a sex, and muscle, weight, height and proportions spread about the middle
    (weight rising a little with age, muscle falling after 50); ``make_person`` then fits
    the height parameter to a stature of that age and sex (``fit_height``)."""
    lo, hi = ages
    years = float(lo + (hi - lo) * rng.beta(1.3, 1.8))
    female = rng.random() < 0.5
    gender = float(rng.uniform(0.8, 1.0) if female else rng.uniform(0.0, 0.2))
    adult = np.clip((years - 12.0) / 10.0, 0.0, 1.0)
    muscle = float(np.clip(rng.beta(3, 3) - 0.15 * max(years - 50.0, 0.0) / 30.0, 0.05, 0.95))
    weight = float(np.clip(rng.beta(2.5, 2.5) + 0.1 * adult * min(years, 60.0) / 60.0, 0.05, 0.95))
    return Phenotype(
        gender=round(gender, 4),
        age=round(age_parameter(years), 4),
        muscle=round(muscle, 4),
        weight=round(weight, 4),
        height=round(float(rng.beta(3, 3)), 4),
        proportions=round(float(rng.uniform(0.2, 0.8)), 4),
        age_years=round(years, 2),
    )


# Mean standing height (m) by age (years) of boys and men, girls and women (growth charts
# rounded), and the spread about it; adults lose a few centimetres after 50.
STATURE_AGES = (6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0)
STATURE = {False: (1.16, 1.28, 1.38, 1.49, 1.63, 1.73, 1.76),
           True: (1.15, 1.27, 1.38, 1.51, 1.60, 1.62, 1.63)}  # fmt: skip
STATURE_SD = 0.065


def sample_stature(rng: np.random.Generator, phenotype: Phenotype) -> float:
    """A standing height (m) for a person's age and sex, from a population's spread."""
    female = phenotype.gender >= 0.5
    mean = float(np.interp(phenotype.age_years, STATURE_AGES, STATURE[female]))
    mean -= 0.04 * np.clip((phenotype.age_years - 50.0) / 30.0, 0.0, 1.0)
    return float(mean + STATURE_SD * np.clip(rng.standard_normal(), -2.5, 2.5))


def fit_height(phenotype: Phenotype, stature: float) -> Phenotype:
    """The phenotype with anny's height parameter set so that the rest mesh stands
    ``stature`` m tall (or as near as the parameter's range allows): the mesh's height is
    nearly linear in the parameter, so two secant steps from its ends."""

    def height_at(value: float) -> float:
        return rest_body(replace(phenotype, height=value)).height

    lo, hi = 0.0, 1.0
    h_lo, h_hi = height_at(lo), height_at(hi)
    value = float(np.clip(lo + (stature - h_lo) * (hi - lo) / (h_hi - h_lo), 0.0, 1.0))
    h = height_at(value)
    if abs(h - stature) > 0.005 and 0.0 < value < 1.0:  # one more secant step
        a, ha = (lo, h_lo) if h > stature else (hi, h_hi)
        value = float(np.clip(value + (stature - h) * (value - a) / (h - ha), 0.0, 1.0))
    return replace(phenotype, height=round(value, 4))


def sample_look(rng: np.random.Generator, phenotype: Phenotype) -> dict:
    """Skin tone, hair (colour, style), top (colour, sleeves), bottom (colour, legs) and
    shoes of a person, colours linear RGB."""
    hair = HAIR_COLOURS[int(rng.integers(len(HAIR_COLOURS)))]
    if phenotype.age_years > 60 and rng.random() < 0.7:
        hair = (0.6, 0.6, 0.6)
    style = str(rng.choice(HAIR_STYLES, p=(0.45, 0.3, 0.15, 0.1)))
    top = CLOTHES[int(rng.integers(len(CLOTHES)))]
    bottom = CLOTHES[int(rng.integers(len(CLOTHES)))]
    look = {
        "skin": SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
        "hair": CLOTHES[int(rng.integers(len(CLOTHES)))] if style == "cap" else hair,
        "hair_style": style,
        "eyes": (0.06, 0.04, 0.03),
        "top": top,
        "sleeves": "long" if rng.random() < 0.45 else "short",
        "bottom": bottom,
        "legs": "shorts" if rng.random() < 0.2 else "trousers",
        "shoes": SHOES[int(rng.integers(len(SHOES)))],
    }
    return {k: tuple(round(float(c), 4) for c in v) if isinstance(v, tuple) else v
            for k, v in look.items()}  # fmt: skip


# The rest body.


@dataclass
class RestBody:
    """A phenotype's body at rest (anny's frame: Z up, facing -y, metres): vertices (V, 3),
    triangles (M, 3), bone heads (B, 3) and rest bone poses (B, 4, 4), each vertex's
    dominant bone (V,), and its standing height (m) and sole height (min z)."""

    vertices: np.ndarray
    faces: np.ndarray
    heads: np.ndarray
    rest_poses: np.ndarray
    dominant: np.ndarray
    height: float
    sole_z: float


@cache
def _rest_body_cached(key: tuple) -> RestBody:
    import torch

    model = body_model()
    with torch.no_grad():  # the rest model alone (the model's forward also poses it)
        out = model.get_rest_model(model.get_phenotype_blendshape_coefficients(**dict(key)))
    vertices = out["rest_vertices"][0].numpy().astype(np.float64)
    rest_poses = out["rest_bone_poses"][0].numpy().astype(np.float64)
    weights = model.vertex_bone_weights.numpy()
    indices = model.vertex_bone_indices.numpy()
    dominant = indices[np.arange(len(indices)), weights.argmax(axis=1)]
    return RestBody(
        vertices=vertices,
        faces=model.faces.numpy().astype(np.int64),
        heads=rest_poses[:, :3, 3].copy(),
        rest_poses=rest_poses,
        dominant=dominant,
        height=float(vertices[:, 2].max() - vertices[:, 2].min()),
        sole_z=float(vertices[:, 2].min()),
    )


def rest_body(phenotype: Phenotype | dict) -> RestBody:
    kwargs = phenotype.kwargs() if isinstance(phenotype, Phenotype) else dict(phenotype)
    return _rest_body_cached(tuple(sorted((k, float(kwargs[k])) for k in ANNY_PHENOTYPE)))


def _bone(name: str) -> int:
    return bone_labels().index(name)


def vertex_regions(rest: RestBody, look: dict) -> np.ndarray:
    """The region (index into ``REGIONS``) of every vertex of a rest body dressed in
    ``look``: by its dominant bone and, along arms, legs and torso, its place on the body."""
    labels = bone_labels()
    names = np.array(labels)[rest.dominant]
    v = rest.vertices
    region = np.zeros(len(v), dtype=np.int64)  # skin
    R = {name: i for i, name in enumerate(REGIONS)}

    def along(a: str, b: str, side: str) -> np.ndarray:
        p, q = rest.heads[_bone(f"{a}.{side}")], rest.heads[_bone(f"{b}.{side}")]
        return (v - p) @ (q - p) / np.dot(q - p, q - p)

    torso = np.char.startswith(names, "spine") | np.char.startswith(names, "clavicle")
    torso |= np.char.startswith(names, "shoulder01") | (names == "root")
    pelvis = np.char.startswith(names, "pelvis")
    waist_z = rest.heads[_bone("spine04")][2]
    region[torso & (v[:, 2] >= waist_z)] = R["top"]
    region[(torso & (v[:, 2] < waist_z)) | pelvis] = R["bottom"]
    sleeve = 0.92 if look["sleeves"] == "long" else 0.28
    leg_end = 0.93 if look["legs"] == "trousers" else 0.4
    for side in ("L", "R"):
        arm = np.char.startswith(names, "upperarm") | np.char.startswith(names, "lowerarm")
        arm &= np.char.endswith(names, f".{side}")
        t = along("upperarm01", "wrist", side)
        region[arm & (t < sleeve)] = R["top"]
        leg = np.char.startswith(names, "upperleg") | np.char.startswith(names, "lowerleg")
        leg &= np.char.endswith(names, f".{side}")
        s = along("upperleg01", "foot", side)
        region[leg & (s < leg_end)] = R["bottom"]
        region[leg & (s > 0.95)] = R["shoes"]
    feet = np.char.startswith(names, "foot") | np.char.startswith(names, "toe")
    region[feet] = R["shoes"]
    region[np.char.startswith(names, "eye")] = R["eyes"]
    if look["hair_style"] != "none":
        head = (names == "head") | (names == "neck03") | (names == "neck02")
        eye_z = rest.heads[_bone("eye.L")][2]
        centre_y = rest.heads[_bone("head")][1]
        top = v[:, 2] > eye_z + (0.035 if look["hair_style"] == "cap" else 0.045)
        back_z = eye_z - (0.12 if look["hair_style"] == "long" else 0.04)
        back = (v[:, 2] > back_z) & (v[:, 1] > centre_y + 0.035)
        region[head & (top | back)] = R["hair"]
    return region


def cluster_vertices(
    vertices: np.ndarray, cell: np.ndarray | float, classes: np.ndarray | None = None
) -> np.ndarray:
    """For every vertex (V, 3), the vertex that stands for it in a coarser mesh: the one
    nearest the mean of the vertices in its cube (vertex clustering), cubes of side
    ``cell`` (m; per vertex (V,) or one for all; vertices of different cube sizes, or of
    different ``classes`` (V,) where given, are never merged)."""
    cell = np.broadcast_to(np.asarray(cell, dtype=np.float64), (len(vertices),))
    keys = np.c_[np.floor(vertices / cell[:, None]).astype(np.int64), np.round(cell * 1e4)]
    if classes is not None:
        keys = np.c_[keys, classes]
    _, cluster = np.unique(keys, axis=0, return_inverse=True)
    cluster = cluster.reshape(-1)
    count = np.bincount(cluster)
    mean = np.zeros((len(count), 3))
    np.add.at(mean, cluster, vertices)
    mean /= count[:, None]
    distance = np.linalg.norm(vertices - mean[cluster], axis=1)
    order = np.lexsort((distance, cluster))
    first = order[np.r_[True, cluster[order][1:] != cluster[order][:-1]]]
    return first[cluster]


def body_regions(
    person: str,
    rest: RestBody,
    look: dict,
    pose: np.ndarray | None = None,
    cell: float = 0.0,
    hand_cell: float = 0.0,
) -> list[Cloth]:
    """The regions of a person's mesh as cloths (``Cloth.skin`` = ``person``: drawn from
    the skinned vertices ``Cloth.skin_vertices`` of the whole mesh, not simulated), each
    with its own material; a face belongs to the region of most of its vertices.
    ``pose`` (4, 4) places the rest mesh (only for the rest shape the cloth keeps).
    ``cell`` > 0 (m) draws a coarser mesh (for people small in the image): vertices are
    clustered in cubes of that side over the whole body (so regions still meet) and
    triangles that collapse are dropped; the hands' cubes are ``hand_cell`` (their
    fingers hold things; 0: ``cell``)."""
    regions = vertex_regions(rest, look)
    face_regions = regions[rest.faces]
    majority = np.where(
        face_regions[:, 1] == face_regions[:, 2], face_regions[:, 1], face_regions[:, 0]
    )
    vertices = ANNY_TO_REST.apply(rest.vertices)
    if pose is not None:
        vertices = vertices @ pose[:3, :3].T + pose[:3, 3]
    stand_in = None
    if cell > 0:
        hands = np.array([b.startswith(("wrist", "finger", "metacarpal")) for b in bone_labels()])
        cells = np.where(hands[rest.dominant], hand_cell or cell, cell)
        stand_in = cluster_vertices(rest.vertices, cells)
    region_faces = []
    for r in range(len(REGIONS)):
        faces = rest.faces[majority == r]
        if stand_in is not None:
            faces = _collapse(stand_in, faces)
        region_faces.append(faces)
    tips = np.array(sorted(_tip_vertices(rest).values()))
    cloths = []
    for r, name in enumerate(REGIONS):
        faces = region_faces[r]
        if not len(faces):
            continue
        used, local = np.unique(faces, return_inverse=True)
        mesh = trimesh.Trimesh(vertices[used], local.reshape(-1, 3), process=False)
        colour = look[name]
        material = Material(f"{person}_{name}", (*colour, 1.0), ROUGHNESS[name])
        kept = np.searchsorted(used, tips[np.isin(tips, used)])
        cloths.append(
            Cloth(
                f"{person}/{name}",
                "person",
                mesh,
                material,
                skin=person,
                skin_vertices=used,
                skin_levels=((0.0, mesh.faces.copy()),),
                skin_kept=kept,
            )  # fmt: skip
        )
    return cloths


def _collapse(stand_in: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces (T, 3) with each vertex replaced by its stand-in, those that collapse dropped
    (and repeats)."""
    faces = stand_in[faces]
    a, b, c = faces.T
    return np.unique(faces[(a != b) & (b != c) & (a != c)], axis=0)


# Levels of detail: a person is drawn at the coarsest mesh whose error is at most
# ``DETAIL_PIXELS`` of a pixel where it comes nearest a camera (``choose_detail``).
DETAIL_PIXELS = 0.5
DETAIL_POSES = 8  # frames of the clip whose skinned shapes a coarser mesh must fit too
# meshoptimizer counts an attribute's change across a triangle as a distance in proportion
# to the triangle's size (in units of the mesh's extent), so a region's skinned shapes are
# weighted by its extent over about the size of a coarse mesh's triangles: at this size
# the standard HOI clips' coarse meshes (half a pixel: 2.4 mm) stray at most 5 mm from
# the skinned full mesh in any frame (``benchmarks/people.py --detail``)
DETAIL_POSE_SIZE = 0.025  # m
DETAIL_MAX_ERROR = 0.1  # m: the coarsest mesh drawn (a person far off or out of view)
SHADOW_ERROR = 0.01  # m: shadow maps draw a person's mesh this coarse (colour only)


def make_person(
    name: str,
    proxy: str,
    rng: np.random.Generator,
    ages: tuple[float, float] = ADULT_AGES,
    cell: float = 0.0,
) -> tuple[Person, list[Cloth]]:
    """A person drawn from ``rng``: its record (phenotype, look, height) and its mesh's
    regions (coarser with ``cell`` > 0, see ``body_regions``), to be skinned on the motion
    of the humanoid body ``proxy``."""
    phenotype = sample_phenotype(rng, ages)
    phenotype = fit_height(phenotype, sample_stature(rng, phenotype))
    look = sample_look(rng, phenotype)
    rest = rest_body(phenotype)
    person = Person(name, proxy, asdict(phenotype), look, round(rest.height, 4))
    if cell > 0:
        person.look["mesh_cell_m"] = cell
    return person, body_regions(name, rest, look, cell=cell)


# Retargeting and skinning.


def _driver(bone: str) -> tuple[str, str, float]:
    side = {"L": "left_", "R": "right_"}.get(bone.rsplit(".", 1)[-1], "") if "." in bone else ""
    for prefix, (a, b, w) in DRIVERS:
        if bone.startswith(prefix):
            return a.format(side=side), b.format(side=side), w
    raise KeyError(f"no humanoid link drives anny bone {bone!r}")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _align(a: np.ndarray, b: np.ndarray) -> Rotation:
    """The smallest rotation taking direction ``a`` to direction ``b``."""
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-9:
        return Rotation.identity()
    return Rotation.from_rotvec(axis / s * np.arctan2(s, c))


@cache
def _corrections(key: tuple) -> tuple[np.ndarray, float]:
    """Per bone, the rotation (B, 3, 3) that turns its rest direction (after
    ``ANNY_TO_REST``) to the humanoid's rest pose (inherited from the parent for bones
    not in ``ALIGN``), and the rest pelvis height above the soles (m)."""
    rest = _rest_body_cached(key)
    labels = bone_labels()
    parents = np.asarray(body_model().bone_parents)
    C = np.tile(np.eye(3), (len(labels), 1, 1))
    for c, label in enumerate(labels):
        base, _, side = label.partition(".")
        if base in ALIGN:
            child, kind = ALIGN[base]
            d = ANNY_TO_REST.apply(rest.heads[_bone(f"{child}.{side}")] - rest.heads[c])
            if kind == "arm":
                out = 1.0 if side == "L" else -1.0  # left is +y at rest
                target = np.array([0.0, out * np.sin(ARM_ABDUCTION), -np.cos(ARM_ABDUCTION)])
            else:
                target = np.array([0.0, 0.0, -1.0])
            C[c] = _align(d, target).as_matrix()
        elif parents[c] >= 0:
            C[c] = C[parents[c]]
    return C, float(rest.heads[0][2] - rest.sole_z)


def retarget(phenotype: dict, links: dict[str, np.ndarray], pelvis_height: float) -> np.ndarray:
    """anny ``world-orient`` bone parameters (F, B, 4, 4) following the humanoid's link
    poses ``links`` (name -> (F, 4, 4) world; "root", "chest", "neck" and each side's
    shoulder, elbow, wrist, hip, knee and ankle). ``pelvis_height`` is the humanoid's
    standing pelvis height above its soles: the anny root is raised by the difference
    to its own, along the pelvis' up axis, so that both stand on the same floor."""
    key = tuple(sorted((k, float(phenotype[k])) for k in ANNY_PHENOTYPE))
    rest = _rest_body_cached(key)
    C, anny_pelvis = _corrections(key)
    labels = bone_labels()
    F = len(links["root"])
    delta = {
        name: Rotation.from_matrix(T[:, :3, :3]) * HUMANOID_REST.inv() for name, T in links.items()
    }
    A = ANNY_TO_REST.as_matrix()
    bones = np.tile(np.eye(4), (F, len(labels), 1, 1))
    driven = {}  # (a, b, w) -> the driving rotations (F, 3, 3), shared by many bones
    for c, label in enumerate(labels):
        a, b, w = driver = _driver(label)
        if driver not in driven:
            if w > 0:
                rel = (delta[a].inv() * delta[b]).as_rotvec()
                driven[driver] = (delta[a] * Rotation.from_rotvec(w * rel)).as_matrix()
            else:
                driven[driver] = delta[a].as_matrix()
        bones[:, c, :3, :3] = driven[driver] @ (C[c] @ A @ rest.rest_poses[c, :3, :3])
    up = delta["root"].apply([0.0, 0.0, anny_pelvis - pelvis_height])
    bones[:, 0, :3, 3] = links["root"][:, :3, 3] + up
    return bones


@cache
def _skin_matrix():
    """anny's skinning weights as a sparse matrix (V, B) (CSR): up to 9 bones a vertex,
    2.5 on average."""
    from scipy import sparse

    model = body_model()
    weights = model.vertex_bone_weights.numpy().astype(np.float64)
    bones = model.vertex_bone_indices.numpy()
    rows = np.repeat(np.arange(len(weights)), weights.shape[1])
    keep = weights.reshape(-1) != 0
    shape = (len(weights), len(model.bone_labels))
    return sparse.csr_matrix(
        (weights.reshape(-1)[keep], (rows[keep], bones.reshape(-1)[keep])), shape=shape
    )


SKIN_CHUNK = 4  # frames skinned at once (their blended transforms, ~5 MB, stay in cache)


def linear_blend_skinning(
    rest_vertices: np.ndarray, transforms: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """Posed vertices (F, V, 3) of rest vertices (V, 3) under bone transforms (F, B, 4, 4)
    (posed pose times inverse rest pose): each vertex moved by the weighted sum of its
    bones' transforms (anny's weights, up to 9 bones a vertex), as anny's skinning; one
    sparse product per ``SKIN_CHUNK`` frames. ``rows`` (V',) skins only those vertices
    (V' of them)."""
    W = _skin_matrix()
    if rows is not None:
        W, rest_vertices = W[rows], rest_vertices[rows]
    V, B = len(rest_vertices), transforms.shape[1]
    out = np.empty((len(transforms), V, 3))
    x = [np.ascontiguousarray(rest_vertices[:, None, j : j + 1]) for j in range(3)]
    term = None
    for start in range(0, len(transforms), SKIN_CHUNK):
        chunk = transforms[start : start + SKIN_CHUNK, :, :3, :]
        F = len(chunk)
        T = np.ascontiguousarray(chunk.transpose(1, 3, 0, 2)).reshape(B, 12 * F)
        blend = (W @ T).reshape(V, 4, F, 3)  # (V, 4, F, 3): columns of 3x4
        posed = blend[:, 3].copy()
        if term is None or term.shape != posed.shape:
            term = np.empty_like(posed)
        for j in range(3):
            posed += np.multiply(blend[:, j], x[j], out=term)
        out[start : start + F] = posed.transpose(1, 0, 2)
    return out


def _posed(phenotype: dict, bones: np.ndarray) -> dict:
    """The skinned vertices (F, V, 3) and bone poses (F, B, 4, 4) of ``world-orient``
    parameters: the bone poses by ``_fk``, the phenotype's rest mesh skinned by
    ``linear_blend_skinning``."""
    rest = rest_body(phenotype)
    poses = _fk(phenotype, bones)
    transforms = poses @ np.linalg.inv(rest.rest_poses)
    return {"vertices": linear_blend_skinning(rest.vertices, transforms), "bone_poses": poses}


def reach_wrists(
    phenotype: dict, bones: np.ndarray, bone_poses: np.ndarray, wrists: dict[str, np.ndarray]
) -> np.ndarray:
    """``bones`` with each arm bent (two-bone IK, the elbow kept on the side it points
    to) so that anny's wrist head is at ``wrists[side]`` (F, 3) world ("left", "right"),
    or as near as the arm reaches; the hand keeps its world rotation."""
    bones = bones.copy()
    for side, target in wrists.items():
        s = "L" if side == "left" else "R"
        up1, up2 = _bone(f"upperarm01.{s}"), _bone(f"upperarm02.{s}")
        lo1, lo2 = _bone(f"lowerarm01.{s}"), _bone(f"lowerarm02.{s}")
        wr = _bone(f"wrist.{s}")
        shoulder = bone_poses[:, up1, :3, 3]
        elbow = bone_poses[:, lo1, :3, 3]
        wrist = bone_poses[:, wr, :3, 3]
        a = np.linalg.norm(elbow - shoulder, axis=1)
        b = np.linalg.norm(wrist - elbow, axis=1)
        v = target - shoulder
        d = np.clip(np.linalg.norm(v, axis=1), np.abs(a - b) + 1e-4, 0.999 * (a + b))
        v_hat = _unit(v)
        pole = (elbow - shoulder) - ((elbow - shoulder) * v_hat).sum(1, keepdims=True) * v_hat
        pole_n = np.linalg.norm(pole, axis=1, keepdims=True)
        fallback = np.cross(v_hat, [0.0, 0.0, 1.0])
        pole = np.where(pole_n > 1e-6, pole / np.maximum(pole_n, 1e-12), _unit(fallback + 1e-9))
        cos_alpha = np.clip((a**2 + d**2 - b**2) / (2 * a * d), -1.0, 1.0)
        u1 = cos_alpha[:, None] * v_hat + np.sqrt(1 - cos_alpha**2)[:, None] * pole
        new_elbow = shoulder + a[:, None] * u1
        u2 = _unit(shoulder + d[:, None] * v_hat - new_elbow)
        turn1 = _batch_align(_unit(elbow - shoulder), u1)
        turn2 = _batch_align(_unit(wrist - elbow), u2)
        for k in (up1, up2):
            bones[:, k, :3, :3] = turn1 @ bones[:, k, :3, :3]
        for k in (lo1, lo2):
            bones[:, k, :3, :3] = turn2 @ bones[:, k, :3, :3]
    return bones


def _batch_align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (F, 3, 3) taking unit directions ``a`` (F, 3) to ``b``."""
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=1, keepdims=True)
    c = (a * b).sum(axis=1, keepdims=True)
    rotvec = np.where(s > 1e-9, axis / np.maximum(s, 1e-12) * np.arctan2(s, c), 0.0)
    return Rotation.from_rotvec(rotvec).as_matrix()


HAND_CLEARANCE = 0.045  # m: a hanging hand's centre keeps this far out of the hips


def clear_hips(phenotype: dict, root: np.ndarray, wrists: dict) -> dict:
    """Wrist targets (F, 3) moved sideways out of the hips and thighs where the hand
    hangs beside them (the humanoid's hips are narrower than most bodies): below the
    hip line, a wrist is kept at least the hips' half-width plus ``HAND_CLEARANCE`` from
    the pelvis' midline (measured along the pelvis' left axis)."""
    rest = rest_body(phenotype)
    names = np.array(bone_labels())[rest.dominant]
    hips = np.char.startswith(names, "pelvis") | np.char.startswith(names, "upperleg")
    half = float(np.abs(rest.vertices[hips, 0]).max()) + HAND_CLEARANCE
    rot = Rotation.from_matrix(root[:, :3, :3]) * HUMANOID_REST.inv()
    left, up = rot.apply([0.0, 1.0, 0.0]), rot.apply([0.0, 0.0, 1.0])
    out = {}
    for side, target in wrists.items():
        sign = 1.0 if side == "left" else -1.0
        rel = target - root[:, :3, 3]
        lateral = (rel * left).sum(axis=1) * sign
        below = np.clip(-(rel * up).sum(axis=1) / 0.1, 0.0, 1.0)  # 1 a hand's length down
        push = np.maximum(half - lateral, 0.0) * below
        out[side] = target + (sign * push)[:, None] * left
    return out


HUMANOID_LINKS = (
    "root", "chest", "neck",
    *(f"{side}_{j}" for side in ("left", "right")
      for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")),
)  # fmt: skip


def _fk(phenotype: dict, bones: np.ndarray) -> np.ndarray:
    """Posed bone poses (F, B, 4, 4) of ``world-orient`` parameters (anny's rule: each
    bone takes its given world rotation, its head follows its parent's transform,
    ``t_c = t_p + D_p R_p^T (h_c - h_p)``; the root's head is given), in numpy."""
    rest = rest_body(phenotype)
    parents = _parents()
    poses = np.array(bones, dtype=np.float64, copy=True)
    rotation = rest.rest_poses[parents, :3, :3]  # R_p of each bone's parent
    local = np.einsum("bji,bj->bi", rotation, rest.heads - rest.heads[parents])
    for c in range(1, len(parents)):  # parents come before their children
        p = parents[c]
        poses[:, c, :3, 3] = poses[:, p, :3, 3] + poses[:, p, :3, :3] @ local[c]
    return poses


@cache
def _parents() -> np.ndarray:
    parents = np.asarray(body_model().bone_parents).copy()
    parents[0] = 0
    if np.any(parents[1:] >= np.arange(1, len(parents))):
        raise ValueError("anny's bones are not ordered parents first")
    return parents


def skin_person(
    person: Person,
    links: dict[str, np.ndarray],
    pelvis_height: float,
    objects: dict | None = None,
    times: np.ndarray | None = None,
) -> dict:
    """A person's clip: its bones (F, B, 4, 4) ``world-orient`` parameters, the posed
    vertices (F, V, 3) and bone poses (F, B, 4, 4), world, skinned in one batched call.
    ``objects`` (name -> (mesh in its frame, poses (F, 4, 4))) are what the person's
    ``grips`` hold, at frame ``times`` (s): the hands turn onto them, the fingers close."""
    phenotype = person.phenotype
    bones = retarget(phenotype, links, pelvis_height)
    wrists = {side: links[f"{side}_wrist"][:, :3, 3] for side in ("left", "right")}
    wrists = clear_hips(phenotype, links["root"], wrists)
    bones = reach_wrists(phenotype, bones, _fk(phenotype, bones), wrists)
    if person.grips and objects:
        bones, grasp = grasp_hands(person, bones, _fk(phenotype, bones), objects, times)
        if grasp:
            bones = reach_wrists(phenotype, bones, _fk(phenotype, bones), grasp)
            bones = close_fingers(person, bones, _fk(phenotype, bones), objects, times)
    posed = _posed(phenotype, bones)
    return {"bones": bones, **posed}


# Keypoints on the mesh and bones.


@cache
def _coco_regressor():
    """anny's COCO body and foot keypoint regressor (23, V), sparse (CSR): weights over
    the mesh's vertices, in COCO-WholeBody's order of its first 23 points."""
    import torch
    from anny.paths import get_anny_root_dir
    from scipy import sparse

    from simfactory.sim.annotate.keypoints import WHOLEBODY_KEYPOINTS

    model = body_model()
    data = torch.load(get_anny_root_dir() / "data" / "keypoints" / "coco.pth", weights_only=True)
    base = model.base_mesh_vertex_indices
    dense = np.stack([data[name][base].numpy() for name in WHOLEBODY_KEYPOINTS[:23]])
    return sparse.csr_matrix(dense.astype(np.float64))


JOINT_DEPTH = 0.004  # m: a joint point outside the skin is moved this far inside it


@cache
def _hand_points(key: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 21 points of each hand (left, then right, COCO-WholeBody's order) of a rest
    body. A wrist or finger joint is the bone's head, moved ``JOINT_DEPTH`` inside the
    skin where it lies outside or near it, skinned with the bone weights of the skin
    vertex nearest it; a fingertip is the vertex of the last phalanx farthest along it.
    Returns bone weights (42, B) (0 for tips), rest points (42, 3) and tip vertices (42,)
    (-1 for joints)."""
    rest = _rest_body_cached(key)
    prefixes = ("wrist", "finger", "metacarpal", "lowerarm")
    hand = np.array([label.startswith(prefixes) for label in bone_labels()])[rest.dominant]
    faces = rest.faces[hand[rest.faces].all(axis=1)]  # the hands and forearms
    mesh = trimesh.Trimesh(rest.vertices, faces, process=False)
    bones = np.full(42, -1)
    points = np.zeros((42, 3))
    tips = np.full(42, -1)
    for h, side in enumerate(("L", "R")):
        o = 21 * h
        bones[o] = _bone(f"wrist.{side}")
        for k in range(1, 6):
            for j in range(1, 4):
                bones[o + 4 * (k - 1) + j] = _bone(f"finger{k}-{j}.{side}")
            last, prev = _bone(f"finger{k}-3.{side}"), _bone(f"finger{k}-2.{side}")
            axis = _unit(rest.heads[last] - rest.heads[prev])
            own = np.flatnonzero(rest.dominant == last)
            tips[o + 4 * k] = own[np.argmax((rest.vertices[own] - rest.heads[last]) @ axis)]
    joints = bones >= 0
    heads = rest.heads[bones[joints]]
    closest, distance, triangle = closest_points(mesh, heads)
    normals = mesh.face_normals[triangle]
    inside = ((heads - closest) * normals).sum(axis=1) < 0
    shallow = ~inside | (distance < JOINT_DEPTH)
    heads[shallow] = closest[shallow] - JOINT_DEPTH * normals[shallow]
    points[joints] = heads
    # Each joint point is skinned with the bone weights of the skin nearest it.
    nearest = faces[triangle][np.arange(len(triangle)), 0]
    weights = np.zeros((42, len(bone_labels())))
    weights[np.flatnonzero(joints)] = _skin_matrix()[nearest].toarray()
    return weights, points, tips


def wholebody_keypoints(
    phenotype: dict, vertices: np.ndarray, bone_poses: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """COCO-WholeBody keypoints (F, 133, 3) world of a posed body (vertices (F, V, 3),
    bone poses (F, B, 4, 4)), and which are placed (133,): body and feet by anny's COCO
    regressor over the mesh; the hands' joints inside the fingers and wrist, moving with
    their bones, the fingertips on the mesh (``_hand_points``); the 68 face points are not
    placed (0)."""
    key = tuple(sorted((k, float(phenotype[k])) for k in ANNY_PHENOTYPE))
    rest = _rest_body_cached(key)
    F = len(vertices)
    points = np.zeros((F, 133, 3))
    placed = np.zeros(133, dtype=bool)
    regressor = _coco_regressor()
    for f in range(F):
        points[f, :23] = regressor @ vertices[f]
    weights, local, tips = _hand_points(key)
    joints = tips < 0
    used = np.flatnonzero(weights.any(axis=0))
    skinning = bone_poses[:, used] @ np.linalg.inv(rest.rest_poses[used])  # (F, U, 4, 4)
    blend = np.einsum("ku,fuij->fkij", weights[joints][:, used], skinning)
    hands = np.zeros((F, 42, 3))
    hands[:, joints] = np.einsum("fkij,kj->fki", blend[..., :3, :3], local[joints])
    hands[:, joints] += blend[..., :3, 3]
    hands[:, ~joints] = vertices[:, tips[~joints]]
    points[:, 91:133] = hands
    placed[:23] = placed[91:133] = True
    return points, placed


def each_grip(grips: dict):
    """(hand, grip) of every grip of ``Person.grips``, whose value per hand is one grip or
    a list of them (a hand that grasps several times, in windows apart)."""
    for hand, value in grips.items():
        for grip in value if isinstance(value, list) else [value]:
            yield hand, grip


def held_key(grip: dict) -> str:
    """The key of ``held_objects`` for a grip: its object's name, and for a cloth the
    pinched vertex ("cloth_0@12")."""
    return f"{grip['object']}@{grip['vertex']}" if "vertex" in grip else grip["object"]


PINCH_RADIUS = 0.045  # m: a pinching hand closes on the cloth within this of the pinched vertex
PINCH_THICKNESS = 0.006  # m: ... as a slab this thick
PINCH_FINGERS = (1, 2, 3)  # a pinch closes the thumb (towards it), fore and middle finger ...
TUCKED_CURL = np.radians(150.0)  # ... the others curl in this far
SHEET_RADIUS = 0.15  # m: ... their tips onto the cloth's own triangles within this of it
SHEET_SMOOTH = 0.02  # m: the palm turns to the sheet's normals round its point, so far
PINCH_PALM = 0.015  # m: a pinching hand's palm comes at most this far from the pinched vertex
PINCH_TURNS = np.arange(-90.0, 91.0, 15.0)  # degrees it may turn its fingers to lie over cloth,
PINCH_TURN_COST = np.radians(45.0)  # ... a turn this far weighed as a centimetre off the cloth


def pinched_patch(vertices: np.ndarray, rest: np.ndarray, vertex: int, faces=None) -> tuple:
    """What a hand pinching a cloth at ``vertex`` closes on, frame by frame: the patch of
    the flat rest cloth ``rest`` (V, 3) within ``PINCH_RADIUS`` of the vertex (its convex
    outline, a slab ``PINCH_THICKNESS`` thick) in the frame of the vertex, and those frames
    (F, 4, 4): the rigid motion that fits the patch's rest vertices best onto theirs in
    ``vertices`` (F, V, 3) (Kabsch), at the vertex. With the cloth's ``faces``, a third
    item: the cloth's own triangles (F, T, 3, 3) within ``SHEET_RADIUS`` of the vertex as
    they deform, which the palm is laid on (turned as the slab) and the fingers close on."""
    import shapely

    rest = np.asarray(rest, float)
    near = np.flatnonzero(np.linalg.norm(rest - rest[vertex], axis=1) < PINCH_RADIUS)
    p0 = rest[near] - rest[vertex]
    outline = shapely.MultiPoint(p0[:, :2]).convex_hull
    slab = trimesh.creation.extrude_polygon(outline, PINCH_THICKNESS)
    slab.apply_translation((0.0, 0.0, -PINCH_THICKNESS / 2))
    poses = np.tile(np.eye(4), (len(vertices), 1, 1))
    if len(vertices):  # every frame at once (each matrix's product, SVD and determinant)
        vertices = np.asarray(vertices)
        q = np.take(vertices, near, axis=1) - vertices[:, vertex, None]
        u, _, vt = np.linalg.svd(p0.T @ q)
        v, uT = np.swapaxes(vt, 1, 2), np.swapaxes(u, 1, 2)
        d = np.sign(np.linalg.det(v @ uT))
        flip = np.tile(np.eye(3), (len(vertices), 1, 1))
        flip[:, 2, 2] = np.where(d == 0, 1.0, d)
        poses[:, :3, :3] = v @ flip @ uT
        poses[:, :3, 3] = vertices[:, vertex]
    if faces is None:
        return [slab], poses
    faces = np.asarray(faces)
    around = np.flatnonzero(np.linalg.norm(rest - rest[vertex], axis=1) < SHEET_RADIUS)
    patch = faces[np.isin(faces, around).all(axis=1)]
    return [slab], poses, np.take(vertices, patch, axis=1).astype(float)


def sheet_parts(triangles: np.ndarray) -> tuple[np.ndarray, ...]:
    """What ``sheet_depth`` and ``sheet_crossed`` measure against, of a sheet's triangles
    (n, T, 3, 3) per row, worked out once: their first corners and unit normals
    (n, 1, T, 3), and per edge (n, 1, T, 3 edges, 3) its start, its vector, its squared
    length (n, 1, T, 3) and the normal's cross product with it (pointing into the
    triangle, in its plane)."""
    corners = np.asarray(triangles, float)[:, None]  # (n, 1, T, 3, 3)
    a, b, c = corners[..., 0, :], corners[..., 1, :], corners[..., 2, :]
    n = _unit(np.cross(b - a, c - a) + 1e-12)
    edges = np.stack([b - a, c - b, a - c], axis=-2)
    inward = np.cross(n[..., None, :], edges)
    return a, n, corners, edges, (edges * edges).sum(-1) + 1e-18, inward


def _rows(parts: tuple, rows: np.ndarray) -> tuple:
    return tuple(p[rows] for p in parts)


def sheet_depth(triangles, points: np.ndarray) -> np.ndarray:
    """How deep points (n, S, 3) are inside a sheet ``PINCH_THICKNESS`` thick whose
    triangles (n, T, 3, 3) are given per frame (or their ``sheet_parts``): half that less
    their distance to the nearest triangle (off its plane where they lie over it, else to
    its nearest edge)."""
    a, n, corners, edges, length2, inward = (
        triangles if isinstance(triangles, tuple) else sheet_parts(triangles)
    )
    x = points[:, :, None]  # (n, S, 1, 3)
    w = x[..., None, :] - corners  # (n, S, T, 3 edges, 3)
    over = (np.einsum("...k,...k->...", w, inward) >= 0).all(axis=-1)
    t = np.clip(np.einsum("...k,...k->...", w, edges) / length2, 0.0, 1.0)
    edge = np.linalg.norm(w - t[..., None] * edges, axis=-1).min(axis=-1)
    plane = np.abs(np.einsum("...k,...k->...", x - a, n))
    distance = np.where(over, plane, edge).min(axis=-1)
    return PINCH_THICKNESS / 2 - distance


def sheet_crossed(triangles, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether the segments from ``start`` to ``end`` (n, S, 3) pass through a sheet's
    mid-surface, its triangles (n, T, 3, 3) (or their ``sheet_parts``) given per row."""
    a, n, corners, _, _, inward = (
        triangles if isinstance(triangles, tuple) else sheet_parts(triangles)
    )
    p, q = start[:, :, None], end[:, :, None]  # (n, S, 1, 3)
    dp, dq = np.einsum("...k,...k->...", p - a, n), np.einsum("...k,...k->...", q - a, n)
    through = dp * dq <= 0.0
    x = p + (dp / np.where(dp == dq, 1.0, dp - dq))[..., None] * (q - p)
    w = x[..., None, :] - corners
    through &= (np.einsum("...k,...k->...", w, inward) >= 0).all(axis=-1)
    return through.any(axis=-1)


def sheet_spheres(parts: tuple) -> tuple[np.ndarray, ...]:
    """Bounding spheres of a sheet's triangles per row, of its ``sheet_parts``: their
    centres (n, T, 3) and radii (n, T), and the row's bounding box (n, 2, 3)."""
    corners = parts[2][:, 0]  # (n, T, 3, 3)
    centre = corners.mean(axis=-2)
    radius = np.linalg.norm(corners - centre[..., None, :], axis=-1).max(axis=-1)
    box = np.stack([corners.min(axis=(1, 2)), corners.max(axis=(1, 2))], axis=1)
    return centre, radius, box


NEAR_MARGIN = 1e-6  # m: a bounding sphere is trusted to this
SHEET_PAIRS = 1 << 16  # tip-triangle pairs measured at once against a sheet


def _flat_parts(parts: tuple) -> tuple:
    """A sheet's ``sheet_parts`` (n, 1, T, ...) as (n T, ...) (views)."""
    return tuple(p.reshape(p.shape[0] * p.shape[2], *p.shape[3:]) for p in parts)


def _sheet_pairs(
    parts: tuple, spheres: tuple, points: np.ndarray, rows: np.ndarray, reach, indices=False
):
    """In chunks, the points (k, 3) (one per element of ``rows`` (k,), on that row's sheet)
    and the triangles that may come within ``reach`` (m; (k,) or one for all) of them, by
    the row's bounding box and the triangles' bounding ``spheres`` (``reach`` None: those
    that may be a point's nearest, no farther than the triangle of the nearest centre):
    a chunk's elements (P,) (ascending) and the
    ``sheet_parts`` of its pairs' triangles (P, 1, 1 triangle, ...) (``indices``: their
    indices (P,) in the parts flattened by ``_flat_parts`` instead)."""
    centre, radius, box = spheres
    T = centre.shape[1]
    flat = _flat_parts(parts)
    elements = np.arange(len(rows))
    if reach is not None:
        reach = np.broadcast_to(reach, rows.shape) + NEAR_MARGIN
        lo, hi = box[rows, 0] - reach[:, None], box[rows, 1] + reach[:, None]
        elements = np.flatnonzero(((points >= lo) & (points <= hi)).all(axis=1))
    step = max(1, SHEET_PAIRS // T)
    for start in range(0, len(elements), step):
        e = elements[start : start + step]
        r = rows[e]
        offset = points[e, None] - centre[r]
        gap2 = np.einsum("ctk,ctk->ct", offset, offset)  # (c, T) squared centre distances
        if reach is None:  # no farther than the nearest sphere's far side, nor than the
            # triangle of the nearest centre (measured)
            centred = tuple(p[r * T + gap2.argmin(axis=1)][:, None, None] for p in flat)
            measured = PINCH_THICKNESS / 2 - sheet_depth(centred, points[e, None])[:, 0]
            within = np.fmin((np.sqrt(gap2) + radius[r]).min(axis=1), measured) + NEAR_MARGIN
        else:
            within = reach[e]
        el, tri = np.nonzero(gap2 <= (within[:, None] + radius[r]) ** 2)
        if len(el):
            pair = r[el] * T + tri  # the row's triangle, in the flattened parts
            yield e[el], pair if indices else tuple(p[pair][:, None, None] for p in flat)


def sheet_depth_near(
    parts: tuple, spheres: tuple, points: np.ndarray, rows: np.ndarray, reach=None
) -> np.ndarray:
    """``sheet_depth`` of points (k, 3), one per element of ``rows`` (k,) (on that row's
    sheet, its ``sheet_parts`` and ``sheet_spheres``), where they are no farther than
    ``reach`` (m) from it (None: everywhere), else -inf; measured against the triangles
    that may be nearest only (the same values: the nearest triangle's). With ``reach``, a
    triangle whose plane is farther than it from a point is not measured (nor nearer
    than its plane): the values within reach are the same, those beyond it may be less."""
    out = np.full(len(points), -np.inf)
    flat = _flat_parts(parts)
    if reach is not None:
        limit = np.broadcast_to(reach, rows.shape) + NEAR_MARGIN
    for el, pair in _sheet_pairs(parts, spheres, points, rows, reach, indices=True):
        if reach is not None:  # off the triangle's plane by more than the reach: beyond it
            plane = np.abs(np.einsum("pk,pk->p", points[el] - flat[0][pair], flat[1][pair]))
            keep = plane <= limit[el]
            el, pair = el[keep], pair[keep]
            if not len(el):
                continue
        pairs = tuple(p[pair][:, None, None] for p in flat)
        depth = sheet_depth(pairs, points[el, None])[:, 0]  # a pair's (one triangle)
        first = np.flatnonzero(np.r_[True, el[1:] != el[:-1]])
        out[el[first]] = np.maximum.reduceat(depth, first)
    return out


def held_objects(spec, traj, person: Person) -> dict:
    """What a person's grips hold: part name ("body" or "body/link", e.g. a knife's
    handle; ``held_key`` for a pinched cloth) -> (its visuals' meshes in its frame, its
    poses (F, 4, 4) in ``traj``); a grip's ``visuals`` (indices) keeps only those of the
    part's visuals (the hand closes on a handle, not the whole drawer); a pinched cloth's
    value has a third item, its patch's triangles per frame (``pinched_patch``)."""
    out = {}
    sheets = dict(zip(traj.cloth_names, traj.cloth_vertices, strict=True))
    cloths = {c.name: c for c in spec.cloths}
    for _, grip in each_grip(person.grips):
        name = grip["object"]
        if "vertex" in grip and name in sheets:
            mesh = cloths[name].mesh
            out[held_key(grip)] = pinched_patch(
                sheets[name], np.asarray(mesh.vertices), int(grip["vertex"]), mesh.faces
            )
            continue
        visuals = _part_visuals(spec, name)
        if "visuals" in grip:  # a part of it: a handle's bar and posts
            visuals = [visuals[i] for i in grip["visuals"] if i < len(visuals)]
        if not visuals or name not in traj.part_names:
            continue
        out[name] = ([v.mesh for v in visuals], traj.poses[:, traj.part_names.index(name)])
    return out


def fingertip_depths(spec, traj, person: Person, hand: str, grip: dict) -> tuple[np.ndarray, ...]:
    """How deep the closing fingertips of a person's ``hand`` ("left", "right") lie in
    what ``grip`` (one of ``person.grips``) holds, in every frame its fingers are fully
    closed: those frames (n,), the fingers (k,) (1 the thumb .. 5; the grip's
    ``fingers``, all five by default) and their depths (n, k) (m, from the skinned
    fingertip keypoints: > 0 inside the held part's surface, < 0 outside it; a pinched
    cloth: minus the distance to the cloth's surface)."""
    _, close = grip_schedule(traj.times, grip["start"], grip["end"])
    frames = np.flatnonzero(close >= 1.0)
    fingers = np.asarray(grip.get("fingers", range(1, 6)))
    offset = 91 + (21 if hand == "right" else 0)  # COCO-WholeBody: a hand's tip k is 4 k on
    tips = traj.people_keypoints[traj.people_names.index(person.name)][:, offset + 4 * fingers]
    depths = np.zeros((len(frames), len(fingers)))
    if "vertex" in grip:
        faces = next(c for c in spec.cloths if c.name == grip["object"]).mesh.faces
        sheets = traj.cloth_vertices[traj.cloth_names.index(grip["object"])]
        for i, t in enumerate(frames):
            sheet = trimesh.Trimesh(sheets[t], faces, process=False)
            depths[i] = -trimesh.proximity.closest_point(sheet, tips[t])[1]
        return frames, fingers, depths
    meshes, poses = held_objects(spec, traj, replace(person, grips={hand: grip}))[grip["object"]]
    mesh = trimesh.util.concatenate(meshes)
    for i, t in enumerate(frames):
        local = (tips[t] - poses[t, :3, 3]) @ poses[t, :3, :3]
        depths[i] = trimesh.proximity.signed_distance(mesh, local)
    return frames, fingers, depths


def _part_visuals(spec, name: str) -> list:
    """The visuals of a body ("body") or of a link of one ("body/link"), in its frame."""
    body = next((b for b in spec.bodies if b.name == name), None)
    if body is not None:
        return list(body.visuals)
    base, _, link = name.partition("/")
    body = next((b for b in spec.bodies if b.name == base), None)
    found = next((ln for ln in (body.links if body else []) if ln.name == link), None)
    return list(found.visuals) if found else []


def skin_people(spec, traj) -> None:
    """Skin every person of ``spec`` on its proxy's motion in ``traj`` and add the results
    to ``traj``: its regions' vertices as cloths (in ``spec.cloths`` order), its bones and
    its whole-body keypoints; then release the model (``release_body_model``)."""
    from simfactory.sim.actors.humanoid import standing_pose

    sheets = dict(zip(traj.cloth_names, traj.cloth_vertices, strict=True))
    skinned = {}
    traj.people_names, traj.people_bones, traj.people_keypoints = [], [], []
    for person in spec.people:
        links = {}
        for link in HUMANOID_LINKS:
            part = f"{person.proxy}/{link}"
            if part not in traj.part_names:
                raise ValueError(f"person {person.name!r}: its proxy has no part {part!r}")
            links[link] = traj.poses[:, traj.part_names.index(part)]
        root, height = standing_pose()
        objects = held_objects(spec, traj, person)
        out = skin_person(person, links, root * person.height / height, objects, traj.times)
        for cloth in spec.cloths:
            if cloth.skin == person.name:
                # frame by frame in memory (``take`` along the vertices: ~4 times quicker
                # than a fancy index there)
                rows = np.take(out["vertices"], cloth.skin_vertices, axis=1)
                skinned[cloth.name] = rows.astype(np.float32)
        points, _ = wholebody_keypoints(person.phenotype, out["vertices"], out["bone_poses"])
        traj.people_names.append(person.name)
        traj.people_bones.append(out["bones"].astype(np.float32))
        traj.people_keypoints.append(points)
    traj.cloth_names = [c.name for c in spec.cloths]
    traj.cloth_vertices = [skinned[c.name] if c.skin else sheets[c.name] for c in spec.cloths]
    release_body_model()


def choose_detail(spec, traj) -> None:
    """Draw every person of ``spec`` at the coarsest mesh whose error is at most
    ``DETAIL_PIXELS`` of a pixel where the person comes nearest any of the clip's cameras
    (the least depth of its vertices in a camera's view, over all frames): each region's mesh
    gets that level's faces (``simplify_region``; its vertices stay the whole region's, as
    skinned), so every camera, the LiDAR and the path tracer see one surface. Each region's
    ``skin_levels`` become the full mesh, the drawn one and the one shadow maps draw; the
    drawn error (m) is recorded in the person's look (``drawn_error_m``)."""
    from simfactory.sim.model.camera import camera_poses, intrinsics

    cameras = []
    for cam in spec.cameras:
        K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
        cameras.append((np.linalg.inv(camera_poses(cam, traj.times, spec, traj)), K, cam))
    for person in spec.people:
        regions = [(c, traj.cloth_vertices[traj.cloth_names.index(c.name)])
                   for c in spec.cloths if c.skin == person.name and c.skin_levels]  # fmt: skip
        if not regions:
            continue
        finest = np.inf  # metres a pixel spans where the person is nearest in a camera's view
        for T_cw, K, cam in cameras:
            nearest = _nearest_seen(T_cw, K, cam, [v for _, v in regions])
            if nearest is not None:
                finest = min(finest, nearest / K[1, 1])
        error = round(min(DETAIL_PIXELS * finest, DETAIL_MAX_ERROR), 6)
        shadow_error = max(error, SHADOW_ERROR)
        frames = len(regions[0][1])
        poses = np.unique(np.linspace(0, frames - 1, min(DETAIL_POSES, frames)).round().astype(int))
        for cloth, skinned in regions:
            full = cloth.skin_levels[0][1]
            prepared = {}  # the drawn and the shadow level simplify the same inputs
            drawn = simplify_region(cloth, full, skinned[poses], error, prepared)
            shadow = drawn
            if shadow_error > error:
                shadow = simplify_region(cloth, drawn, skinned[poses], shadow_error, prepared)
            cloth.skin_levels = ((0.0, full), (error, drawn), (shadow_error, shadow))
            cloth.mesh = trimesh.Trimesh(cloth.mesh.vertices, drawn, process=False)
        person.look["drawn_error_m"] = error


def _nearest_seen(T_cw: np.ndarray, K: np.ndarray, cam, regions: list) -> float | None:
    """The least depth (m) of the vertices (F, V_r, 3) of ``regions`` that a camera (its
    world-to-camera poses (F, 4, 4), intrinsics ``K``) sees in any frame, or None: every
    depth is measured, the image coordinates only in the frames whose nearest vertex is
    still in question (a frame at a time, nearest first, until the nearest of all those
    left is seen: usually one frame)."""

    def coordinate(i: int, frames: slice) -> np.ndarray:  # camera coordinate i (F', V)
        return np.concatenate(
            [np.einsum("fj,fvj->fv", T_cw[frames, i, :3], v[frames]) + T_cw[frames, i, 3][:, None]
             for v in regions], axis=1,
        )  # fmt: skip

    z = coordinate(2, slice(None))
    left = np.where(z > cam.near, z, np.inf)  # the depths that may be the nearest seen
    while True:
        f, vertex = np.unravel_index(np.argmin(left), left.shape)
        if left[f, vertex] == np.inf:
            return None
        x, y = (coordinate(i, slice(f, f + 1))[0] for i in range(2))
        u, v = K[0, 0] * x + K[0, 2] * z[f], K[1, 1] * y + K[1, 2] * z[f]  # pixel times depth
        seen = (u >= 0) & (u <= cam.width * z[f]) & (v >= 0) & (v <= cam.height * z[f])
        if seen[vertex]:
            return float(z[f, vertex])
        left[f, ~seen] = np.inf


SIMPLIFY_OPTIONS = 1 | 4  # meshopt_SimplifyLockBorder | meshopt_SimplifyErrorAbsolute


@cache
def _simplify_with_attributes():
    """meshoptimizer's ``meshopt_simplifyWithAttributes`` with its C signature declared
    (the Python package leaves it undeclared: sizes and the error would not pass)."""
    import ctypes

    from meshoptimizer._loader import lib

    size, pointer = ctypes.c_size_t, ctypes.c_void_p
    function = lib.meshopt_simplifyWithAttributes
    function.argtypes = [
        pointer, pointer, size, pointer, size, size, pointer, size, pointer, size, pointer,
        size, ctypes.c_float, ctypes.c_uint, pointer,
    ]  # fmt: skip
    function.restype = size
    return function


def simplify_region(
    cloth, faces: np.ndarray, poses: np.ndarray, error: float, prepared: dict | None = None
) -> np.ndarray:
    """Faces (T, 3) of a coarser mesh of the person's region ``cloth`` over its own
    vertices (its mesh ``faces`` simplified by meshoptimizer's edge collapses), within
    ``error`` (m) of the rest mesh and, on average, of the skinned shapes ``poses`` (K, V,
    3): a bent elbow or finger keeps the vertices its bend needs, which the straight rest
    mesh would not. The region's border (where it meets the next region) stays, so regions
    still meet, and so do its kept vertices (the fingertips, keypoints) down to errors of
    a few centimetres, where a finger may go whole. ``prepared`` (a dict, empty at first)
    keeps what meshoptimizer reads of the region and its poses for another call with the
    same ``cloth`` and ``poses``."""
    if error <= 0:
        return np.asarray(faces)
    prepared = {} if prepared is None else prepared
    if "inputs" not in prepared:
        prepared["inputs"] = _simplify_inputs(cloth, poses)
    rest, attributes, weights, lock = prepared["inputs"]
    indices = np.ascontiguousarray(faces, dtype=np.uint32).reshape(-1)
    out = np.zeros_like(indices)
    count = _simplify_with_attributes()(
        out.ctypes.data, indices.ctypes.data, indices.size, rest.ctypes.data, len(rest),
        rest.strides[0], attributes.ctypes.data, attributes.strides[0], weights.ctypes.data,
        weights.size, lock.ctypes.data, 0, error, SIMPLIFY_OPTIONS, None,
    )  # fmt: skip
    if count == 0:  # a small closed part (an eye) would go whole: it stays as it was
        return np.asarray(faces)
    return out[:count].reshape(-1, 3).astype(np.int64)


def _simplify_inputs(cloth, poses: np.ndarray) -> tuple[np.ndarray, ...]:
    """What ``simplify_region`` passes meshoptimizer of a region and its skinned shapes
    ``poses`` (K, V, 3): the rest vertices, the shapes as attributes (about each pose's
    mean, in units of the mesh's extent) and their weights, and the locked vertices."""
    rest = np.ascontiguousarray(cloth.mesh.vertices, dtype=np.float32)
    extent = float(np.ptp(rest, axis=0).max())  # meshoptimizer's unit of length
    shapes = poses - poses.mean(axis=1, keepdims=True)  # (K, V, 3), about each pose's mean
    attributes = np.ascontiguousarray(
        shapes.transpose(1, 0, 2).reshape(len(rest), -1) / extent, dtype=np.float32
    )
    weight = extent / DETAIL_POSE_SIZE / np.sqrt(len(poses))
    weights = np.full(attributes.shape[1], weight, dtype=np.float32)
    lock = np.zeros(len(rest), dtype=np.uint8)
    if cloth.skin_kept is not None:
        lock[cloth.skin_kept] = 1
    return rest, attributes, weights, lock


def drawn_vertices(cloth, vertices: np.ndarray) -> np.ndarray:
    """A cloth's vertices (..., V, 3) that its mesh's faces use (a person's region drawn at
    a coarser level uses some of its skinned vertices): for boxes of the drawn surface."""
    if not cloth.skin:
        return vertices
    return vertices[..., np.unique(np.asarray(cloth.mesh.faces)), :]


# Hands that grasp: the hand turns its palm onto what it holds and the fingers close on it.

APPROACH = 0.5  # s: the hand turns to its grasp and pre-shapes over this time before a grasp
CLOSE = 0.15  # s: the fingers close (and open after a release) over this time
PALM_GAP = 0.004  # m between the palm's surface and the held object's
PALM_DEPTH = 0.012  # m from the palm's mid-plane (through its bones) to its skin
HELD_WHOLE = 0.15  # m: a thing no longer than this is grasped whole (the palm on its middle)
FINGER_RADIUS = 0.009  # m: a finger's half thickness (the hand is this wider than its knuckles)
CURL_MAX = np.radians(250.0)  # the most a finger's three joints bend together
CURL_MIN = np.radians(-30.0)  # ... and stretch back, away from the palm
CURL_SHARE = (0.4, 0.35, 0.25)  # how a finger's curl is shared from the palm to the tip
TIP_PRESS = 0.002  # m: fingers close until the tip is this far inside the surface
CURL_STEPS = 36  # curls tried from ``CURL_MIN`` to ``CURL_MAX`` before bisecting the first contact
SPREAD = {False: 40.0, True: 90.0}  # degrees a finger (True: the thumb) may turn sideways
THUMB_SHARE = (0.3, 0.4, 0.3)  # the thumb's


def grip_schedule(times: np.ndarray, start: float, end: float | None) -> tuple[np.ndarray, ...]:
    """Turn (0 .. 1: the hand in its grasp pose) and closure (0 .. 1) at ``times`` of a
    grasp held from ``start`` to ``end`` (None: the end of the clip)."""
    from simfactory.sim.model.motion import smoothstep

    end = np.inf if end is None else end
    turn = smoothstep((times - (start - APPROACH)) / APPROACH)
    turn = np.minimum(turn, smoothstep((end + APPROACH - times) / APPROACH))
    close = smoothstep((times - (start - CLOSE)) / CLOSE)
    close = np.minimum(close, smoothstep((end + CLOSE - times) / CLOSE))
    return turn, close


@cache
def _hand_frame(key: tuple, side: str) -> dict:
    """A hand's rest geometry in anny's rest frame: finger direction, palm normal (out of
    the palm) and the palm point (on the palm's skin between wrist and knuckles) relative
    to the wrist head."""
    rest = _rest_body_cached(key)
    heads = rest.heads
    w = heads[_bone(f"wrist.{side}")]
    index, pinky = heads[_bone(f"finger2-1.{side}")], heads[_bone(f"finger5-1.{side}")]
    middle = heads[_bone(f"finger3-1.{side}")]
    f = _unit(middle - w)
    n = _unit(np.cross(index - w, pinky - w))
    n = _unit(n - np.dot(n, f) * f)
    inward = np.array([-1.0 if side == "L" else 1.0, 0.0, 0.0])  # towards the midline
    if np.dot(n, inward) < 0:
        n = -n
    mid = (w + index + pinky) / 3
    width = float(np.linalg.norm(index - pinky)) + 2 * FINGER_RADIUS
    return {"finger": f, "normal": n, "palm": mid + PALM_DEPTH * n - w, "width": width}


def _grasp_rotation(f_rest, n_rest, f_goal, n_goal) -> np.ndarray:
    """Rotations (F, 3, 3) taking the rest finger and palm directions to the goals (F, 3)."""
    a = np.stack([f_rest, np.cross(n_rest, f_rest), n_rest], axis=1)  # columns
    b = np.stack([f_goal, np.cross(n_goal, f_goal), n_goal], axis=2)
    return b @ a.T


def grasp_hands(
    person: Person, bones: np.ndarray, bone_poses: np.ndarray, objects: dict, times: np.ndarray
) -> tuple[np.ndarray, dict]:
    """``bones`` with each gripping hand (``person.grips``) turned palm-on to what it
    holds and its wrist moved there, and the wrist targets (F, 3) that put it there.

    ``objects`` maps a held body's name to (mesh in its frame, poses (F, 4, 4) world).
    The palm goes onto the object's surface point nearest the hand (``PALM_GAP`` off
    it), facing it, the fingers pointing along the surface away from the forearm (across
    the bar of a grip's ``across`` axis, in the object's frame: a handle; or across the
    grip's ``axis``, a handle's length, which the fingers then wrap around); a grip's
    ``at`` (a point in the object's frame, the bar's middle) puts the palm on the
    surface in front of it instead; along a handle's ``axis`` the palm keeps one place
    (``_along_handle``); something small held whole takes it on the middle of the face
    towards the hand (``_from_middle``); a pinched cloth (a grip's ``vertex``) near the
    vertex on one side (``_pinching_side``), the fingers turned over the cloth
    (``_over_sheet``)."""
    key = tuple(sorted((k, float(person.phenotype[k])) for k in ANNY_PHENOTYPE))
    bones = bones.copy()
    targets = {}
    for hand, grip in each_grip(person.grips):
        side = "L" if hand == "left" else "R"
        turn, _ = grip_schedule(times, grip["start"], grip["end"])
        if not turn.any() or held_key(grip) not in objects:
            continue
        meshes, poses = objects[held_key(grip)][:2]
        mesh = _concatenated(meshes)
        frame = _hand_frame(key, side)
        wrist_bone = _bone(f"wrist.{side}")
        wrist = bone_poses[:, wrist_bone, :3, 3]
        R_wrist = bone_poses[:, wrist_bone, :3, :3] @ rest_rotation_inv(key, wrist_bone)
        palm_now = wrist + np.einsum("fij,j->fi", R_wrist, frame["palm"])
        local = np.einsum("fji,fj->fi", poses[:, :3, :3], palm_now - poses[:, :3, 3])
        if "at" in grip:  # the palm on the surface in front of a point (a bar's middle)
            at = np.asarray(grip["at"], float)
            towards = local - at
            if "across" in grip:
                bar = np.asarray(grip["across"], float)
                towards -= np.outer(towards @ bar, bar)
            local = at + 0.05 * _unit(towards + 1e-12)
        elif len(objects[held_key(grip)]) > 2:  # a pinch: near the vertex, on one side
            local = _pinching_side(local, poses, wrist, np.argmin(np.abs(times - grip["start"])))
        elif grip.get("axis") is not None:  # a handle held along its length
            local = _along_handle(mesh, np.asarray(grip["axis"], float), local, frame["width"],
                                  turn > 0)  # fmt: skip
        elif "across" not in grip and np.ptp(mesh.vertices, axis=0).max() <= HELD_WHOLE:
            # a small thing held whole (one mesh: its own hull, which the fingers reuse)
            local = _from_middle(meshes[0] if len(meshes) == 1 else mesh, local)
        closest, _, triangle = trimesh.proximity.closest_point(mesh, local)
        normal_local = mesh.face_normals[triangle]
        surface = np.einsum("fij,fj->fi", poses[:, :3, :3], closest) + poses[:, :3, 3]
        normal = np.einsum("fij,fj->fi", poses[:, :3, :3], normal_local)
        if len(objects[held_key(grip)]) > 2:  # a cloth: onto its own sheet's nearest point
            surface, normal = _onto_sheet(objects[held_key(grip)][2], surface, normal, turn > 0)
        n_goal = -normal  # the palm faces the surface
        along = np.einsum("fij,j->fi", R_wrist, frame["finger"])
        f_goal = along - (along * n_goal).sum(1, keepdims=True) * n_goal
        if "across" in grip:  # a bar: the fingers point across it, to close around it
            bar = np.einsum("fij,j->fi", poses[:, :3, :3], np.asarray(grip["across"], float))
            wrap = np.cross(bar, n_goal)
            f_goal = wrap * np.sign((wrap * f_goal).sum(1, keepdims=True) + 1e-12)
        elif grip.get("axis") is not None:
            axis = _unit(np.einsum("fij,j->fi", poses[:, :3, :3], np.asarray(grip["axis"], float)))
            axis = _unit(axis - (axis * n_goal).sum(1, keepdims=True) * n_goal + 1e-12)
            f_goal = f_goal - (f_goal * axis).sum(1, keepdims=True) * axis
        f_goal = _unit(f_goal + 1e-9)
        if len(objects[held_key(grip)]) > 2:  # a pinch: the fingers over the cloth round it
            f_goal = _over_sheet(objects[held_key(grip)][2], surface, f_goal, n_goal, turn > 0)
        G = _grasp_rotation(frame["finger"], frame["normal"], f_goal, n_goal)
        palm_goal = surface + PALM_GAP * normal
        wrist_goal = palm_goal - np.einsum("fij,j->fi", G, frame["palm"])
        # Blend the hand's rotation from its forearm-following one to the grasp one.
        delta = Rotation.from_matrix(G @ np.swapaxes(R_wrist, 1, 2))
        delta = Rotation.from_rotvec(turn[:, None] * delta.as_rotvec())
        for c in _hand_bones(side):
            bones[:, c, :3, :3] = delta.as_matrix() @ bones[:, c, :3, :3]
        reached = wrist + turn[:, None] * (wrist_goal - wrist)
        targets[hand] = np.where((turn > 0)[:, None], reached, targets.get(hand, wrist))
    return bones, targets


def _concatenated(meshes: list) -> trimesh.Trimesh:
    """``trimesh.util.concatenate`` of meshes, their geometry only (their visuals, whose
    concatenation costs tens of milliseconds, left out)."""
    if len(meshes) == 1:
        return meshes[0].copy(include_visual=False)
    vertices, faces = trimesh.util.append_faces(
        [m.vertices.copy() for m in meshes], [m.faces.copy() for m in meshes]
    )
    normals = {}
    for name in ("face_normals", "vertex_normals"):  # those already worked out, as given
        if any(name in m._cache for m in meshes):
            normals[name] = trimesh.util.vstack_empty([getattr(m, name) for m in meshes])
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False, **normals)


def _over_sheet(
    triangles: np.ndarray,
    palm: np.ndarray,
    fingers: np.ndarray,
    normals: np.ndarray,
    frames: np.ndarray,
) -> np.ndarray:
    """A pinching hand's finger directions (F, 3), ``fingers`` turned about the palm's
    ``normals`` (F, 3, towards the sheet) in ``frames`` (F,) (bool) to the least turn
    that lays the fingers over the sheet (its triangles (F, T, 3, 3)) from the ``palm``
    (F, 3): of ``PINCH_TURNS``, the one whose points ahead of the palm, where the
    fingers curl, lie nearest the sheet (a centimetre weighed as ``PINCH_TURN_COST``)."""
    out = fingers.copy()
    f = np.flatnonzero(frames)
    if not len(f):
        return out
    turns = np.radians(PINCH_TURNS)
    dirs = _rotate(fingers[f, None], normals[f, None], np.broadcast_to(turns, (len(f), len(turns))))
    across = np.cross(normals[f, None], dirs)  # (n, K, 3)
    reach = np.array([0.03, 0.05, 0.07])[:, None, None]  # along the fingers ...
    side = np.array([-0.02, 0.0, 0.02])[None, :, None]  # ... and across the hand
    points = dirs[:, :, None, None] * reach + across[:, :, None, None] * side
    points = palm[f, None, None, None] + points + 0.01 * normals[f, None, None, None]
    parts = sheet_parts(triangles[f])
    points = points.reshape(len(f), -1, 3)
    rows = np.repeat(np.arange(len(f)), points.shape[1])
    depth = sheet_depth_near(parts, sheet_spheres(parts), points.reshape(-1, 3), rows)
    distance = PINCH_THICKNESS / 2 - depth.reshape(len(f), -1)
    off = distance.reshape(len(f), len(turns), -1).max(axis=2)
    score = off + 0.01 * np.abs(turns) / PINCH_TURN_COST
    out[f] = dirs[np.arange(len(f)), np.argmin(score, axis=1)]
    return out


def _pinching_side(
    points: np.ndarray, poses: np.ndarray, wrist: np.ndarray, start: int
) -> np.ndarray:
    """``points`` (F, 3), the palm in a pinched patch's frames ``poses`` (F, 4, 4) (the
    pinched vertex at their origin), kept within ``PINCH_PALM`` of the vertex along the
    patch and off its side where the ``wrist`` (F, 3, world) is at frame ``start`` (the
    grasp's): a hand holds a cloth from one side while it lifts, turns and lays it."""
    wrist_there = _in_frame(poses[start : start + 1], wrist[start : start + 1], point=True)
    side = 1.0 if wrist_there[0, 2] >= 0 else -1.0
    out = points.copy()
    out[:, 2] = side * np.maximum(np.abs(points[:, 2]), PINCH_THICKNESS)
    off = np.linalg.norm(out[:, :2], axis=1, keepdims=True)
    out[:, :2] *= np.minimum(1.0, PINCH_PALM / np.maximum(off, 1e-12))
    return out


def _from_middle(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """The middle of ``mesh`` (its bounding box's) moved onto the faces of its convex hull
    through which the rays from it towards ``points`` (F, 3) leave: a hand grasping
    something smaller than itself puts its palm in the middle of the face it comes to
    (not on the corner or edge nearest it), so its fingers reach round the rest."""
    ((normals, offsets, _, _),) = _convex_pieces([mesh])
    middle = np.asarray(mesh.bounds, float).mean(axis=0)
    direction = _unit(points - middle + 1e-12)
    towards = direction @ normals.T  # (F, M)
    room = offsets - normals @ middle  # (M,) >= 0: the middle is inside
    face = np.where(towards > 1e-9, room / np.maximum(towards, 1e-9), np.inf).argmin(axis=1)
    return middle + room[face, None] * normals[face]


def _along_handle(
    mesh: trimesh.Trimesh, axis: np.ndarray, points: np.ndarray, width: float, frames: np.ndarray
) -> np.ndarray:
    """``points`` (F, 3), the palm in a handle's frame, moved along the handle's ``axis``
    to one place for the whole grip (the hand does not slide along what it holds): their
    median over ``frames`` (F,) (bool), kept a hand's half ``width`` in from the handle's
    ends so every finger closes on it (the handle's middle if it is shorter than that)."""
    axis = _unit(axis)
    s = points @ axis
    extent = np.asarray(mesh.vertices) @ axis
    lo, hi = extent.min() + width / 2, extent.max() - width / 2
    held = float(np.median(s[frames])) if frames.any() else float(np.median(s))
    place = (lo + hi) / 2 if lo > hi else float(np.clip(held, lo, hi))
    return points + np.outer(place - s, axis)


def _onto_sheet(
    triangles: np.ndarray, points: np.ndarray, normals: np.ndarray, frames: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``points`` (F, 3) moved, in ``frames`` (F,) (bool), to their nearest points on the
    triangles (F, T, 3, 3) of those frames, and ``normals`` (F, 3) turned to the sheet's
    normal there (on the same side; its triangles' normals, weighted
    by ``SHEET_SMOOTH``)."""
    out, turned = points.copy(), normals.copy()
    faces = np.arange(3 * triangles.shape[1]).reshape(-1, 3)
    todo = np.flatnonzero(frames)
    if not len(todo):
        return out, turned
    nearest, unique = _nearest_on_sheets(triangles[todo], points[todo])
    # every frame's face normals and centres, as trimesh works them out for a mesh
    flat = np.asarray(triangles[todo], dtype=np.float64).reshape(-1, 3, 3)
    unit, valid = trimesh.triangles.normals(flat, trimesh.triangles.cross(flat))
    face_normals = np.zeros((len(flat), 3))
    face_normals[valid] = unit
    face_normals = face_normals.reshape(len(todo), -1, 3)
    centres = flat.mean(axis=1).reshape(len(todo), -1, 3)
    for i, f in enumerate(todo):
        if unique[i]:
            closest = nearest[i : i + 1]
        else:  # two triangles about as near: trimesh's choice between them
            sheet = trimesh.Trimesh(triangles[f].reshape(-1, 3), faces, process=False)
            closest = trimesh.proximity.closest_point(sheet, points[f : f + 1])[0]
        out[f] = closest[0]
        n = face_normals[i] * np.sign(face_normals[i] @ normals[f] + 1e-12)[:, None]
        near = np.linalg.norm(centres[i] - closest[0], axis=1)
        turned[f] = _unit((np.exp(-((near / SHEET_SMOOTH) ** 2))[:, None] * n).sum(axis=0))
    return out, turned


def _nearest_on_sheets(triangles: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each row of triangles (n, T, 3, 3) and its point (n, 3), the point's nearest
    point on them (n, 3), measured on every triangle at once as
    ``trimesh.proximity.closest_point`` measures its candidates, and whether that is its
    answer too (n,) (bool): where no other triangle comes within trimesh's tolerance of
    the nearest (trimesh's candidates are some of these triangles, the nearest among
    them), else trimesh chooses between the two nearest by their normals."""
    from trimesh.constants import tol

    n, T = triangles.shape[:2]
    if not n:
        return np.zeros((0, 3)), np.zeros(0, dtype=bool)
    query = np.repeat(np.asarray(points, dtype=np.float64), T, axis=0)
    close = trimesh.triangles.closest_point(triangles.reshape(-1, 3, 3), query)
    vector = query - close
    d2 = trimesh.util.diagonal_dot(vector, vector).reshape(n, T)
    finite = np.isfinite(d2).all(axis=1)
    best = d2.argmin(axis=1)
    rows = np.arange(n)
    nearest = close.reshape(n, T, 3)[rows, best]
    if T == 1:
        return nearest, finite
    first = d2[rows, best]
    d2[rows, best] = np.inf
    return nearest, finite & (d2.min(axis=1) - first >= tol.merge)


@cache
def _hand_bones(side: str) -> tuple[int, ...]:
    """The bones of a hand (wrist, metacarpals, fingers) of side "L" or "R"."""
    labels = bone_labels()
    prefixes = ("wrist", "finger", "metacarpal")
    return tuple(
        i for i, lab in enumerate(labels) if lab.startswith(prefixes) and lab.endswith(f".{side}")
    )


def rest_rotation_inv(key: tuple, bone: int) -> np.ndarray:
    """The inverse (3, 3) of a bone's rest rotation (anny's frame)."""
    return _rest_body_cached(key).rest_poses[bone, :3, :3].T


def closest_points(mesh: trimesh.Trimesh, points: np.ndarray) -> tuple[np.ndarray, ...]:
    """The closest point on ``mesh`` to each of ``points`` (N, 3), its distance and its
    triangle, as ``trimesh.proximity.closest_point`` gives them, without its tree (whose
    building costs tens of milliseconds for a few points): a triangle can hold the
    closest point only if its bounding box comes within the distance of the nearest
    vertex, so only those are measured (the boxes found by their centres first)."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    triangles = np.asarray(mesh.faces)
    tri = vertices[triangles]
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    reach, _ = cKDTree(vertices[np.unique(triangles)]).query(points)  # vertices of a face
    bound = reach**2 * (1 + 1e-9) + 1e-18
    # The boxes that may come so near, by their centres (a box is no nearer than its
    # centre less its half diagonal), then each pair's gap to its box.
    centre, half = (lo + hi) / 2, np.linalg.norm(hi - lo, axis=1) / 2
    ball = np.sqrt(bound) * (1 + 1e-9) + half.max() + 1e-12
    found = cKDTree(centre).query_ball_point(points, ball)
    rows = np.repeat(np.arange(len(points)), [len(f) for f in found])
    faces = np.concatenate([np.asarray(f, dtype=np.int64) for f in found] + [np.zeros(0, int)])
    p = points[rows]
    gap = np.maximum(lo[faces] - p, 0.0) + np.maximum(p - hi[faces], 0.0)
    near = np.zeros((len(points), len(tri)), dtype=bool)
    keep = (gap**2).sum(axis=1) <= bound[rows]
    near[rows[keep], faces[keep]] = True
    rows, faces = np.nonzero(near)  # as every pair's test gives them: by point, then face
    candidates = trimesh.triangles.closest_point(tri[faces], points[rows])
    distance = np.linalg.norm(candidates - points[rows], axis=1)
    order = np.lexsort((faces, distance, rows))  # per point, the nearest (lowest face on ties)
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
    return candidates[first], distance[first], faces[first]


def _convex_pieces(meshes: list) -> list[tuple[np.ndarray, ...]]:
    """Each mesh's convex hull as half-spaces (normals (M, 3), offsets (M,)): a point p is
    inside a piece where ``normals @ p <= offsets`` for every face; and a sphere round
    it (its centre (3,) and radius)."""
    pieces = []
    for mesh in meshes:
        hull = mesh.convex_hull
        normals = np.asarray(hull.face_normals)
        offsets = np.asarray((normals * hull.vertices[hull.faces[:, 0]]).sum(axis=1))
        corners = np.asarray(hull.vertices, dtype=np.float64)
        centre = corners.mean(axis=0)
        pieces.append(
            (normals, offsets, centre, float(np.linalg.norm(corners - centre, axis=1).max()))
        )
    return pieces


CONVEX_CHUNK = 1 << 16  # point-face pairs measured at once (512 kB; OpenBLAS keeps to one thread)


CONVEX_SAMPLE = 16  # a piece of more faces than 4 times this is first tried on every 16th


def convex_depth(pieces: list, points: np.ndarray, at_least: float | None = None) -> np.ndarray:
    """How deep points (..., 3) are inside a union of convex pieces (m; negative outside:
    then a lower bound of minus the distance, exact off a face's middle), measured in
    chunks of points (one product each). ``at_least`` (m, >= 0): only whether a point is
    so deep matters: a piece is measured only for the points within its sphere that a
    sample of its faces (every ``CONVEX_SAMPLE``-th) leaves so deep, -inf where no piece
    is; exact where the result is ``at_least`` or more."""
    flat = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
    depth = np.full(len(flat), -np.inf)
    for normals, offsets, centre, radius in pieces:
        todo = np.arange(len(flat))
        if at_least is not None:
            offset = flat - centre
            todo = np.flatnonzero(np.einsum("pk,pk->p", offset, offset) <= (radius + 1e-6) ** 2)
            if len(normals) > 4 * CONVEX_SAMPLE:  # a point outside a sampled face is no deeper
                few = slice(None, None, CONVEX_SAMPLE)
                deep = np.ones(len(todo), dtype=bool)
                step = max(1, CONVEX_CHUNK // len(normals[few]))
                for start in range(0, len(todo), step):
                    part = todo[start : start + step]
                    sample = (offsets[few] - flat[part] @ normals[few].T).min(axis=-1)
                    deep[start : start + step] = sample >= at_least - 1e-9
                todo = todo[deep]
        step = max(1, CONVEX_CHUNK // len(normals))
        for start in range(0, len(todo), step):
            part = todo[start : start + step]
            inside = (offsets - flat[part] @ normals.T).min(axis=-1)
            depth[part] = np.maximum(depth[part], inside)
    return depth.reshape(points.shape[:-1])


def _rotate(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Vectors ``v`` (..., 3) turned by ``angle`` (...) about unit ``axis`` (..., 3)
    (Rodrigues' formula)."""
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    k_dot_v = (axis * v).sum(axis=-1, keepdims=True)
    return v * c + np.cross(axis, v) * s + axis * k_dot_v * (1.0 - c)


def _in_frame(poses: np.ndarray, v: np.ndarray, point: bool = False) -> np.ndarray:
    """World vectors (or points) ``v`` (n, ..., 3) in the frames ``poses`` (n, 4, 4)."""
    if point:
        v = v - poses[:, :3, 3].reshape((len(poses),) + (1,) * (v.ndim - 2) + (3,))
    return np.einsum("nji,n...j->n...i", poses[:, :3, :3], v)


class _FingerReach:
    """Fingers' tips as they turn sideways and curls (``close_fingers``), for m rows (a
    finger at a frame), in the held object's frame: each row's knuckle (m, 3), its three
    limbs (m, 3, 3) (knuckle to tip), the palm's normal (m, 3), the cumulative curl shares
    (m, 3) and the object's convex pieces (a list; a sheet: its ``sheet_parts``)."""

    def __init__(self, knuckle, limbs, normal, share, pieces):
        self.knuckle, self.limbs, self.normal = knuckle, limbs, normal
        self.share, self.pieces = share, pieces

    def turned(self, spread: np.ndarray) -> tuple[np.ndarray, ...]:
        """The limbs turned sideways by spreads (m, S) (rad), (m, S, 3, 3), and the terms
        of Rodrigues' formula for their curl that do not depend on its angle: the curl
        axis' cross product with each limb and the axis times its dot product with it."""
        normal = self.normal[:, None, None]  # (m, 1, 1, 3)
        limb = _rotate(self.limbs[:, None], normal, spread[..., None])  # (m, S, 3, 3)
        axis = _unit(np.cross(_unit(limb[:, :, 0]), self.normal[:, None]) + 1e-12)[:, :, None]
        return limb, np.cross(axis, limb), axis * (axis * limb).sum(axis=-1, keepdims=True)

    def bent(self, turned: tuple, theta: np.ndarray, rows=None) -> np.ndarray:
        """Tip positions (..., G, 3) for curls ``theta`` (..., G) (rad) of limbs ``turned``
        (..., 3, 3): (m, S) of them (``theta`` (m, S or 1, G)), or one per element of
        ``rows`` (k,) (each its row)."""
        limb, cross, along = (t[..., None, :, :] for t in turned)
        knuckle, share = (self.knuckle, self.share) if rows is None else (
            self.knuckle[rows], self.share[rows])  # fmt: skip
        if rows is None:
            knuckle, share = knuckle[:, None], share[:, None]
        c = np.cos(theta[..., None] * share[..., None, :])[..., None]  # (..., G, 3, 1)
        s = np.sin(theta[..., None] * share[..., None, :])[..., None]
        return knuckle[..., None, :] + (limb * c + cross * s + along * (1.0 - c)).sum(axis=-2)

    def _depth(self, tips: np.ndarray, rows: np.ndarray, exact: bool = False) -> np.ndarray:
        """How deep tips (k, 3), one per element of ``rows`` (k,), are inside: exactly
        where they are ``TIP_PRESS`` inside or more (``exact``: everywhere), else no deeper
        than that (-inf where nothing is near: ``convex_depth``'s ``at_least``,
        ``sheet_depth_near``)."""
        if not isinstance(self.pieces, tuple):
            return convex_depth(self.pieces, tips, None if exact else TIP_PRESS)
        reach = None if exact else PINCH_THICKNESS / 2 - TIP_PRESS
        return sheet_depth_near(self.pieces, self._spheres(), tips, rows, reach)

    def _spheres(self) -> tuple:
        if not hasattr(self, "spheres"):
            self.spheres = sheet_spheres(self.pieces)
        return self.spheres

    def _crossed(self, before: np.ndarray, tips: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Whether tips (k, 3), one per element of ``rows`` (k,), went through a sheet on
        their way from ``before`` (k, 3) (tested on the triangles near the way only);
        never for a solid object."""
        out = np.zeros(len(rows), dtype=bool)
        if not isinstance(self.pieces, tuple) or not len(rows):
            return out
        half = np.linalg.norm(tips - before, axis=-1) / 2  # the segment's bounding sphere
        for el, parts in _sheet_pairs(
            self.pieces, self._spheres(), (before + tips) / 2, rows, half
        ):
            through = sheet_crossed(parts, before[el, None], tips[el, None])[:, 0]
            first = np.flatnonzero(np.r_[True, el[1:] != el[:-1]])
            out[el[first]] = np.logical_or.reduceat(through, first)
        return out

    def search(self, spreads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the curl and spread (rad) that bring the tip ``TIP_PRESS`` inside the
        object with the least spread of its ``spreads`` (m, S) (the first contact of a scan
        of the curl, bisected; a tip that goes through a sheet between two steps touched
        it), else those of its nearest approach. The scan's steps are measured together
        (a sheet's only where a tip comes near enough), the bisection for the spreads that
        touched only."""
        n = len(self.knuckle)
        spread = np.asarray(spreads, dtype=np.float64)
        turned = self.turned(spread)
        grid = np.linspace(CURL_MIN, CURL_MAX, CURL_STEPS)
        tips = self.bent(turned, np.broadcast_to(grid, (n, 1, len(grid))))  # (m, S, G, 3)
        sheet = isinstance(self.pieces, tuple)
        rows = np.broadcast_to(np.arange(n)[:, None, None], tips.shape[:3])
        depth = self._depth(tips.reshape(-1, 3), rows.reshape(-1))
        inside = depth.reshape(rows.shape) >= TIP_PRESS  # (m, S, G)
        blocked = inside[..., 0]  # inside already with the finger stretched: no scan
        inside = inside[..., 1:] & ~blocked[..., None]  # steps 1 ..
        if sheet:  # or through a sheet before its depth says so
            inside = self._scan_crossed(tips, inside, blocked)
        hit = inside.any(axis=-1)
        reached = hit.any(axis=1)
        best, best_score = np.full(spread.shape, grid[0]), np.full(spread.shape, -np.inf)
        far = np.flatnonzero(~reached)  # the nearest approach of rows that touch nothing
        if len(far):
            depth = self._depth(tips[far].reshape(-1, 3), rows[far].reshape(-1), exact=True)
            score = -np.abs(depth.reshape(rows[far].shape) - TIP_PRESS)
            best[far], best_score[far] = grid[np.argmax(score, axis=-1)], score.max(axis=-1)
        first = np.argmax(inside, axis=-1) + 1
        el_rows, el_spread = np.nonzero(hit)
        lo, hi = grid[first[hit] - 1], grid[first[hit]]
        el_turned = tuple(t[el_rows, el_spread] for t in turned)
        for _ in range(10):
            mid = (lo + hi) / 2
            tips = self.bent(el_turned, mid[:, None], el_rows)[:, 0]
            inside = self._depth(tips, el_rows) >= TIP_PRESS
            if sheet:
                below = self.bent(el_turned, lo[:, None], el_rows)[:, 0]
                inside |= self._crossed(below, tips, el_rows)
            hi = np.where(inside, mid, hi)
            lo = np.where(~inside, mid, lo)
        closed = np.full(spread.shape, CURL_MAX)
        closed[el_rows, el_spread] = hi
        rows = np.arange(n)
        pick = np.where(reached, np.argmax(hit, axis=1), np.argmax(best_score, axis=1))
        theta = np.where(reached, closed[rows, pick], best[rows, pick])
        return theta, spread[rows, pick]

    def _scan_crossed(self, tips, inside, blocked) -> np.ndarray:
        """``inside`` (m, S, G - 1) with the first step at which each tip of the scan went
        through the sheet set too (every step before its first contact tested at once)."""
        inside = inside.copy()
        first = np.where(inside.any(axis=-1), np.argmax(inside, axis=-1), inside.shape[-1])
        steps = np.arange(inside.shape[-1])
        r, s, g = np.nonzero(~blocked[..., None] & (steps < first[..., None]))
        crossed = self._crossed(tips[r, s, g], tips[r, s, g + 1], r)
        r, s, g = r[crossed], s[crossed], g[crossed]  # by row, spread and step
        if not len(r):  # no step went through the sheet
            return inside
        earliest = np.r_[True, (r[1:] != r[:-1]) | (s[1:] != s[:-1])]
        inside[r[earliest], s[earliest], g[earliest]] = True
        return inside


def close_fingers(
    person: Person, bones: np.ndarray, bone_poses: np.ndarray, objects: dict, times: np.ndarray
) -> np.ndarray:
    """``bones`` with each gripping hand's fingers closed on what it holds, scaled by the
    grip's closure: a finger turns sideways (about the palm's normal, up to ``SPREAD``,
    the least that works) and curls (``CURL_SHARE`` over its joints, about the axis across
    it towards the palm) until its tip is ``TIP_PRESS`` inside the held object's surface
    (its visuals' convex pieces), found by a scan and a bisection of the curl (the
    closing fingers of a hand and all its frames searched together, in the object's
    frame); a finger that reaches nothing stops at its nearest approach. A grip's
    ``fingers`` (1 the thumb .. 5 the little finger; all by default) close so; the others
    tuck in (``TUCKED_CURL``), as in a pinch."""
    key = tuple(sorted((k, float(person.phenotype[k])) for k in ANNY_PHENOTYPE))
    rest = _rest_body_cached(key)
    tips = _fingertip_vertices(key)
    bones = bones.copy()
    for hand, grip in each_grip(person.grips):
        side = "L" if hand == "left" else "R"
        _, close = grip_schedule(times, grip["start"], grip["end"])
        if not close.any() or held_key(grip) not in objects:
            continue
        held = objects[held_key(grip)]
        frames = np.flatnonzero(close > 0)
        if len(held) > 2:  # a cloth: its own triangles per frame, in the world
            sheet = held[2][frames]
            pose = np.tile(np.eye(4), (len(frames), 1, 1))
        else:
            sheet, pose = None, held[1][frames]
        closing = set(grip.get("fingers", range(1, 6)))
        fingers = []
        for k in range(1, 6):
            chain = [_bone(f"finger{k}-{j}.{side}") for j in (1, 2, 3)]
            T = bone_poses[frames][:, chain]  # (n, 3, 4, 4) posed
            heads = T[:, :, :3, 3]
            R0 = T[:, 0, :3, :3] @ rest.rest_poses[chain[0], :3, :3].T
            R2 = T[:, 2, :3, :3] @ rest.rest_poses[chain[2], :3, :3].T
            tip_rest = rest.vertices[tips[f"{side}{k}"]] - rest.heads[chain[2]]
            tip = heads[:, 2] + np.einsum("nij,j->ni", R2, tip_rest)
            normal = np.einsum("nij,j->ni", R0, _hand_frame(key, side)["normal"])
            limbs = np.stack([heads[:, 1] - heads[:, 0], heads[:, 2] - heads[:, 1],
                              tip - heads[:, 2]], axis=1)  # fmt: skip
            share = np.cumsum(THUMB_SHARE if k == 1 else CURL_SHARE)
            steps = np.array([0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6])[: 13 if k == 1 else 7]
            spreads = np.radians(SPREAD[k == 1]) * steps / steps.max()
            fingers.append((k, chain, heads[:, 0], limbs, normal, share, spreads))
        n = len(frames)
        pieces = _convex_pieces(held[0]) if sheet is None else None
        groups: dict[int, list] = {}  # the closing fingers by their number of spreads
        for f in fingers:
            if f[0] in closing:
                groups.setdefault(len(f[6]), []).append(f)
        found = {}
        for group in groups.values():
            reach = _FingerReach(
                np.concatenate([_in_frame(pose, f[2], point=True) for f in group]),
                np.concatenate([_in_frame(pose, f[3]) for f in group]),
                np.concatenate([_in_frame(pose, f[4]) for f in group]),
                np.concatenate([np.tile(f[5], (n, 1)) for f in group]),
                pieces if sheet is None else sheet_parts(np.concatenate([sheet] * len(group))),
            )
            theta, turn = reach.search(np.concatenate([np.tile(f[6], (n, 1)) for f in group]))
            for i, f in enumerate(group):
                found[f[0]] = theta[i * n : (i + 1) * n], turn[i * n : (i + 1) * n]
        tucked = (np.full(n, TUCKED_CURL), np.zeros(n))  # out of the way
        for k, chain, _, limbs, normal, share, _ in fingers:
            th, tu = found.get(k, tucked)
            th, tu = th * close[frames], tu * close[frames]
            S = Rotation.from_rotvec(normal * tu[:, None])
            f_dir = _unit(S.apply(limbs[:, 0]))
            axis = _unit(np.cross(f_dir, normal) + 1e-12)
            for j, c in enumerate(chain):
                bend = Rotation.from_rotvec(axis * (th * share[j])[:, None]) * S
                bones[frames, c, :3, :3] = bend.as_matrix() @ bones[frames, c, :3, :3]
    return bones


@cache
def _fingertip_vertices(key: tuple) -> dict[str, int]:
    return _tip_vertices(_rest_body_cached(key))


def _tip_vertices(rest: RestBody) -> dict[str, int]:
    """Each finger's tip vertex ("L1" .. "R5"): the last phalanx's farthest along it."""
    tips = {}
    for side in ("L", "R"):
        for k in range(1, 6):
            last, prev = _bone(f"finger{k}-3.{side}"), _bone(f"finger{k}-2.{side}")
            axis = _unit(rest.heads[last] - rest.heads[prev])
            own = np.flatnonzero(rest.dominant == last)
            tips[f"{side}{k}"] = int(own[np.argmax((rest.vertices[own] - rest.heads[last]) @ axis)])
    return tips
