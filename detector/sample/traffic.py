"""Who drives where in the sample scene: exact longitudinal motion profiles and lane changes.

A vehicle moves along its lane by piecewise constant acceleration (cruise, brake to a stop at an
exact point, hold, accelerate), so position and speed at any stream time are known exactly.
`s` is the distance travelled; world y = y_start + direction * s. Lane changes are smooth
(smoothstep) in x as a function of y.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detector.sample.scene import SHOULDER_CENTER_X, lane_center

KMH = 1 / 3.6


@dataclass(frozen=True, slots=True)
class Cruise:
    """Keep the current speed until stream time `until_t` (or for ever if None)."""

    until_t: float | None = None
    until_y: float | None = None


@dataclass(frozen=True, slots=True)
class StopAt:
    """Brake at a constant rate so the anchor stops exactly at world y `y`."""

    y: float


@dataclass(frozen=True, slots=True)
class Hold:
    """Stand still until stream time `until_t`."""

    until_t: float


@dataclass(frozen=True, slots=True)
class Accelerate:
    """Change speed to `to_kmh` at `rate` m/s^2."""

    to_kmh: float
    rate: float


Op = Cruise | StopAt | Hold | Accelerate


@dataclass(frozen=True, slots=True)
class LaneChange:
    """Move from the current x to `to_x` while y goes from `y_from` to `y_to` (smoothstep)."""

    y_from: float
    y_to: float
    to_x: float


@dataclass(frozen=True, slots=True)
class Piece:
    t0: float
    s0: float
    v0: float  # m/s
    a: float  # m/s^2
    duration: float  # inf for the last piece


@dataclass(frozen=True, slots=True)
class VehicleScript:
    vehicle_id: int
    sprite: str
    role: str
    x_start: float
    y_start: float
    t_start: float
    speed_kmh: float
    direction: int = 1  # +1 travels +y (the lane's direction), -1 wrong way
    ops: tuple[Op, ...] = (Cruise(),)
    lane_changes: tuple[LaneChange, ...] = ()
    vehicle_class: str = "car"
    pieces: tuple[Piece, ...] = field(default=(), compare=False)

    def build(self) -> VehicleScript:
        """Resolve the ops into pieces of constant acceleration."""
        pieces: list[Piece] = []
        t, s, v = self.t_start, 0.0, self.speed_kmh * KMH
        for op in self.ops:
            if isinstance(op, Cruise):
                if op.until_t is not None:
                    d = op.until_t - t
                elif op.until_y is not None:
                    d = (abs(op.until_y - self.y_start) - s) / v
                else:
                    d = float("inf")
                if d < 0:
                    raise ValueError(f"vehicle {self.vehicle_id}: cruise ends before it starts ({op})")
                pieces.append(Piece(t, s, v, 0.0, d))
                if d == float("inf"):
                    break
                t, s = t + d, s + v * d
            elif isinstance(op, StopAt):
                dist = abs(op.y - self.y_start) - s
                if dist <= 0 or v <= 0:
                    raise ValueError(f"vehicle {self.vehicle_id}: cannot stop at y={op.y} from s={s:.2f}")
                a = -v * v / (2 * dist)
                d = 2 * dist / v
                pieces.append(Piece(t, s, v, a, d))
                t, s, v = t + d, s + dist, 0.0
            elif isinstance(op, Hold):
                d = op.until_t - t
                pieces.append(Piece(t, s, 0.0, 0.0, d))
                t = op.until_t
            else:  # Accelerate
                target = op.to_kmh * KMH
                a = op.rate if target > v else -op.rate
                d = abs(target - v) / op.rate
                pieces.append(Piece(t, s, v, a, d))
                t, s, v = t + d, s + v * d + 0.5 * a * d * d, target
        last = pieces[-1]
        if last.duration != float("inf"):
            end_t = last.t0 + last.duration
            end_s = last.s0 + last.v0 * last.duration + 0.5 * last.a * last.duration**2
            end_v = last.v0 + last.a * last.duration
            pieces.append(Piece(end_t, end_s, end_v, 0.0, float("inf")))
        return VehicleScript(
            self.vehicle_id,
            self.sprite,
            self.role,
            self.x_start,
            self.y_start,
            self.t_start,
            self.speed_kmh,
            self.direction,
            self.ops,
            self.lane_changes,
            self.vehicle_class,
            tuple(pieces),
        )

    def state(self, t: float) -> tuple[float, float, float] | None:
        """(x, y, speed m/s) at stream time t, or None before the vehicle starts."""
        if t < self.t_start - 1e-9 or not self.pieces:
            return None
        piece = self.pieces[-1]
        for p in self.pieces:
            if t < p.t0 + p.duration:
                piece = p
                break
        tau = t - piece.t0
        s = piece.s0 + piece.v0 * tau + 0.5 * piece.a * tau * tau
        v = max(0.0, piece.v0 + piece.a * tau)
        y = self.y_start + self.direction * s
        return self.x_at(y), y, v

    def x_at(self, y: float) -> float:
        x = self.x_start
        for lc in self.lane_changes:
            u = (y - lc.y_from) / (lc.y_to - lc.y_from)
            u = min(1.0, max(0.0, u))
            x = x + (lc.to_x - x) * (u * u * (3 - 2 * u))
        return x


def scenario() -> tuple[VehicleScript, ...]:
    """The fixed cast (the seed varies plates and looks, never the motion or the violations)."""
    l0, l1, l2 = lane_center(0), lane_center(1), lane_center(2)
    cast = (
        VehicleScript(1, "white-sedan-a", "law-abiding, crosses on green", l1, 5.0, 0.0, 40.0),
        VehicleScript(2, "black-sedan-a", "speeder (80 km/h in a 50 zone)", l0, 4.0, 2.5, 80.0),
        VehicleScript(3, "silver-suv", "car in the motorbike-only lane", l2, 4.0, 0.5, 35.0),
        VehicleScript(
            4,
            "red-suv",
            "crosses the solid lane line before the stop line",
            l0,
            4.0,
            4.5,
            45.0,
            lane_changes=(LaneChange(19.0, 26.0, l1),),
        ),
        VehicleScript(
            5, "white-sedan-b", "crosses on amber, past the line when red begins", l1, 4.0, 7.36, 45.0
        ),
        VehicleScript(
            6,
            "black-sedan-b",
            "stops before the stop line for the red light, leaves on green",
            l0,
            4.0,
            7.6,
            40.0,
            ops=(Cruise(until_y=12.0), StopAt(25.0), Hold(22.0), Accelerate(40.0, 2.0), Cruise()),
        ),
        VehicleScript(7, "white-sedan-c", "runs the red light (2.5 s into red)", l1, 4.0, 11.26, 45.0),
        VehicleScript(8, "grey-sedan", "drives the wrong way", l1, 80.0, 16.6, 40.0, direction=-1),
        VehicleScript(
            9,
            "white-sedan-d",
            "stops in the no-stopping box on the shoulder",
            SHOULDER_CENTER_X,
            6.0,
            12.0,
            25.0,
            ops=(Cruise(until_y=14.0), StopAt(23.0), Hold(10_000.0)),
        ),
        VehicleScript(10, "white-sedan-a", "law-abiding, crosses on green", l1, 4.0, 24.0, 40.0),
        VehicleScript(
            11,
            "red-suv",
            "queues behind vehicle 6 at the red light, leaves on green",
            l0,
            4.0,
            12.5,
            35.0,
            ops=(Cruise(until_y=8.0), StopAt(18.5), Hold(22.6), Accelerate(40.0, 2.0), Cruise()),
        ),
    )
    return tuple(v.build() for v in cast)
