"""Hugging Face ``generate`` / ``pipeline`` calls as served requests in a tracker's request ledger.

    from wattprint.integrations.hf_generate import tracked_generate, track_pipeline
    out = tracked_generate(model, tracker, input_ids=ids, attention_mask=mask, max_new_tokens=32)
    pipe = track_pipeline(pipeline("text-generation", model=model, tokenizer=tok), tracker)

One ``generate`` call is one request: ``tokens_in`` is the prompt's tokens
(``attention_mask`` summed when given, else ``input_ids`` counted), ``tokens_out``
the new tokens (for a batch, summed over its rows, stopping at the
``pad_token_id`` of the generation config when set). The first-token time comes
from a streamer: ``generate`` hands the prompt to ``streamer.put`` first and the
first new tokens next, so the second ``put`` marks the first token. A streamer
you pass is still called.

A wrapped pipeline counts each call (a prompt, or each prompt of a list) as one
request; tokens come from the pipeline's tokenizer (prompt, and generated text
without the prompt).

No framework is imported here: the model, tensors and tokenizer are used
through their methods (``generate``, ``numel``, ``sum``, ``shape``,
``tokenizer(...)``), so ``import wattprint.integrations.hf_generate`` is light.

Failure modes: a tracker that is not running runs the call untracked (logged
once); counting errors are logged once and never break generation; errors from
``generate`` itself propagate (the request is still counted, with what is known).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

__all__ = ["tracked_generate", "track_pipeline", "TrackedPipeline"]

logger = logging.getLogger("wattprint")
_warned = {"flag": False}


def _warn(err: BaseException) -> None:
    if not _warned["flag"]:
        _warned["flag"] = True
        logger.warning("wattprint: could not count a generate call (%s: %s); generation goes on", type(err).__name__, err)


class _FirstToken:
    """A streamer: the second ``put`` (the first new tokens) marks the record's first token; chains to ``inner``."""

    def __init__(self, rec: Any, inner: Any = None) -> None:
        self.rec, self.inner, self.puts = rec, inner, 0

    def put(self, value: Any) -> None:
        self.puts += 1
        if self.puts == 2:
            self.rec.first_token()
        if self.inner is not None:
            self.inner.put(value)

    def end(self) -> None:
        if self.inner is not None:
            self.inner.end()


def _prompt_tokens(input_ids: Any, attention_mask: Any) -> Optional[int]:
    try:
        if attention_mask is not None:
            return int(attention_mask.sum().item())
        return int(input_ids.numel()) if input_ids is not None else None
    except Exception:
        return None


def _new_tokens(model: Any, input_ids: Any, out: Any) -> Optional[int]:
    try:
        seqs = getattr(out, "sequences", out)
        prompt_len = int(input_ids.shape[-1]) if input_ids is not None else 0
        new = seqs[..., prompt_len:]
        pad = getattr(getattr(model, "generation_config", None), "pad_token_id", None)
        if isinstance(pad, int):
            return int((new != pad).sum().item())
        return int(new.numel())
    except Exception:
        return None


def tracked_generate(model: Any, tracker: Any, *args: Any, model_name: Optional[str] = None, **kwargs: Any) -> Any:
    """``model.generate(*args, **kwargs)`` counted as one request of ``tracker`` (returns what ``generate`` returns)."""
    if not getattr(tracker, "running", False):
        return model.generate(*args, **kwargs)
    input_ids = kwargs.get("input_ids", args[0] if args else None)
    name = model_name or getattr(getattr(model, "config", None), "name_or_path", None) or type(model).__name__
    try:
        cm = tracker.request(tokens_in=_prompt_tokens(input_ids, kwargs.get("attention_mask")), model=name or None, endpoint="generate")
        rec = cm.__enter__()
    except Exception as err:
        _warn(err)
        return model.generate(*args, **kwargs)
    kwargs["streamer"] = _FirstToken(rec, kwargs.get("streamer"))
    out = None
    try:
        out = model.generate(*args, **kwargs)
        return out
    finally:
        try:
            if out is not None:
                rec.tokens_out = _new_tokens(model, input_ids, out)
            cm.__exit__(None, None, None)
        except Exception as err:
            _warn(err)


class TrackedPipeline:
    """A pipeline whose calls are requests of ``tracker`` (every other attribute is the pipeline's)."""

    def __init__(self, pipe: Any, tracker: Any, model_name: Optional[str] = None) -> None:
        self._pipe, self._tracker = pipe, tracker
        self._name = model_name or getattr(getattr(getattr(pipe, "model", None), "config", None), "name_or_path", None) or None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def _tokens(self, text: Any) -> Optional[int]:
        tok = getattr(self._pipe, "tokenizer", None)
        if tok is None or not isinstance(text, str):
            return None
        try:
            return len(tok(text, add_special_tokens=False)["input_ids"])
        except Exception:
            return None

    def _one(self, prompt: Any, **kwargs: Any) -> Any:
        if not getattr(self._tracker, "running", False):
            return self._pipe(prompt, **kwargs)
        with self._tracker.request(tokens_in=self._tokens(prompt), model=self._name, endpoint="pipeline") as rec:
            out = self._pipe(prompt, **kwargs)
            try:
                texts = [o.get("generated_text") for o in out if isinstance(o, dict)] if isinstance(out, list) else []
                gen = sum(self._tokens(t) or 0 for t in texts if isinstance(t, str))
                if kwargs.get("return_full_text", True) and isinstance(prompt, str):
                    gen -= (self._tokens(prompt) or 0) * len(texts)
                rec.tokens_out = max(0, gen)
            except Exception as err:
                _warn(err)
            return out

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, list):
            return [self._one(x, **kwargs) for x in inputs]
        return self._one(inputs, **kwargs)


def track_pipeline(pipe: Any, tracker: Any, model_name: Optional[str] = None) -> TrackedPipeline:
    """Wrap a ``transformers`` pipeline so each call is counted (see :class:`TrackedPipeline`)."""
    return TrackedPipeline(pipe, tracker, model_name)
