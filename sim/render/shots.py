"""The render stage for one camera: every frame's colour, depth, ids, normals and
per-part coverage, with forward and backward optical flow computed as frames come out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simfactory.sim.annotate.flow import flow_from_projections
from simfactory.sim.write.encodings import (
    FLOW_UNIT,
    LABEL_ENCODINGS,
    encode_normals,
    fixed_flow_frame,
    flow_scale_for,
    flow_work,
)


@dataclass
class CameraShot:
    """Everything rendered for one camera, stacked over frames.

    With ``encoding`` ``float32`` normals and flow are held as rendered; with ``compact``
    they are held as ``write.encodings`` stores them, encoded frame by frame as frames
    come out (a clip's float flow is never held whole): normals int8 units of 1/127, flow
    planar (F, 2, H, W) int16 units of ``flow_scale``, 0 where not valid. Depth stays
    float32 in both (the labels read it)."""

    rgb: np.ndarray | None  # (F, H, W, 3) uint8; None where not kept (``keep_rgb``)
    depth: np.ndarray  # (F, H, W) float32
    instance: np.ndarray  # (F, H, W) uint16
    normals: np.ndarray  # (F, H, W, 3) float16 (compact: int8)
    unoccluded: np.ndarray  # (F, P + 1) int64
    flow_forward: np.ndarray  # (F, H, W, 2) float32 (compact: (F, 2, H, W) int16); the
    # last frame is all invalid
    flow_forward_valid: np.ndarray  # (F, H, W) bool
    flow_backward: np.ndarray  # as flow_forward; the first frame is all invalid
    flow_backward_valid: np.ndarray  # (F, H, W) bool
    encoding: str = "float32"
    flow_scale: float | None = None  # pixels per unit of compact flow
    kept_flow: dict | None = None  # compact: frame -> its float forward flow (H, W, 2),
    # for the frames asked to be kept (a preview's)


def render_camera(
    renderer, cam, K, T_wc, poses, exposure: float, times=None, present=None, cloth_vertices=(),
    on_frame=None, encoding: str = "float32", keep_flow=(), keep_rgb: bool = True,
) -> CameraShot:  # fmt: skip
    """Render every frame of one camera, with forward and backward flow computed as
    frames come out (each frame's projections into its neighbours are kept only until
    the neighbour has been rendered); ``present`` (F, P) leaves absent parts out;
    ``cloth_vertices``: each cloth's (F, V, 3); ``on_frame(rgb)`` is called with each
    frame's colour as soon as it is rendered (a video encoder fed while rendering goes
    on); ``encoding`` (see ``CameraShot``): ``compact`` holds normals and flow encoded,
    ``keep_flow`` names frames whose float forward flow is kept as well; without
    ``keep_rgb`` the colour goes to ``on_frame`` only (the shot's ``rgb`` is None).

    Compact flow is encoded at the finest scale (1/64 px) as frames come out; in the rare
    clip whose flow is too large for it (a valid component over 511.97 px: only in
    images more than 511 px wide or tall) the camera is rendered again and encoded at the
    scale the first pass found, so the stored units are those of encoding the whole
    clip's float flow at once."""
    if encoding not in LABEL_ENCODINGS:
        raise ValueError(f"label encoding must be one of {LABEL_ENCODINGS}, got {encoding!r}")
    args = (renderer, cam, K, T_wc, poses, exposure, times, present, cloth_vertices)
    if encoding == "float32":
        return _render(*args, on_frame, None, (), keep_rgb)
    shot = _render(*args, on_frame, FLOW_UNIT, keep_flow, keep_rgb)
    if shot.flow_scale != FLOW_UNIT:  # too large for the finest scale: again, at its own
        scale = shot.flow_scale
        del shot
        shot = _render(*args, None, scale, keep_flow, keep_rgb)
    return shot


def _render(
    renderer, cam, K, T_wc, poses, exposure, times, present, cloth_vertices, on_frame,
    scale: float | None, keep_flow, keep_rgb: bool,
) -> CameraShot:  # fmt: skip
    """``render_camera`` in one pass; compact flow encoded at ``scale`` (None: float32),
    the shot's ``flow_scale`` the one its largest valid flow needs."""
    F = len(poses)
    shot, prev, largest, work = None, None, 0.0, None
    for i in range(F):
        nxt, prv = min(i + 1, F - 1), max(i - 1, 0)
        cloths = tuple([v[k] for v in cloth_vertices] for k in (i, nxt, prv))
        frame = renderer.render(
            poses[i], K, T_wc[i], cam.width, cam.height, cam.near, cam.far, exposure,
            neighbours=(poses[nxt], T_wc[nxt], poses[prv], T_wc[prv]),
            time=0.0 if times is None else float(times[i]),
            present=None if present is None else present[i],
            cloths=cloths,
        )  # fmt: skip
        if shot is None:
            shot = _empty_shot(F, frame, scale, keep_flow, keep_rgb)
        shot.depth[i], shot.instance[i] = frame.depth, frame.instance
        if keep_rgb:
            shot.rgb[i] = frame.rgb
        if on_frame is not None:
            on_frame(shot.rgb[i] if keep_rgb else frame.rgb)
        shot.unoccluded[i] = frame.unoccluded_pixels
        if scale is None:
            shot.normals[i] = frame.normals
        else:
            shot.normals[i] = encode_normals(frame.normals[None])["normals"][0]
        if prev is None:
            prev = frame
            continue
        if getattr(renderer, "gpu_flow", False):  # the same values
            forward, forward_valid, backward, backward_valid = renderer.flows()
        else:
            forward, forward_valid = flow_from_projections(
                prev.instance, prev.depth, prev.uv_next_prev[..., 0:2], prev.z_next_prev[..., 0],
                frame.instance, frame.depth,
            )  # fmt: skip
            backward, backward_valid = flow_from_projections(
                frame.instance, frame.depth, frame.uv_next_prev[..., 2:4],
                frame.z_next_prev[..., 1], prev.instance, prev.depth,
            )  # fmt: skip
        shot.flow_forward_valid[i - 1], shot.flow_backward_valid[i] = forward_valid, backward_valid
        if scale is None:
            shot.flow_forward[i - 1], shot.flow_backward[i] = forward, backward
        else:
            for flow, valid in ((forward, forward_valid), (backward, backward_valid)):
                largest = max(largest, _largest_valid(flow, valid))
            if flow_scale_for(largest) != scale:  # out of range: this pass is redone
                prev = frame
                continue
            work = work or flow_work(*frame.depth.shape)
            fixed_flow_frame(forward, forward_valid, scale, shot.flow_forward[i - 1], work)
            fixed_flow_frame(backward, backward_valid, scale, shot.flow_backward[i], work)
            if i - 1 in shot.kept_flow:
                shot.kept_flow[i - 1] = forward
        prev = frame
    if scale is not None:
        shot.flow_scale = flow_scale_for(largest)
    return shot


def _largest_valid(flow: np.ndarray, valid: np.ndarray) -> float:
    """The largest valid flow component (px) of a frame (0 where none is valid), or a
    bound of it over every pixel where that bound needs only the finest scale: all that
    ``flow_scale_for`` tells apart, without the cost of a mask."""
    magnitude = np.abs(flow)
    bound = float(np.max(magnitude, initial=0.0))
    if np.isfinite(bound) and flow_scale_for(bound) == flow_scale_for(0.0):
        return bound
    return float(np.max(magnitude, where=valid[..., None], initial=0.0))


def _empty_shot(
    num_frames: int, frame, scale: float | None, keep_flow, keep_rgb: bool
) -> CameraShot:
    """A camera's arrays for ``num_frames`` frames shaped like ``frame``, filled as frames
    are rendered (stacking them at the end would hold every frame twice), normals and
    flow compact where ``scale`` is given; flow is zero and invalid where a frame has no
    neighbour (a kept frame without one keeps zero flow)."""
    height, width = frame.depth.shape

    def like(a: np.ndarray, dtype=None) -> np.ndarray:
        return np.zeros((num_frames, *a.shape), dtype or a.dtype)

    if scale is None:
        flows = [np.zeros((num_frames, height, width, 2), np.float32) for _ in range(2)]
    else:
        flows = [np.zeros((num_frames, 2, height, width), np.int16) for _ in range(2)]
    return CameraShot(
        rgb=like(frame.rgb) if keep_rgb else None,
        depth=like(frame.depth),
        instance=like(frame.instance),
        normals=like(frame.normals, None if scale is None else np.int8),
        unoccluded=like(np.asarray(frame.unoccluded_pixels)),
        flow_forward=flows[0],
        flow_forward_valid=np.zeros((num_frames, height, width), bool),
        flow_backward=flows[1],
        flow_backward_valid=np.zeros((num_frames, height, width), bool),
        encoding="float32" if scale is None else "compact",
        kept_flow=None if scale is None else {
            int(k): np.zeros((height, width, 2), np.float32) for k in keep_flow
        },
    )  # fmt: skip
