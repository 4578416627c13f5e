"""The render stage for one camera: every frame's colour, depth, ids, normals and
per-part coverage, with forward and backward optical flow computed as frames come out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simfactory.sim.annotate.flow import flow_from_projections


@dataclass
class CameraShot:
    """Everything rendered for one camera, stacked over frames."""

    rgb: np.ndarray  # (F, H, W, 3) uint8
    depth: np.ndarray  # (F, H, W) float32
    instance: np.ndarray  # (F, H, W) uint16
    normals: np.ndarray  # (F, H, W, 3) float16
    unoccluded: np.ndarray  # (F, P + 1) int64
    flow_forward: np.ndarray  # (F, H, W, 2) float32; the last frame is all invalid
    flow_forward_valid: np.ndarray  # (F, H, W) bool
    flow_backward: np.ndarray  # (F, H, W, 2) float32; the first frame is all invalid
    flow_backward_valid: np.ndarray  # (F, H, W) bool


def render_camera(
    renderer, cam, K, T_wc, poses, exposure: float, times=None, present=None, cloth_vertices=(),
    on_frame=None,
) -> CameraShot:  # fmt: skip
    """Render every frame of one camera, with forward and backward flow computed as
    frames come out (each frame's projections into its neighbours are kept only until
    the neighbour has been rendered); ``present`` (F, P) leaves absent parts out;
    ``cloth_vertices``: each cloth's (F, V, 3); ``on_frame(rgb)`` is called with each
    frame's colour as soon as it is rendered (a video encoder fed while rendering goes
    on)."""
    F = len(poses)
    shot, prev = None, None
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
            shot = _empty_shot(F, frame)
        shot.rgb[i], shot.depth[i], shot.instance[i] = frame.rgb, frame.depth, frame.instance
        if on_frame is not None:
            on_frame(shot.rgb[i])
        shot.normals[i], shot.unoccluded[i] = frame.normals, frame.unoccluded_pixels
        if prev is not None and getattr(renderer, "gpu_flow", False):  # the same values
            (
                shot.flow_forward[i - 1], shot.flow_forward_valid[i - 1],
                shot.flow_backward[i], shot.flow_backward_valid[i],
            ) = renderer.flows()  # fmt: skip
        elif prev is not None:
            shot.flow_forward[i - 1], shot.flow_forward_valid[i - 1] = flow_from_projections(
                prev.instance, prev.depth, prev.uv_next_prev[..., 0:2], prev.z_next_prev[..., 0],
                frame.instance, frame.depth,
            )  # fmt: skip
            shot.flow_backward[i], shot.flow_backward_valid[i] = flow_from_projections(
                frame.instance, frame.depth, frame.uv_next_prev[..., 2:4],
                frame.z_next_prev[..., 1], prev.instance, prev.depth,
            )  # fmt: skip
        prev = frame
    return shot


def _empty_shot(num_frames: int, frame) -> CameraShot:
    """A camera's arrays for ``num_frames`` frames shaped like ``frame``, filled as frames
    are rendered (stacking them at the end would hold every frame twice); flow is zero
    and invalid where a frame has no neighbour."""
    height, width = frame.depth.shape

    def like(a: np.ndarray) -> np.ndarray:
        return np.zeros((num_frames, *a.shape), a.dtype)

    return CameraShot(
        rgb=like(frame.rgb),
        depth=like(frame.depth),
        instance=like(frame.instance),
        normals=like(frame.normals),
        unoccluded=like(np.asarray(frame.unoccluded_pixels)),
        flow_forward=np.zeros((num_frames, height, width, 2), np.float32),
        flow_forward_valid=np.zeros((num_frames, height, width), bool),
        flow_backward=np.zeros((num_frames, height, width, 2), np.float32),
        flow_backward_valid=np.zeros((num_frames, height, width), bool),
    )
