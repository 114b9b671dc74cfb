"""MLflow: the footprint's figures as run metrics, the JSON as an artifact.

``MlflowExporter`` logs to the MLflow run that is active when it is
constructed (MLflow's active run is per thread, and exporters run on their own
worker thread, so it is captured up front), to an explicit ``run_id``, or to a
new run named after the wattprint run. Metric keys are the footprint's dotted
figure keys under a prefix; the figures are the ``metric`` rows of
:data:`wattprint.footprint.model.FIGURES` (``wattprint.energy.it_kwh``, ``wattprint.carbon.total_kg``,
``wattprint.component.gpu:0.energy_j`` ...), units in the key as in the footprint.
With ``live=True`` the IT energy and carbon are also logged at each sample,
with the step count as the MLflow step, so the UI draws them against training.

Failure modes: constructing it without mlflow raises ``ImportError`` naming the
extra. ``export`` retries a failed logging call (tracking server down) with
backoff, then raises; a failed live sample is logged once and skipped. The
runner isolates both: the run and the other exporters go on.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from wattprint.errors import ConfigError
from wattprint.footprint.model import FIGURES, Figure, Footprint
from wattprint.units import as_float

__all__ = ["MlflowExporter", "footprint_metrics", "metric_keys"]

logger = logging.getLogger("wattprint")

_BAD = re.compile(r"[^A-Za-z0-9_\-. /:]")


def metric_keys(figures: Sequence[Figure] = FIGURES) -> List[str]:
    """The figure keys logged as metrics, derived from the figure table (rows with ``metric``)."""
    return [f.key for f in figures if f.metric]


def footprint_metrics(footprint: Footprint, prefix: str = "wattprint.", figures: Sequence[Figure] = FIGURES) -> Dict[str, float]:
    """The footprint's numeric figures, keyed by ``prefix`` + figure key (nulls and NaN left out),
    plus each component's ``energy_j``, ``mean_power_w`` and ``peak_power_w``."""
    out: Dict[str, float] = {}
    for fig in figures:
        if fig.metric:
            v = as_float(footprint.figure(fig))
            if v is not None:
                out[prefix + fig.key] = v
    for comp in footprint.get("components") or []:
        cid = _BAD.sub("_", str(comp.get("id")))
        for field in ("energy_j", "mean_power_w", "peak_power_w"):
            v = as_float(comp.get(field))
            if v is not None:
                out[f"{prefix}component.{cid}.{field}"] = v
    return out


class MlflowExporter:
    """Logs the footprint to MLflow.

    Args:
        run_id: the MLflow run to log to; default the active run at
            construction, else a new run (named after the wattprint run) that
            the exporter ends when it is done.
        tracking_uri: MLflow tracking URI (default MLflow's own setting).
        experiment: experiment name for a new run (created if missing).
        prefix: metric key prefix.
        artifact: log the footprint JSON (with its timeline) as
            ``wattprint/<run_id>.json`` (default ``True``).
        live: also log IT energy and carbon at each sample (default ``False``).
        attempts: tries of each logging call at the end, with backoff.
        retry_backoff_s: first backoff, seconds (doubles).

    Raises:
        ImportError: mlflow is not installed (``pip install 'wattprint[mlflow]'``).
    """

    def __init__(
        self,
        run_id: Optional[str] = None,
        *,
        tracking_uri: Optional[str] = None,
        experiment: Optional[str] = None,
        prefix: str = "wattprint.",
        artifact: bool = True,
        live: bool = False,
        attempts: int = 3,
        retry_backoff_s: float = 1.0,
    ) -> None:
        try:
            import mlflow
        except ImportError as err:
            raise ImportError("MlflowExporter needs mlflow: pip install 'wattprint[mlflow]' (mlflow-skinny is enough)") from err
        if attempts < 1:
            raise ConfigError("attempts", f"must be >= 1, got {attempts!r}")
        if run_id is None:
            active = mlflow.active_run()
            run_id = active.info.run_id if active is not None else None
        self.run_id = run_id
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.prefix = prefix
        self.artifact = artifact
        self.attempts = attempts
        self.retry_backoff_s = retry_backoff_s
        self._owns_run = False
        self._client: Any = None
        self._live_failed = False
        if live:
            self.on_sample = self._log_live

    # -- helpers ---------------------------------------------------------------
    def _client_for(self) -> Any:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def _run_for(self, footprint: Footprint) -> str:
        if self.run_id is None:
            client = self._client_for()
            exp_id = "0"
            if self.experiment:
                exp = client.get_experiment_by_name(self.experiment)
                exp_id = exp.experiment_id if exp is not None else client.create_experiment(self.experiment)
            run = client.create_run(exp_id, run_name=str(footprint.run_id), tags={"wattprint.run_id": str(footprint.run_id)})
            self.run_id = run.info.run_id
            self._owns_run = True
        return self.run_id

    def _retry(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        delay = self.retry_backoff_s
        for attempt in range(self.attempts):
            try:
                return fn(*args, **kwargs)
            except Exception as err:
                if attempt + 1 >= self.attempts:
                    raise RuntimeError(f"MLflow {what} failed {self.attempts} times: {type(err).__name__}: {err}") from err
                time.sleep(delay)
                delay *= 2

    @staticmethod
    def _metrics(values: Dict[str, float], step: int) -> List[Any]:
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        return [Metric(k, v, ts, step) for k, v in values.items()]

    # -- exporter protocol ------------------------------------------------------------
    def _log_live(self, footprint: Footprint) -> None:
        try:
            client = self._client_for()
            run_id = self._run_for(footprint)
            step = int(footprint.get("work.steps") or 0)
            keys = ("energy.it_j", "carbon.total_kg", "water.total_l")
            values = {self.prefix + k: float(footprint.get(k)) for k in keys if isinstance(footprint.get(k), (int, float))}
            client.log_batch(run_id, metrics=self._metrics(values, step))
        except Exception as err:
            if not self._live_failed:
                self._live_failed = True
                logger.warning("wattprint: MLflow live logging failed (%s: %s); the final figures are still tried at the end", type(err).__name__, err)

    def export(self, footprint: Footprint) -> None:
        """Log the figures (and the JSON artifact). Raises ``RuntimeError`` after the retries."""
        client = self._client_for()
        run_id = self._retry("create run", self._run_for, footprint)
        step = int(footprint.get("work.steps") or 0)
        tags = {
            "wattprint.run_id": str(footprint.run_id),
            "wattprint.status": str(footprint.status),
            "wattprint.region": str(footprint.get("region") or ""),
            "wattprint.project": str(footprint.get("project") or ""),
        }
        from mlflow.entities import RunTag

        self._retry(
            "log_batch",
            client.log_batch,
            run_id,
            metrics=self._metrics(footprint_metrics(footprint, self.prefix), step),
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if self.artifact:
            with tempfile.TemporaryDirectory(prefix="wattprint-mlflow-") as tmp:
                path = os.path.join(tmp, f"{re.sub(r'[^A-Za-z0-9._-]+', '_', str(footprint.run_id))}.json")
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(footprint.to_json(timeline=True))
                self._retry("log_artifact", client.log_artifact, run_id, path, artifact_path="wattprint")

    def close(self) -> None:
        """End the run if the exporter created it. Safe to call twice."""
        if self._owns_run and self.run_id is not None:
            self._owns_run = False
            try:
                self._client_for().set_terminated(self.run_id)
            except Exception as err:
                logger.warning("wattprint: could not end the MLflow run %s (%s)", self.run_id, err)

    def __repr__(self) -> str:
        return f"MlflowExporter(run_id={self.run_id!r})"
