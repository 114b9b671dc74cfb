"""Hugging Face generate / pipeline wrapped as requests: a tiny GPT-2 from a config, no download (issue 13)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from wattprint.integrations.hf_generate import track_pipeline, tracked_generate  # noqa: E402
from wattprint.testing import replay_tracker  # noqa: E402


class _Clocked(transformers.GPT2LMHeadModel):
    """Advances the tracker's manual clock by 0.1 s per forward pass: deterministic timing."""

    clock = None

    def forward(self, *a, **k):
        if self.clock is not None:
            self.clock.advance(0.1)
        return super().forward(*a, **k)


def _model(clock):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=64, n_positions=64, n_embd=16, n_layer=1, n_head=2, pad_token_id=0, eos_token_id=None)
    m = _Clocked(cfg).eval()
    m.generation_config.pad_token_id = None
    m.clock = clock
    return m


class _Streamer:
    def __init__(self):
        self.puts, self.ended = 0, False

    def put(self, value):
        self.puts += 1

    def end(self):
        self.ended = True


def test_generate_is_one_request_with_prefill_split():
    t, clock = replay_tracker(300.0)
    t.start()
    model = _model(clock)
    ids = torch.tensor([[5, 6, 7, 8]])
    mine = _Streamer()
    out = tracked_generate(model, t, input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=5,
                           do_sample=False, streamer=mine, model_name="tiny-gpt2")
    assert out.shape[-1] == 9
    assert mine.puts == 6 and mine.ended  # the caller's streamer still sees everything
    clock.advance(1.0)
    inf = t.stop().to_dict()["inference"]
    assert inf["requests"] == 1 and inf["tokens_in"] == 4 and inf["tokens_out"] == 5
    assert inf["prefill"]["requests"] == 1 and inf["prefill"]["mean_ttft_s"] == pytest.approx(0.1)
    assert inf["energy_j"] == pytest.approx(300.0 * 0.5)  # five forward passes of 0.1 s
    assert inf["by_model"]["tiny-gpt2"]["tokens_out"] == 5


class _Tok:
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


class _Pipe:
    tokenizer = _Tok()
    model = None

    def __call__(self, prompt, **kw):
        return [{"generated_text": prompt + " a b c"}]


def test_pipeline_calls_are_requests():
    t, clock = replay_tracker(300.0)
    t.start()
    pipe = track_pipeline(_Pipe(), t, model_name="p")
    assert pipe(["x y", "z"])[1][0]["generated_text"] == "z a b c"
    clock.advance(1.0)
    inf = t.stop().to_dict()["inference"]
    assert inf["requests"] == 2 and inf["tokens_in"] == 3 and inf["tokens_out"] == 6
    # untracked when the tracker is not running
    assert pipe("q")[0]["generated_text"] == "q a b c"
