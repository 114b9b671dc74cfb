"""Exporters for wattprint footprints (JSON, CSV, Prometheus, model card, MLflow)."""
