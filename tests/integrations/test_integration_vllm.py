"""The vLLM stat logger, fed IterationStats shaped like vLLM v1's (vLLM itself is not installed here) (issue 13)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from wattprint.integrations.vllm import wattprint_stat_logger
from wattprint.testing import replay_tracker


def test_finished_requests_become_records():
    t, clock = replay_tracker(300.0)
    t.start()
    cfg = NS(model_config=NS(served_model_name=["tiny"], model="org/tiny"))
    stat = wattprint_stat_logger(t, clock=clock.monotonic)(cfg, 0)
    clock.advance(2.0)
    t.sample_now()
    done = [NS(num_prompt_tokens=10, num_generation_tokens=20, e2e_latency=1.5, queued_time=0.5,
               prefill_time=0.25, decode_time=0.75, inference_time=1.0),
            NS(num_prompt_tokens=10, num_generation_tokens=20)]  # no timing: a zero-length request, still counted
    stat.record(NS(num_running_reqs=2), NS(finished_requests=done), 0)
    stat.record(None, NS(finished_requests=[NS(bad=True)]), 0)  # a shape it cannot read: skipped
    stat.log()
    stat.log_engine_initialized()
    clock.advance(1.0)
    inf = t.stop().to_dict()["inference"]
    assert stat.recorded == 2
    assert inf["requests"] == 2 and inf["tokens_out"] == 40
    assert inf["by_model"]["tiny"]["requests"] == 2
    assert inf["prefill"]["requests"] == 1 and inf["prefill"]["mean_ttft_s"] == pytest.approx(0.25)  # only the timed one
    assert inf["energy_j"] == pytest.approx(300.0, rel=1e-6)  # the 1 s it ran (queue time not charged)
