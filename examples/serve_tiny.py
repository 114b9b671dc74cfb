"""Serve a tiny GPT-2 (built from a config: no download) behind WattprintMiddleware, on CPU.

    python examples/serve_tiny.py [--port 8008] [--replay-watts 300] [--output-dir wattprint-runs]

An OpenAI-compatible ``POST /v1/completions`` (``prompt``, ``max_tokens``,
``stream``, ``stream_options.include_usage``), answered by greedy generation of
an untrained model (the text is noise; the energy is real). Tokens are bytes of
the prompt (vocabulary 256), so no tokenizer is downloaded either. ``GET
/wattprint/inference`` returns the footprint's ``inference`` section so far
(what ``examples/load_gen.py`` prints). Stop with Ctrl-C or SIGTERM: the
footprint and ``requests.jsonl`` are written to the output folder.

``--replay-watts W`` measures a replayed device of constant power instead of
this machine's sensors (a demo of the attribution with a known answer).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
import warnings

warnings.filterwarnings("ignore", message=r".*Failed to initialize NumPy.*")

import torch  # noqa: E402
import transformers  # noqa: E402
import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

import wattprint as wp  # noqa: E402
from wattprint.integrations.asgi import WattprintMiddleware  # noqa: E402

MODEL = "tiny-gpt2 (config, untrained)"


def build_model() -> transformers.GPT2LMHeadModel:
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=256, n_positions=512, n_embd=64, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    model.generation_config.pad_token_id = None
    return model


def build_app(tracker: wp.Tracker, model: transformers.GPT2LMHeadModel, max_concurrency: int = 4) -> WattprintMiddleware:
    gate = threading.Semaphore(max_concurrency)  # at most this many generations at once (CPU threads)

    def encode(prompt: str) -> torch.Tensor:
        data = prompt.encode("utf-8")[-128:] or b" "
        return torch.tensor([list(data)])

    def generate(ids: torch.Tensor, max_tokens: int, on_token=None) -> list:
        with gate, torch.no_grad():
            out, x = [], ids
            for _ in range(max_tokens):  # greedy, no KV cache (the model is tiny): one forward pass per token
                nxt = model(input_ids=x, use_cache=False).logits[:, -1:].argmax(-1)
                x = torch.cat([x, nxt], dim=1)
                out.append(int(nxt))
                if on_token is not None:
                    on_token(int(nxt))
            return out

    async def completions(request: Request):
        body = await request.json()
        ids = encode(str(body.get("prompt", "")))
        max_tokens = max(1, min(int(body.get("max_tokens", 16)), 128))
        usage = {"prompt_tokens": int(ids.shape[-1]), "completion_tokens": max_tokens, "total_tokens": int(ids.shape[-1]) + max_tokens}
        if not body.get("stream"):
            toks = await asyncio.to_thread(generate, ids, max_tokens)
            text = bytes(t % 128 for t in toks).decode("ascii", "replace")
            return JSONResponse({"object": "text_completion", "model": MODEL, "choices": [{"index": 0, "text": text}], "usage": usage})
        queue: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def run() -> None:
            try:
                generate(ids, max_tokens, lambda t: loop.call_soon_threadsafe(queue.put_nowait, t))
            finally:  # the stream always ends, even if generation fails
                loop.call_soon_threadsafe(queue.put_nowait, None)

        async def events():
            worker = asyncio.create_task(asyncio.to_thread(run))
            while (tok := await queue.get()) is not None:
                yield "data: " + json.dumps({"object": "text_completion", "model": MODEL,
                                             "choices": [{"index": 0, "text": chr(tok % 128)}]}) + "\n\n"
            await worker
            if (body.get("stream_options") or {}).get("include_usage"):
                yield "data: " + json.dumps({"model": MODEL, "choices": [], "usage": usage}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def inference(request: Request):
        tracker.sample_now()  # settle what has ended
        fp = tracker.snapshot()
        section = fp.get("inference") if fp is not None else None
        sources = sorted({f"{c['id']}: {c['source']}" for c in fp.get("components") or []}) if fp is not None else []
        return JSONResponse({"inference": section, "energy_j": tracker.energy_j, "measured": fp.measured() if fp else None,
                             "sources": sources})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        fp = tracker.stop()  # at shutdown (uvicorn re-raises SIGTERM after it, so not in a finally)
        if fp is not None:
            print(f"footprint: {tracker.json_path}", flush=True)

    inner = Starlette(routes=[Route("/v1/completions", completions, methods=["POST"]),
                              Route("/wattprint/inference", inference)], lifespan=lifespan)  # fmt: skip
    return WattprintMiddleware(inner, tracker=tracker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8008)
    parser.add_argument("--replay-watts", type=float, default=None, help="measure a replayed device of this power, W")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--max-concurrency", type=int, default=4, help="generations at once (default 4)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, args.threads))
    sensors = None
    if args.replay_watts is not None:
        from wattprint.testing import replay_sensor

        sensors = [replay_sensor(args.replay_watts)]
    tracker = wp.Tracker(project="serve-tiny", sensors=sensors, output_dir=args.output_dir, requests_log="requests.jsonl",
                         interval_s=0.5, handle_signals=False)  # fmt: skip
    model = build_model()
    tracker.start()  # after the model is built: idle time from here on is the server waiting for traffic
    app = build_app(tracker, model, args.max_concurrency)
    print(f"serving {MODEL} on http://{args.host}:{args.port}/v1/completions", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="on")
    tracker.stop()  # idempotent: already stopped by the lifespan


if __name__ == "__main__":
    main()
