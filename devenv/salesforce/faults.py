"""Faults on demand for the Salesforce stand-in, deterministic by seed and per route.

A fault plan is plain JSON so tests and the demo can set it over the admin API:

    {"seed": 7,
     "rules": [{"route": "rest.query", "latency_ms": 50},
               {"route": "bulk", "error": "503", "rate": 0.5, "times": 3}],
     "session_expires_after_calls": 25,
     "bulk_lock_row_rate": 0.1,
     "bulk_fail_jobs": 1,
     "deploy_stuck": true}

`route` is a route name (`rest.query`), a category (`rest`, `bulk`, `soap`, `auth`) or `*` (every
API call; not the OAuth token endpoint, which API limits do not cover).
`error` is `503`, `REQUEST_LIMIT_EXCEEDED` or `INVALID_SESSION_ID`; `rate` is the fraction of
matching calls that fail (decided by a random stream seeded with seed + route, so the same calls
fail on every run); `times` caps how many calls the rule affects.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

ERRORS = frozenset({"503", "REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID"})


class FaultConfigError(ValueError):
    """The fault plan is malformed (the admin API answers 400 with this message)."""


@dataclass(slots=True)
class FaultRule:
    """Latency and/or an error for the calls of one route or category."""

    route: str
    latency_ms: int = 0
    error: str | None = None
    rate: float = 1.0
    times: int | None = None
    hits: int = 0

    def matches(self, route: str) -> bool:
        """Whether this rule applies to `route` (exact name, its category, or `*`: every API
        call; the OAuth token endpoint only when named, as real API limits do not apply to it)."""
        category = route.split(".", 1)[0]
        return self.route in (route, category) or (self.route == "*" and category != "auth")


@dataclass(slots=True)
class Decision:
    """What to do to one call."""

    latency_s: float = 0.0
    error: str | None = None


@dataclass(slots=True)
class FaultPlan:
    """The active faults; `decide` is called once per incoming API call."""

    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    session_expires_after_calls: int | None = None
    bulk_lock_row_rate: float = 0.0
    bulk_fail_jobs: int = 0
    deploy_stuck: bool = False
    _streams: dict[str, random.Random] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FaultPlan:
        """Validate and build a plan; raises FaultConfigError naming every bad key."""
        known = {"seed", "rules", "session_expires_after_calls", "bulk_lock_row_rate",
                 "bulk_fail_jobs", "deploy_stuck"}
        problems = [f"unknown key {k!r}" for k in raw if k not in known]
        rules = []
        for i, r in enumerate(raw.get("rules", [])):
            if not isinstance(r, dict) or "route" not in r:
                problems.append(f"rules[{i}] needs a 'route'")
                continue
            extra = set(r) - {"route", "latency_ms", "error", "rate", "times"}
            if extra:
                problems.append(f"rules[{i}] has unknown keys {sorted(extra)}")
            if r.get("error") is not None and str(r["error"]) not in ERRORS:
                problems.append(f"rules[{i}].error must be one of {sorted(ERRORS)}")
            rate = float(r.get("rate", 1.0))
            if not 0.0 <= rate <= 1.0:
                problems.append(f"rules[{i}].rate must be within 0..1")
            rules.append(FaultRule(str(r["route"]), int(r.get("latency_ms", 0)),
                                   None if r.get("error") is None else str(r["error"]),
                                   rate, r.get("times")))
        lock_rate = float(raw.get("bulk_lock_row_rate", 0.0))
        if not 0.0 <= lock_rate <= 1.0:
            problems.append("bulk_lock_row_rate must be within 0..1")
        if problems:
            raise FaultConfigError("; ".join(problems))
        expiry = raw.get("session_expires_after_calls")
        return cls(seed=int(raw.get("seed", 0)), rules=rules,
                   session_expires_after_calls=None if expiry is None else int(expiry),
                   bulk_lock_row_rate=lock_rate,
                   bulk_fail_jobs=int(raw.get("bulk_fail_jobs", 0)),
                   deploy_stuck=bool(raw.get("deploy_stuck", False)))

    def stream(self, name: str) -> random.Random:
        """The deterministic random stream for `name` (seeded by the plan's seed)."""
        with self._lock:
            rng = self._streams.get(name)
            if rng is None:
                rng = self._streams[name] = random.Random(f"{self.seed}:{name}")
            return rng

    def decide(self, route: str) -> Decision:
        """Latency and error (if any) for one call of `route`."""
        d = Decision()
        for rule in self.rules:
            if not rule.matches(route):
                continue
            with self._lock:
                if rule.times is not None and rule.hits >= rule.times:
                    continue
            if rule.rate < 1.0 and self.stream(f"{rule.route}:{route}").random() >= rule.rate:
                continue
            with self._lock:
                rule.hits += 1
            d.latency_s += rule.latency_ms / 1000.0
            if rule.error and d.error is None:
                d.error = rule.error
        return d

    def take_bulk_failure(self) -> bool:
        """True (once per configured failure) when the next bulk job must end Failed."""
        with self._lock:
            if self.bulk_fail_jobs > 0:
                self.bulk_fail_jobs -= 1
                return True
            return False

    def to_json(self) -> dict[str, Any]:
        """The plan as the admin API shows it."""
        return {
            "seed": self.seed,
            "rules": [{"route": r.route, "latency_ms": r.latency_ms, "error": r.error,
                       "rate": r.rate, "times": r.times, "hits": r.hits} for r in self.rules],
            "session_expires_after_calls": self.session_expires_after_calls,
            "bulk_lock_row_rate": self.bulk_lock_row_rate,
            "bulk_fail_jobs": self.bulk_fail_jobs,
            "deploy_stuck": self.deploy_stuck,
        }
