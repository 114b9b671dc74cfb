"""Framework integrations for wattprint (PyTorch, Lightning, Hugging Face, torch.distributed).

Import the one you need; each imports its framework only then:

* :mod:`wattprint.integrations.torch` — ``attach(optimizer)``: count every optimizer step; per-step energy.
* :mod:`wattprint.integrations.lightning` — ``WattprintCallback`` for ``lightning.Trainer``.
* :mod:`wattprint.integrations.transformers` — ``WattprintCallback`` / ``attach(trainer)`` for the HF ``Trainer``.
* :mod:`wattprint.integrations.distributed` — rank roles and one job footprint for torchrun / SLURM jobs.
* :mod:`wattprint.integrations.asgi` — ``WattprintMiddleware``: energy per request of an OpenAI-compatible ASGI server.
* :mod:`wattprint.integrations.hf_generate` — ``tracked_generate`` / ``track_pipeline``: HF generation calls as requests.
* :mod:`wattprint.integrations.vllm` — ``wattprint_stat_logger``: vLLM's finished requests through its stat loggers.

Inside (private): ``_session`` (the training session both callbacks map their hooks onto:
epochs, guarded counting, resume, totals summed over ranks, warn-once), ``_ranks`` (rank
roles, GPU selection) and ``_collectives`` (the torch.distributed calls, no-ops without a
process group). Integrations use only the public ``wattprint`` API, its settings, units,
errors and footprint layers, and the exporters.
"""
