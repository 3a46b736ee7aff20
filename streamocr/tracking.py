"""Following grids between frames: optical flow, detections fused in, track identity and loss.

Each track follows one grid. Between frames, feature points inside the grid are followed
with pyramidal Lucas-Kanade flow (forward and backward, to drop points that slid), and the
frame-to-frame homography fitted to them (RANSAC) moves the grid's corners: the outline
follows a moving page at once and stays still on a still one. A detection, when one runs,
is matched to a track and pulls its corners part of the way (`corner_gain`), which keeps
the flow from drifting while damping the detector's own sub-pixel noise; a detection far
from every track starts a new one.

A track keeps the corner order of its first detection: the corners of later detections are
rotated to match, so cell order (and the orientation a reader decided) stays fixed for the
life of the track. The tracker knows nothing of digits.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .geometry import quad_side, quad_sides
from .grid import at_edge, homography_for, overlap_share
from .preprocess import ink_gray
from .types import GridDetection
from .verify import OutlineVerifier

if TYPE_CHECKING:
    from .config import TrackingSettings

_LK_PARAMS = {
    "winSize": (21, 21),
    "maxLevel": 3,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03),
}
_FB_MAX_PX = 1.0  # forward-backward flow disagreement above which a point is dropped
_SEED_POINTS = 80  # feature points seeded inside a grid (the flow costs per point: 160 cost 1.5x)
_RESEED_EVERY = 10  # frames between re-seeding a track's points
_STILL_PX = 0.08  # a frame-to-frame corner motion below this is sensor noise: not applied
_NEAR_SHARE = 0.03  # a detection this close (share of the side) to a track simply corrects it
_BOX_SHARE = 0.25  # a track within another, this share of its area or less, is one of its boxes
_RIVAL_SHARE = 0.2  # tracks overlapping by more (of the smaller) cannot both be grids
_FAST_PX = 4.0  # flow-scale pixels a frame above which the flow is also started ahead
_SLIP_SHARE = 0.1  # ... where its motion differs from the last frame's by this share of a side
# Sides carried by flow alone after which a grid is not drawn on. 1.5 until 2026-11-30:
# on the 140 footage clips of sets M-S every reading drawn more than half a cell off its
# page (7 frames, pages whipped in or out of view, smeared 0.5-1.7 cells, the verifier
# failing on 3-6 frames in a row) had been carried 0.95-1.45 sides; at 0.9 none is drawn,
# for 48 right frames (0.3% of the in-view frames) shown one or two frames later.
_ADRIFT_SIDES = 0.9
# A grid the flow moved this share of its side in one frame (1.8 cells) since it was last
# found is not drawn on from its second frame unfound: a page swept out of view smears,
# the verifier loses it, and the flow's points slip or stick at the frame's edge (4
# readings drawn over half a cell off, on 200 footage clips, sets M-W; 64 right frames,
# 0.3%, not shown).
_SWEPT_SIDES = 0.2
_SWEPT_MISSED = 2
_ZOOM_LIMITS = (0.87, 1.15)  # a flow step scaling the grid beyond these loses it
_FLOW_MAX_SIDE = 640  # flow runs on the frame shrunk to this longer side (cost not per pixel)
# A page jerked away faster than the flow can follow: its grid is found again by matching
# it, shrunk and blurred until its lattice is gone (`_jump`), before the flow starts there.
_JUMP_SIDE_PX = 36.0  # the grid's side when matched (4 pixels a cell: the lattice is averaged out)
_JUMP_REACH = 0.6  # sides the grid may have jumped in one frame
_JUMP_MATCH = 0.8  # least normalised correlation of the match
_JUMP_MARGIN = 0.15  # ... and how far above the best match elsewhere


@dataclass(frozen=True)
class TrackedGrid:
    """One grid in one frame, as tracked.

    Attributes:
        track_id: stable id of the grid while it stays in view (new grid, new id; a grid
            carried by `_jump` gets a new id once found again at rest).
        detection: where the grid lies, corners in the track's own fixed order.
        detected: whether a detection matched the grid in this frame.
        established: whether enough detections agreed for the grid to be shown.
        visible: bool (81,), cells lying wholly inside the frame, in the track's order.
        measured: this frame's own detection of the grid, in the track's order, when one
            matched; None otherwise. `detection` is smoothed for a steady overlay and lags
            a moving page a little; cells are cut more exactly along `measured`.
        in_doubt: the grid may not be where its outline lies, and nothing is drawn on it
            until a search or the verifier finds it again: a search found a grid
            overlapping it and did not find it (the two cannot both be where a grid is;
            in a sudden move the flow can slip a few cells along the lattice), or the flow
            alone has carried it more than `_ADRIFT_SIDES` of its side since it was last
            found (the flow's small errors add up, and a page whipped out of view or back
            is followed a cell off before the verifier finds it again), or it has gone
            unfound for `_SWEPT_MISSED` frames since the flow moved it `_SWEPT_SIDES` of
            its side in one frame (a page swept out of view: smeared, its points slip or
            stick at the frame's edge).
    """

    track_id: int
    detection: GridDetection
    detected: bool
    established: bool
    visible: np.ndarray = field(repr=False)
    measured: GridDetection | None = field(default=None, repr=False)
    in_doubt: bool = False

    @property
    def cut(self) -> GridDetection:
        """The outline to cut cells along: this frame's detection, else the tracked one."""
        return self.measured if self.measured is not None else self.detection


@dataclass
class _Track:
    track_id: int
    corners: np.ndarray  # float32 (4, 2), the track's own order
    score: float
    points: np.ndarray | None = None  # float32 (N, 1, 2) flow points in the last frame
    detections: int = 1
    missed_frames: int = 0
    since_seed: int = 0
    measured: np.ndarray | None = None  # this frame's matched detection, track order
    doubted: np.ndarray | None = None  # offset of a far detection not yet confirmed
    contested: bool = False  # a search found another grid over it, none found it since
    velocity: np.ndarray | None = None  # the flow's last motion of the grid, flow-scale px
    adrift: float = 0.0  # sides the flow alone has carried it since it was last found
    swept: float = 0.0  # the longest step (sides) the flow carried it since it was last found
    jumped: bool = False  # carried by a `_jump` since it was last found


def roll_to_match(corners: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    """Rotate the corner order of `corners` to best match `reference`.

    Returns:
        The rolled corners and their mean distance to `reference` in pixels.
    """
    pts = np.asarray(corners, np.float64).reshape(4, 2).tolist()
    ref = np.asarray(reference, np.float64).reshape(4, 2).tolist()
    best_k, best_d = 0, math.inf
    for k in range(4):
        d = sum(
            math.hypot(pts[(i + k) % 4][0] - rx, pts[(i + k) % 4][1] - ry)
            for i, (rx, ry) in enumerate(ref)
        )
        if d / 4 < best_d:
            best_k, best_d = k, d / 4
    return np.roll(np.asarray(corners, np.float32), -best_k, axis=0), best_d


def visible_share(corners: np.ndarray, width: int, height: int) -> float:
    """Share of the quadrilateral's area inside the image rectangle."""
    quad = corners.astype(np.float32)
    area = abs(cv2.contourArea(quad))
    if area <= 1e-6:
        return 0.0
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    inter, _ = cv2.intersectConvexConvex(quad, frame)
    return float(inter / area)


# The crossings of a 90-pixel grid's lines, row by row (read only).
_LATTICE = (
    np.stack(np.meshgrid(np.arange(10), np.arange(10)), axis=-1).reshape(-1, 1, 2) * 10.0
).astype(np.float32)
_LATTICE.flags.writeable = False


def visible_cells(corners: np.ndarray, width: int, height: int) -> np.ndarray:
    """bool (81,): the cells of the grid (row by row from corner 0) wholly inside the image."""
    points = cv2.perspectiveTransform(_LATTICE, homography_for(corners, 90))
    points = points.reshape(10, 10, 2)
    inside = (points[..., 0] >= 0) & (points[..., 0] <= width - 1)
    inside &= (points[..., 1] >= 0) & (points[..., 1] <= height - 1)
    cells = inside[:-1, :-1] & inside[1:, :-1] & inside[:-1, 1:] & inside[1:, 1:]
    return cells.reshape(81)


def _plausible(corners: np.ndarray, width: int, height: int) -> bool:
    """A convex, not degenerate quadrilateral of a sane size."""
    if not np.isfinite(corners).all():
        return False
    quad = corners.astype(np.float32).reshape(-1, 1, 2)
    if not cv2.isContourConvex(quad):
        return False
    sides = quad_sides(corners)
    if min(sides) < 0.25 * max(sides) or min(sides) < 8:
        return False
    return sum(sides) / 4 < 4 * max(width, height)


class GridTracker:
    """Follows grids from frame to frame; `update` once per frame, in order.

    Args:
        warp_size: side of the warped grid of the detections it hands on.
        max_grids: most grids followed at once.
        confirm_detections: detections before a new track is `established`.
        max_missed_frames: frames a track lives on flow alone, without a matching detection.
        min_visible_share: below this share of its area in the frame a track is dropped.
        corner_gain: how far a matching detection pulls the tracked corners (0..1).
        jump_share: a detection further than this share of the side is another grid.
        min_points: fewest flow points that carry a track between detections.
        verifier: checks each followed grid on frames the full search skips
            (`streamocr.verify`); a verified outline counts as this frame's detection of
            the grid. None: flow alone carries the grid between searches.

    Example:
        >>> tracker = GridTracker(warp_size=360)
        >>> grids = tracker.update(image, finder.detect_all(image))  # or None: flow only
    """

    def __init__(
        self,
        warp_size: int = 360,
        max_grids: int = 4,
        confirm_detections: int = 2,
        max_missed_frames: int = 30,
        min_visible_share: float = 0.5,
        corner_gain: float = 0.3,
        jump_share: float = 0.2,
        min_points: int = 12,
        verifier: OutlineVerifier | None = None,
    ) -> None:
        self.warp_size = warp_size
        self.max_grids = max_grids
        self.confirm_detections = confirm_detections
        self.max_missed_frames = max_missed_frames
        self.min_visible_share = min_visible_share
        self.corner_gain = corner_gain
        self.jump_share = jump_share
        self.min_points = min_points
        self.verifier = verifier
        self._tracks: list[_Track] = []
        self._prev_gray: np.ndarray | None = None
        self._next_id = 0
        self._size: tuple[int, int] | None = None  # the last frame's (width, height)

    @classmethod
    def from_settings(cls, settings: TrackingSettings, warp_size: int = 360) -> GridTracker:
        """The tracker configured by the `[tracking]` section."""
        return cls(
            warp_size=warp_size,
            max_grids=settings.max_grids,
            confirm_detections=settings.confirm_detections,
            max_missed_frames=settings.max_missed_frames,
            min_visible_share=settings.min_visible_share,
            corner_gain=settings.corner_gain,
            jump_share=settings.jump_share,
            min_points=settings.min_points,
        )

    @property
    def tracking(self) -> bool:
        """Whether any grid is being followed."""
        return bool(self._tracks)

    @property
    def acquiring(self) -> bool:
        """Whether a followed grid still waits for the detections that establish it."""
        return any(t.detections < self.confirm_detections for t in self._tracks)

    @property
    def needs_search(self) -> bool:
        """Whether the next frame wants the full search: nothing followed, a grid still
        being established, or one that the last frame did not find or verify."""
        return (
            any(t.detections < self.confirm_detections or t.missed_frames for t in self._tracks)
            or not self._tracks
        )

    @property
    def missed_only_at_edge(self) -> bool:
        """Whether the grids the last frame did not find or verify are all established and
        reach the frame's edge: the verifier cannot check a border out of view, so only the
        full search finds them again (optical flow carries them meanwhile)."""
        missed = [t for t in self._tracks if t.missed_frames]
        if not missed or self._size is None:
            return False
        width, height = self._size
        return all(
            t.detections >= self.confirm_detections and at_edge(t.corners, width, height)
            for t in missed
        )

    def reset(self) -> None:
        """Forget every track (a cut, a new source)."""
        self._tracks = []
        self._prev_gray = None

    def update(
        self,
        image: np.ndarray,
        detections: list[GridDetection] | None = None,
        late: list[GridDetection] | None = None,
    ) -> list[TrackedGrid]:
        """Follow the grids into `image`; fuse `detections` when the frame was searched.

        Args:
            image: the frame, BGR or gray.
            detections: the grids found in this frame, or None when no search ran: the
                grids are then followed by flow and, with a verifier, checked where the
                flow put them. An empty list means the search ran and found nothing.
            late: with `detections` None and a verifier, the grids a search of an earlier
                frame found (a search on another thread): each is checked by the verifier
                where it lies in this frame and may start a track; one at the frame's edge,
                which the verifier cannot check, only re-anchors a grid already followed.

        Returns:
            The grids in this frame, largest first.
        """
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        height, width = gray.shape
        self._size = (width, height)
        # The flow follows texture a few pixels across: a 720p or 1080p frame shrunk to
        # `_FLOW_MAX_SIDE` keeps it, and the flow then costs the same at any resolution.
        scale = min(1.0, _FLOW_MAX_SIDE / max(height, width))
        if scale < 1.0:
            size = (round(width * scale), round(height * scale))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        if self._prev_gray is not None and self._prev_gray.shape == gray.shape:
            self._tracks = [t for t in self._tracks if self._flow(t, self._prev_gray, gray, scale)]
        else:
            self._tracks = []
        matched: set[int] = set()
        for track in self._tracks:
            track.measured = None
        if detections is None and self.verifier is not None and (self._tracks or late):
            ink = ink_gray(image)
            verified = [self.verifier.verify(ink, t.corners) for t in self._tracks]
            checked = [d for d in verified if d is not None]
            if late:
                checked += self._bring(ink, late, checked)
                matched = self._fuse(checked)
                self._settle_contests(matched)
            else:
                matched = self._fuse(checked, start_tracks=False)
        elif detections is not None:
            matched = self._fuse(detections)
            self._settle_contests(matched)
        survivors = []
        for track in self._tracks:
            if track.track_id in matched:
                track.missed_frames = 0
            else:
                track.missed_frames += 1
            if track.missed_frames > self.max_missed_frames:
                continue
            if not _plausible(track.corners, width, height):
                continue
            if visible_share(track.corners, width, height) < self.min_visible_share:
                continue
            track.since_seed += 1
            if (
                track.points is None
                or len(track.points) < 3 * self.min_points
                or track.since_seed >= _RESEED_EVERY
                or track.track_id in matched
            ):
                track.points = _seed_points(gray, track.corners * np.float32(scale))
                track.since_seed = 0
            survivors.append(track)
        self._tracks = survivors
        for track in survivors:
            # A contest ends when a search or the verifier finds this track's grid again
            # (its rival ending proves nothing: the flow may have carried it astray).
            track.contested = track.contested and track.track_id not in matched
            if track.track_id in matched:
                track.adrift = track.swept = 0.0
                if track.jumped and not _fast(track.velocity):
                    # What the jump matched was the shape of a grid, not its page: found
                    # again once the page has come to rest (a sharp frame), the grid is a
                    # new one to the stabiliser, whose recall shows the page's reading
                    # again as soon as that frame reads as before.
                    track.track_id, track.jumped = self._next_id, False
                    matched.add(self._next_id)
                    self._next_id += 1
        self._prev_gray = gray
        grids = [
            TrackedGrid(
                track_id=t.track_id,
                detection=GridDetection(
                    t.corners.copy(),
                    homography_for(t.corners, self.warp_size),
                    self.warp_size,
                    t.score,
                ),
                detected=t.track_id in matched,
                established=t.detections >= self.confirm_detections,
                visible=visible_cells(t.corners, width, height),
                measured=None
                if t.measured is None
                else GridDetection(
                    t.measured, homography_for(t.measured, self.warp_size), self.warp_size, t.score
                ),
                in_doubt=t.contested
                or t.adrift > _ADRIFT_SIDES
                or (t.missed_frames >= _SWEPT_MISSED and t.swept > _SWEPT_SIDES),
            )
            for t in self._tracks
        ]
        grids.sort(key=lambda g: g.detection.area, reverse=True)
        return grids

    def _bring(
        self, ink: np.ndarray, late: list[GridDetection], checked: list[GridDetection]
    ) -> list[GridDetection]:
        """The grids of an earlier frame's search where they lie in this one: each checked
        by the verifier (none is kept that the tracks' own checks already found); one at
        the frame's edge only where it overlaps a followed grid (it re-anchors it)."""
        assert self.verifier is not None
        height, width = ink.shape[:2]
        brought = []
        for detection in late:
            if at_edge(detection.corners, width, height):
                if any(overlap_share(detection.corners, t.corners) > 0.5 for t in self._tracks):
                    brought.append(detection)
                continue
            found = self.verifier.verify(ink, detection.corners)
            if found is None:
                continue
            if any(overlap_share(found.corners, d.corners) > 0.5 for d in checked + brought):
                continue  # a followed grid, already checked this frame
            brought.append(found)
        return brought

    def _flow(self, track: _Track, prev: np.ndarray, gray: np.ndarray, scale: float) -> bool:
        """Move the track's corners by the flow of its points; False when it is lost.

        `prev` and `gray` are the frames at `scale` of their size, where the track's points
        live. The flow runs on the grid's surroundings only (`_flow_region`): its image
        pyramids then cost the grid's pixels, not the whole frame's.
        """
        if track.points is None or len(track.points) < self.min_points:
            return False
        corners = track.corners * np.float32(scale)
        x0, y0, x1, y1 = _flow_region(corners, gray.shape)
        prev, gray = prev[y0:y1, x0:x1], gray[y0:y1, x0:x1]
        offset = np.float32([x0, y0])
        points = track.points - offset
        moved, good = _follow(prev, gray, points)
        side = quad_side(corners)
        slip = _SLIP_SHARE * side  # how far the points may stray from one motion
        # The grid's coarse look, asked for by either rule below: worked out once.
        coarse_jump = functools.cache(lambda: _jump(prev, gray, corners - offset, side))
        velocity = track.velocity
        if velocity is not None and _fast(velocity):
            # A page moving fast: the flow started where the points were can stick on
            # the smeared lattice, or slip along it by a few cells, while the page moves
            # on. Where it says the page stopped or turned within one frame, the flow is
            # started again where the last frame's motion would put the points, and kept
            # if it holds and goes on with that motion, unless the grid's coarse look
            # (`_jump`, blind to the lattice) says the page did stop (a hand that jerked a
            # page and holds it still: started ahead, the flow holds on the lattice a few
            # cells on).
            if not _goes_on(moved, good, points, velocity, slip):
                ahead, held = _follow(prev, gray, points, velocity)
                if held.sum() >= self.min_points and _goes_on(ahead, held, points, velocity, slip):
                    jump = coarse_jump()
                    if jump is None or _goes_on(ahead, held, points, jump, slip):
                        moved, good = ahead, held
        if good.sum() < max(self.min_points, len(points) // 2):
            # Most points lost: a hand jerking the page away (tens of pixels in a frame,
            # smeared)? The flow is started again where the grid's coarse look went, and
            # kept if more points hold there and they agree with that jump.
            jump = coarse_jump()
            if jump is not None:
                ahead, held = _follow(prev, gray, points, jump)
                if held.sum() >= max(self.min_points, good.sum() + 1) and _goes_on(
                    ahead, held, points, jump, slip
                ):
                    moved, good = ahead, held
                    track.jumped = True
        if good.sum() < self.min_points:
            return False
        moved += offset
        src, dst = track.points[good], moved[good]
        step, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 1.5)
        if step is None or inliers is None or int(inliers.sum()) < self.min_points:
            return False
        moved_corners = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), step).reshape(4, 2)
        side = max(side, 1.0)
        if not _ZOOM_LIMITS[0] <= quad_side(moved_corners) / side <= _ZOOM_LIMITS[1]:
            # A hand does not zoom the page this much in one frame: points left in one
            # corner of a grid leaving the view extrapolated into a wrong outline.
            return False
        track.velocity = (moved_corners - corners).mean(axis=0).astype(np.float32)
        step_sides = float(np.linalg.norm(track.velocity)) / side
        track.adrift += step_sides
        track.swept = max(track.swept, step_sides)
        if np.abs(moved_corners - corners).max() >= _STILL_PX:
            track.corners = (moved_corners / scale).astype(np.float32)
        keep = inliers.reshape(-1).astype(bool)
        track.points = dst[keep].reshape(-1, 1, 2).astype(np.float32)
        return True

    def _fuse(self, detections: list[GridDetection], start_tracks: bool = True) -> set[int]:
        """Match detections to tracks, correct matched tracks, start new ones (unless not
        `start_tracks`: verified outlines only ever confirm the tracks they came from)."""
        matched: set[int] = set()
        pairs = []
        for di, det in enumerate(detections):
            for track in self._tracks:
                rolled, dist = roll_to_match(det.corners, track.corners)
                pairs.append((dist / max(quad_side(track.corners), 1.0), di, track, rolled))
        pairs.sort(key=lambda p: p[0])
        used: set[int] = set()
        for share, di, track, rolled in pairs:
            if di in used or track.track_id in matched or share > self.jump_share:
                continue
            used.add(di)
            offset = rolled - track.corners
            gain = self.corner_gain
            if share >= _NEAR_SHARE:
                # Far from where the flow put the grid: either the flow went astray or the
                # search found an outline shifted by a cell or so (noise, a neighbouring
                # box). A second search agreeing decides: snap to it; until then the flow
                # is kept and this frame counts as not searched.
                doubted, track.doubted = track.doubted, offset
                side = max(quad_side(track.corners), 1.0)
                if doubted is None or np.abs(offset - doubted).max() > _NEAR_SHARE * side:
                    continue
                gain = 1.0
            track.doubted = None
            matched.add(track.track_id)
            track.corners = (track.corners + gain * offset).astype(np.float32)
            track.measured = rolled.astype(np.float32)
            track.score = detections[di].score
            track.detections += 1
        for di, det in enumerate(detections):
            if di in used or not start_tracks:
                continue
            # A detection over a track but far from its corners is either the grid having
            # jumped (a swapped page, a cut) or one misplaced outline (a dim frame whose
            # noise mimics grid lines). It starts a contending track; which of the two
            # lives is settled by the next searches (`_settle_contests`), and meanwhile
            # the old track follows its grid by flow, not drawn on (`in_doubt`): one
            # stray outline costs the frames until the next search.
            if len(self._tracks) >= self.max_grids:
                continue
            corners = det.corners.astype(np.float32)
            self._tracks.append(_Track(self._next_id, corners, det.score, measured=corners))
            matched.add(self._next_id)
            self._next_id += 1
        return matched

    def _settle_contests(self, matched: set[int]) -> None:
        """Resolve tracks that overlap: a newcomer over an established track.

        A newcomer matched again until established wins: the older tracks it overlaps end
        (the grid did jump). A track not yet established, over an established one, that
        the search did not confirm again ends: a stray outline, or a first outline of a
        grid coming into view that a better one has replaced.

        A 3x3 box of a grid looks like a small grid (thick border, lines, digits), and a
        blurred frame may outline the box and not the grid: a track lying inside a much
        larger one that is established or was found in this search is one of its boxes,
        never a puzzle of its own. It ends, and never ends the grid around it (nor its
        first outline, followed by flow until the search finds it again).

        Any other track that a grid found in this search overlaps, and that the search did
        not find again, is in doubt: one found by one search only ends; an established one
        is not drawn on (`contested`) until a search or the verifier finds it again.
        """
        established = [t for t in self._tracks if t.detections >= self.confirm_detections]
        containers = [
            t
            for t in self._tracks
            if t.track_id in matched or t.detections >= self.confirm_detections
        ]
        doomed = {
            t.track_id
            for t in self._tracks
            if any(_inside(t.corners, o.corners) for o in containers if o is not t)
        }
        for track in self._tracks:
            if track.track_id in doomed:
                continue
            rivals = [
                o.track_id
                for o in established
                if o is not track
                and o.track_id not in doomed
                and overlap_share(o.corners, track.corners) > _RIVAL_SHARE
                and not _inside(o.corners, track.corners)  # a box is no rival of its grid
            ]
            if not rivals:
                continue
            if track.detections < self.confirm_detections:
                if track.track_id not in matched:
                    doomed.add(track.track_id)
            elif track.track_id in matched:
                doomed.update(r for r in rivals if r < track.track_id)
        # A grid this search found over a followed one that it did not find again: one of
        # the two is not where a grid is (in a sudden move the flow can slip along the
        # lattice by a few cells). One not yet established ends; an established one is
        # not drawn on until the searches tell which (`TrackedGrid.in_doubt`).
        found = [t for t in self._tracks if t.track_id in matched and t.track_id not in doomed]
        for track in self._tracks:
            if track.track_id in matched or track.track_id in doomed:
                continue
            if not any(
                overlap_share(o.corners, track.corners) > _RIVAL_SHARE
                and not _inside(o.corners, track.corners)
                and not _inside(track.corners, o.corners)
                for o in found
            ):
                continue
            if track.detections < self.confirm_detections:
                doomed.add(track.track_id)
            else:
                track.contested = True
        if doomed:
            self._tracks = [t for t in self._tracks if t.track_id not in doomed]


def _inside(small: np.ndarray, big: np.ndarray) -> bool:
    """Whether the quad `small` lies within `big` and is a quarter of its area or less."""
    small_area = cv2.contourArea(small.astype(np.float32))
    if small_area > _BOX_SHARE * cv2.contourArea(big.astype(np.float32)):
        return False
    return overlap_share(small, big) >= 0.8


def _fast(velocity: np.ndarray | None) -> bool:
    """Whether a track's last motion (flow-scale pixels a frame) is fast (`_FAST_PX`)."""
    return velocity is not None and float(np.abs(velocity).max()) > _FAST_PX


def _goes_on(
    moved: np.ndarray, good: np.ndarray, points: np.ndarray, velocity: np.ndarray, slip: float
) -> bool:
    """Whether the held points' median motion is within `slip` of `velocity`."""
    if not good.any():
        return False
    motion = np.median((moved - points).reshape(-1, 2)[good], axis=0)
    return float(np.abs(motion - velocity).max()) <= slip


def _follow(
    prev: np.ndarray, gray: np.ndarray, points: np.ndarray, shift: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Points of `prev` followed into `gray` by pyramidal Lucas-Kanade, and which of them
    hold (found both ways, back within `_FB_MAX_PX` of where they started); with `shift`,
    the flow starts from each point moved by it."""
    if shift is None:
        moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, gray, points, None, **_LK_PARAMS)
        back, back_status, _ = cv2.calcOpticalFlowPyrLK(gray, prev, moved, None, **_LK_PARAMS)
    else:
        step = np.asarray(shift, np.float32).reshape(1, 1, 2)
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            prev, gray, points, points + step, flags=flags, **_LK_PARAMS
        )
        back, back_status, _ = cv2.calcOpticalFlowPyrLK(
            gray, prev, moved, moved - step, flags=flags, **_LK_PARAMS
        )
    slid = (back - points).reshape(-1, 2)
    fb = np.sqrt((slid * slid).sum(axis=1))
    good = (status.reshape(-1) == 1) & (back_status.reshape(-1) == 1) & (fb < _FB_MAX_PX)
    return moved, good


def _jump(
    prev: np.ndarray, gray: np.ndarray, corners: np.ndarray, side: float
) -> np.ndarray | None:
    """Where the grid inside `corners` in `prev` went in `gray`, as one shift (x, y), or
    None when no place matches it clearly.

    Both frames are shrunk to `_JUMP_SIDE_PX` pixels a grid side and blurred: the lattice,
    whose repeats alias any match of the sharp grid by a cell, is then an even gray, and
    what is matched is the grid's coarse look (its box lines and border, its digits, the
    page in its corners), which a frame's motion blur hardly changes at that scale. That
    tells a grid from the rest of the frame, not one puzzle from another: a grid of another
    layout matches at 0.82-0.84 (hence the new id of a jumped track, `GridTracker.update`).
    """
    factor = min(1.0, _JUMP_SIDE_PX / max(side, 1.0))
    small = [
        cv2.GaussianBlur(
            cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), (0, 0), 1.5
        ).astype(np.float32)
        for image in (prev, gray)
    ]
    height, width = small[0].shape[:2]
    x0, y0 = np.floor(corners.min(axis=0) * factor).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0) * factor).astype(int)
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height or min(x1 - x0, y1 - y0) < 8:
        return None  # a grid partly out of view: its coarse look is not all there
    template = small[0][y0:y1, x0:x1]
    reach = round(_JUMP_REACH * side * factor)
    rx0, ry0 = max(0, x0 - reach), max(0, y0 - reach)
    region = small[1][ry0 : y1 + reach, rx0 : x1 + reach]
    if region.shape[0] <= template.shape[0] or region.shape[1] <= template.shape[1]:
        return None
    match = cv2.matchTemplate(region, template, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(match)
    if bx in (0, match.shape[1] - 1) or by in (0, match.shape[0] - 1):
        return None  # the best place at the edge of those looked at: the grid may be beyond
    near = max(2, round(side * factor / 9))  # a cell around the best place
    match[max(0, by - near) : by + near + 1, max(0, bx - near) : bx + near + 1] = -1.0
    if best < _JUMP_MATCH or best - float(match.max()) < _JUMP_MARGIN:
        return None
    return np.float32([(bx + rx0 - x0) / factor, (by + ry0 - y0) / factor])


def _flow_region(corners: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the part of the frame a grid's flow looks at.

    The grid's bounding box grown by a quarter of its side, and at least by the reach of
    the flow's coarsest pyramid level (window times 2^levels): no motion the flow could
    follow on the whole frame leaves it.
    """
    height, width = shape[:2]
    reach = _LK_PARAMS["winSize"][0] * 2 ** _LK_PARAMS["maxLevel"]
    margin = max(reach, 0.25 * quad_side(corners))
    low = np.floor(corners.min(axis=0) - margin).astype(int)
    high = np.ceil(corners.max(axis=0) + margin).astype(int)
    x0, y0 = max(0, low[0]), max(0, low[1])
    x1, y1 = min(width, max(high[0], x0 + 1)), min(height, max(high[1], y0 + 1))
    return int(x0), int(y0), int(x1), int(y1)


def _seed_points(gray: np.ndarray, corners: np.ndarray) -> np.ndarray | None:
    """Strong corners (line crossings, digit strokes) inside the grid, to follow by flow.

    Only the grid's bounding box (and a margin for the corner detector's window) is
    searched: the same points as over the whole frame masked to the grid, at the cost of
    the grid's pixels rather than the frame's.
    """
    height, width = gray.shape
    quad = np.round(corners).astype(np.int32)
    pad = 8
    x0, y0 = np.maximum(quad.min(axis=0) - pad, 0)
    x1, y1 = np.minimum(quad.max(axis=0) + pad + 1, (width, height))
    if x1 - x0 < 2 * pad or y1 - y0 < 2 * pad:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, quad - np.int32([x0, y0]), 255)
    side = quad_side(corners)
    points = cv2.goodFeaturesToTrack(
        gray[y0:y1, x0:x1],
        maxCorners=_SEED_POINTS,
        qualityLevel=0.01,
        minDistance=max(3.0, side / 30),
        mask=mask,
        blockSize=5,
    )
    if points is None:
        return None
    return (points + np.float32([x0, y0])).astype(np.float32)
