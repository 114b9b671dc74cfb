"""Running totals of settled requests, and a bounded sample for percentiles and plots.

Units: joules, seconds, token counts. The totals cover every settled request;
the sample keeps :data:`SAMPLE_SIZE` requests chosen uniformly over the run
(reservoir sampling, seeded, so runs are reproducible), so per-request
percentiles and the energy-against-output-length plot stay bounded in memory.
Per-model totals are kept for at most :data:`MAX_MODELS` names; later names
are counted under ``"other"``.

Failure modes: none; not thread-safe (the request ledger holds its lock).
"""

from __future__ import annotations

import random
from typing import Any, Dict, List, Sequence

__all__ = ["RequestStats", "SAMPLE_SIZE", "MAX_MODELS"]

SAMPLE_SIZE = 4096
MAX_MODELS = 32


class RequestStats:
    """Totals over settled requests (see the module docstring)."""

    def __init__(self, component_ids: Sequence[str]) -> None:
        self.ids = list(component_ids)
        self.requests = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.energy = [0.0] * len(self.ids)  # measured joules given to requests, per component
        self.estimated_j = 0.0
        self.estimated_requests = 0
        self.split_requests = 0  # requests with a first-token time
        self.prefill_j = 0.0
        self.decode_j = 0.0  # of the requests with a first-token time
        self.duration_s = 0.0
        self.ttft_s = 0.0
        self.unfinished = 0
        self.by_model: Dict[str, Dict[str, float]] = {}
        self.sample: List[List[float]] = []  # [energy_j, tokens_in, tokens_out, duration_s]
        self._rng = random.Random(0)

    def add(self, rec: Any) -> None:
        """Count one settled :class:`~wattprint.run.requests.RequestRecord`."""
        self.requests += 1
        tin, tout = rec.tokens_in or 0, rec.tokens_out or 0
        self.tokens_in += tin
        self.tokens_out += tout
        for c, e in enumerate(rec.energy):
            self.energy[c] += e
        if rec.estimated_j > 0:
            self.estimated_j += rec.estimated_j
            self.estimated_requests += 1
        energy_j = rec.energy_j
        self.duration_s += rec.duration_s
        if rec.first_token_s is not None:
            self.split_requests += 1
            self.prefill_j += rec.prefill_j
            self.decode_j += sum(rec.energy) - rec.prefill_j
            self.ttft_s += rec.first_token_s - rec.start_s
        name = rec.model or "unknown"
        if name not in self.by_model and len(self.by_model) >= MAX_MODELS:
            name = "other"
        m = self.by_model.setdefault(name, {"requests": 0, "tokens_in": 0, "tokens_out": 0, "energy_j": 0.0})
        m["requests"] += 1
        m["tokens_in"] += tin
        m["tokens_out"] += tout
        m["energy_j"] += energy_j
        row = [energy_j, float(tin), float(tout), rec.duration_s]
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append(row)
        else:
            j = self._rng.randrange(self.requests)
            if j < SAMPLE_SIZE:
                self.sample[j] = row

    def to_dict(self) -> Dict[str, Any]:
        """Raw totals (the footprint layer turns them into the ``inference`` section)."""
        return {
            "requests": self.requests,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "energy_by_component_j": dict(zip(self.ids, self.energy, strict=True)),
            "estimated_energy_j": self.estimated_j,
            "estimated_requests": self.estimated_requests,
            "split_requests": self.split_requests,
            "prefill_energy_j": self.prefill_j,
            "decode_energy_j": self.decode_j,
            "duration_s": self.duration_s,
            "ttft_s": self.ttft_s,
            "unfinished_requests": self.unfinished,
            "by_model": {k: dict(v) for k, v in self.by_model.items()},
            "sample": [list(r) for r in self.sample],
        }
