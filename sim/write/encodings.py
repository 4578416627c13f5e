"""Label encodings of the per-camera ``.npz`` files.

``export.label_encoding`` picks one of two layouts; both are plain numpy arrays that
``numpy.load`` reads:

- ``float32``: depth (F, H, W) float32 metres, flow (F, H, W, 2) float32 pixels,
  normals (F, H, W, 3) float16.
- ``compact`` (the default): fixed-point integers next to a 0-d float32 array that says
  what one unit is worth, so ``value = stored * scale`` decodes them:

  ============  ====================  ==============  ===================================
  file, key     stored                scale key       error bound of ``stored * scale``
  ============  ====================  ==============  ===================================
  depth         uint16                ``depth_scale``   ≤ depth_scale / 2 (0.5 mm at the
                                                        usual 1 mm; 0 = no surface, and a
                                                        surface is at least 1 unit)
  flow forward, int16 (F, 2, H, W),   ``flow_scale``    ≤ flow_scale on valid pixels (1/64
  backward      0 where not valid                       px usually), ≤ flow_scale / 2 but
                                                        where it lands within half a unit
                                                        of a pixel edge: it lands on the
                                                        same pixel as the exact flow
  normals       int8                  ``normals_scale`` ≤ normals_scale / 2 per component
                                                        (1/254 at 1/127)
  ============  ====================  ==============  ===================================

  Compact flow is planar, (F, 2, H, W) (the layout of PyTorch flow tensors: it
  deflates several times faster and about a third smaller than (F, H, W, 2)); the
  other arrays have the float32 layout's shapes. ``decode`` gives flow back as
  (F, H, W, 2) in both layouts.

  ``depth_scale`` is 1 mm, doubled until the camera's farthest surface fits in
  65,535 units; ``flow_scale`` is 1/64 px, doubled until the largest valid flow
  component fits in ±32,767 units. Ids, semantic classes and validity masks are
  stored as they are in both layouts (lossless).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LABEL_ENCODINGS = ("compact", "float32")
DEPTH_UNIT = 0.001  # metres: the smallest depth_scale
FLOW_UNIT = 1.0 / 64.0  # pixels: the smallest flow_scale
NORMALS_UNIT = 1.0 / 127.0
# Each encoded array's key -> the key of its scale.
SCALE_KEYS = {
    "depth": "depth_scale",
    "forward": "flow_scale",
    "backward": "flow_scale",
    "normals": "normals_scale",
    "xyz": "xyz_scale",
    "intensity": "intensity_scale",
}


def _power_of_two_scale(unit: float, largest: float, limit: int) -> float:
    """The smallest ``unit * 2**k`` (k >= 0) with ``largest / scale`` rounding to at most
    ``limit``."""
    scale = unit
    while np.rint(largest / scale) > limit:
        scale *= 2.0
    return scale


def encode_depth(depth: np.ndarray) -> dict[str, np.ndarray]:
    """Planar depth in metres (0 = no surface) as uint16 units of ``depth_scale``; a
    surface never rounds to 0."""
    largest = float(np.max(depth, initial=0.0))
    scale = np.float32(_power_of_two_scale(DEPTH_UNIT, largest, 65535))
    stored = np.empty(np.shape(depth), np.uint16)
    for f in range(len(stored)):  # frame by frame: no float copy of the whole clip
        exact = np.asarray(depth[f], dtype=np.float32)
        units = np.rint(exact / scale)
        units[(units < 1) & (exact > 0)] = 1
        stored[f] = units
    return {"depth": stored, "depth_scale": np.array(scale)}


def encode_flow(
    forward: np.ndarray, forward_valid: np.ndarray, backward: np.ndarray, backward_valid: np.ndarray
) -> dict[str, np.ndarray]:
    """Forward and backward flow (F, H, W, 2) as planar (F, 2, H, W) int16 units of one
    ``flow_scale``, kept on valid pixels only (0 elsewhere); the masks as they are (see
    ``fixed_flow``)."""
    largest = 0.0
    for flow, valid in ((forward, forward_valid), (backward, backward_valid)):
        for f in range(len(flow)):  # frame by frame: the masked copy stays small
            if valid[f].any():
                largest = max(largest, float(np.abs(flow[f][valid[f]]).max()))
    scale = flow_scale_for(largest)
    return {
        "forward": fixed_flow(forward, forward_valid, scale),
        "forward_valid": forward_valid,
        "backward": fixed_flow(backward, backward_valid, scale),
        "backward_valid": backward_valid,
        "flow_scale": np.array(np.float32(scale)),
    }


def flow_scale_for(largest: float) -> float:
    """Compact flow's scale for a clip whose largest valid flow component is ``largest``
    pixels: 1/64 px, doubled until it fits in ±32,766 units."""
    return _power_of_two_scale(FLOW_UNIT, largest, 32766)


def fixed_flow(flow: np.ndarray, valid: np.ndarray, scale: float) -> np.ndarray:
    """Flow (F, H, W, 2) in pixels as planar (F, 2, H, W) int16 units of ``scale`` (a
    power of two), 0 where not ``valid``.

    Each component is rounded to the nearest unit, except where that would carry the
    point across the edge of the pixel it lands in (the pixel (floor(u + du + 0.5),
    floor(v + dv + 0.5)) that decided its validity): there it is rounded towards the
    inside of that pixel, strictly, so decoded flow lands on the same pixel whether it
    is rounded half up or half to even. The error is at most ``scale / 2``, or
    ``scale`` for those points within half a unit of a pixel edge.
    """
    frames, height, width, _ = flow.shape
    stored = np.zeros((frames, 2, height, width), np.int16)
    work = flow_work(height, width)
    for f in range(frames):
        fixed_flow_frame(flow[f], valid[f], scale, stored[f], work)
    return stored


def flow_work(height: int, width: int) -> tuple[np.ndarray, ...]:
    """Scratch arrays for ``fixed_flow_frame`` at one size, reused frame after frame
    (fresh ones would cost their first touch of memory in every frame)."""
    floats = [np.empty((2, height, width), np.float32) for _ in range(4)]
    return (*floats, np.empty((2, height, width), bool))


def fixed_flow_frame(
    flow: np.ndarray, valid: np.ndarray, scale: float, out: np.ndarray, work=None
) -> np.ndarray:
    """``fixed_flow`` of one frame's flow (H, W, 2) and ``valid`` (H, W), written into
    ``out`` (2, H, W) int16; ``work`` from ``flow_work`` (made here if None)."""
    height, width, _ = flow.shape
    exact, units, nearest, landed, test = work or flow_work(height, width)
    step = np.float32(scale)
    inverse = np.float32(1.0 / scale)  # x * inverse == x / step: a power of two
    with np.errstate(invalid="ignore", over="ignore"):  # only where not valid: zeroed below
        np.copyto(exact, np.moveaxis(np.asarray(flow), -1, 0), casting="same_kind")
        np.rint(np.multiply(exact, inverse, out=units), out=units)
        # The landing pixel's offset, floor(du + 0.5) (the pixel's own coordinate is an
        # integer), from the nearest integer r: float32 holds du - r exactly.
        np.rint(exact, out=nearest)
        nearest += np.equal(np.subtract(exact, nearest, out=landed), 0.5, out=test)
        # The rounded flow must land strictly inside that pixel, (r - 0.5, r + 0.5); all
        # of these are exact in float32 (multiples of the scale and of 1/2).
        np.multiply(units, step, out=landed)
        units -= np.greater_equal(landed, np.add(nearest, 0.5, out=exact), out=test)
        units += np.less_equal(landed, np.subtract(nearest, 0.5, out=exact), out=test)
        np.copyto(out, units, casting="unsafe")
    out *= np.asarray(valid, bool)
    return out


def encode_normals(normals: np.ndarray) -> dict[str, np.ndarray]:
    """Unit normals (0 = no surface) as int8 units of 1/127."""
    scale = np.float32(NORMALS_UNIT)
    stored = np.empty(np.shape(normals), np.int8)
    for f in range(len(stored)):  # frame by frame: no float32 copy of the whole clip
        units = np.rint(np.asarray(normals[f], dtype=np.float32) * np.float32(127.0))
        stored[f] = np.clip(units, -127, 127, out=units)
    return {"normals": stored, "normals_scale": np.array(scale)}


def encode_lidar(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A LiDAR's ``points.npz`` arrays with ``xyz`` as int16 units of ``xyz_scale`` (1 mm,
    doubled until the farthest coordinate fits in 32,767 units: 4 mm for a 100 m range;
    error at most half a unit) and ``intensity`` as uint8 units of 1/255 (error at most
    1/510); ids, rings and offsets as they are."""
    xyz = np.asarray(arrays["xyz"], dtype=np.float32)
    scale = np.float32(_power_of_two_scale(DEPTH_UNIT, float(np.abs(xyz).max(initial=0.0)), 32767))
    intensity = np.clip(np.asarray(arrays["intensity"], dtype=np.float32), 0.0, 1.0)
    return {
        **arrays,
        "xyz": np.rint(xyz / scale).astype(np.int16),
        "xyz_scale": np.array(scale),
        "intensity": np.rint(intensity * np.float32(255.0)).astype(np.uint8),
        "intensity_scale": np.array(np.float32(1.0 / 255.0)),
    }


def decode(data, key: str, index=slice(None)) -> np.ndarray:
    """Array ``key`` of an opened label ``.npz`` (or any mapping of arrays), frames
    ``index``, in its units and the float32 layout's axes: compact arrays are multiplied
    by their scale (float32), compact flow moved to (..., H, W, 2); float32-layout
    arrays come back as stored."""
    scale_key = SCALE_KEYS.get(key)
    value = data[key][index]
    if scale_key is None or scale_key not in data:
        return value
    if scale_key == "flow_scale":
        value = np.moveaxis(value, -3, -1)
    return value.astype(np.float32) * np.float32(data[scale_key])


def load_labels(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a label ``.npz`` in its units (see ``decode``); scale keys are
    left out."""
    with np.load(path) as data:
        scales = {SCALE_KEYS[k] for k in data.files if k in SCALE_KEYS}
        return {k: decode(data, k) for k in data.files if k not in scales}


def encode_streams(streams: dict[str, dict[str, np.ndarray]], encoding: str) -> dict:
    """A camera's label streams (file stem -> arrays, float32 layout) in ``encoding``;
    a stream that already holds its scale key is compact already and left as it is."""
    if encoding not in LABEL_ENCODINGS:
        raise ValueError(f"label encoding must be one of {LABEL_ENCODINGS}, got {encoding!r}")
    if encoding == "float32":
        return streams
    out = dict(streams)
    encoders = {"depth": encode_depth, "normals": encode_normals, "flow": encode_flow}
    for stream, arrays in streams.items():
        encoded = any(k in SCALE_KEYS.values() for k in arrays)  # encoded as rendered
        if stream in encoders and not encoded:
            out[stream] = encoders[stream](**arrays)
    return out
