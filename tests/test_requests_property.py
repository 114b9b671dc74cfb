"""Property: for any requests and two components read at different cadences, the split conserves energy per
component, and with constant power no request gets more than power x its time in flight (issue 13)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wattprint.run.requests import RequestLedger

P = {"gpu:0": 300.0, "cpu": 50.0}
EVERY = {"gpu:0": 1, "cpu": 4}  # gpu read every tick (0.1 s), cpu every 4th tick

requests = st.lists(
    st.tuples(st.floats(0.0, 9.0), st.floats(0.0, 2.0), st.integers(0, 50), st.integers(0, 200), st.booleans(), st.booleans()),
    min_size=0, max_size=40,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(requests)
def test_split_conserves_per_component(reqs):
    now = [0.0]
    led = RequestLedger(list(P), lambda: now[0])
    led.start(0.0, {c: 0.0 for c in P}, {c: 0.0 for c in P})
    read_at = {c: 0.0 for c in P}
    recs = []
    order = sorted(reqs, key=lambda r: r[0] + r[1])
    k = 0
    for tick in range(1, 121):  # 12 s in 0.1 s ticks
        now[0] = tick * 0.1
        while k < len(order) and order[k][0] + order[k][1] <= now[0]:
            s, d, tin, tout, timed, late_ok = order[k]
            ft = s + d / 3 if timed and d > 0 else None
            recs.append(led.record(tin, tout, s, s + d, first_token_s=ft))
            k += 1
        for c in P:
            if tick % EVERY[c] == 0:
                read_at[c] = now[0]
        led.on_tick(now[0], {c: P[c] * read_at[c] for c in P}, dict(read_at))
    for s, d, tin, tout, _, _ in order[k:]:
        recs.append(led.record(tin, tout, s, s + d))
    now[0] = 12.0
    led.finish(12.0, {c: P[c] * 12.0 for c in P}, {c: 12.0 for c in P})
    for i, c in enumerate(P):
        given_j = sum(r.energy[i] for r in recs)
        assert abs(given_j + led.idle[i] - P[c] * 12.0) < 1e-6 * P[c] * 12.0
    for r in recs:
        assert r.done and not r.estimated
        assert sum(r.energy) <= (P["gpu:0"] + P["cpu"]) * max(r.end_s - r.start_s, 1e-6) * (1 + 1e-9) + 1e-9
