"""The measurement engine: clock, energy counters, ledger, timeline, sampler, window-edge reader, sensors, host info.

Imports nothing above it (no footprint, no run, no report): it turns hardware into cumulative
joules per component and knows nothing of carbon, files or exporters.
"""
