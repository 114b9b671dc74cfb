"""MLflow: the footprint's figures as run metrics, its settings as params, the JSON as an artifact.

``MlflowExporter`` logs to the MLflow run that is active when the figures are
logged (the user's ``mlflow.start_run()``, or the run of HF's MLflow callback;
MLflow's active run is per thread, and exporters run on their own worker
thread, so the exporter looks at the active run of the main thread, then of
any thread, then at the run active when it was built), to an explicit
``run_id``, or else to a new run named after the wattprint run, in the
experiment set with ``mlflow.set_experiment`` (or ``MLFLOW_EXPERIMENT_NAME`` /
``MLFLOW_EXPERIMENT_ID``, or ``experiment=``).

Names: one per figure in every output (:attr:`wattprint.footprint.model.Figure.log_name`):
metrics are ``wattprint.`` + the figure key, in the key's unit
(``wattprint.energy.it_kwh``, ``wattprint.carbon.total_kg``,
``wattprint.component.gpu:0.energy_j``), the same names the Lightning and HF
callbacks log, so a run fed by both holds each figure once. The factors the run
was priced with (PUE, grid intensity, WUE, EWIF; rows with ``setting``) and the
region are params, not metrics. With ``live=True`` the IT energy, carbon and
water are also logged at each sample, with the step count as the MLflow step.

Failure modes: constructing it without mlflow raises ``ImportError`` naming the
extra. ``export`` retries a failed logging call (tracking server down) with
backoff, then raises; a param that the run already holds with another value
is skipped with a warning (MLflow params cannot change); a failed live sample
is logged once and skipped. The runner isolates both: the run and the other
exporters go on.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from wattprint._io import encodable
from wattprint.errors import ConfigError
from wattprint.footprint.model import FIGURES, LOG_PREFIX, Figure, Footprint
from wattprint.units import as_float

__all__ = ["MlflowExporter", "footprint_metrics", "footprint_params", "metric_keys", "active_run_id", "active_experiment_id"]

logger = logging.getLogger("wattprint")

_BAD = re.compile(r"[^A-Za-z0-9_\-. /:]")
_LIVE_KEYS = ("energy.it_kwh", "carbon.total_kg", "water.total_l")


def metric_keys(figures: Sequence[Figure] = FIGURES) -> List[str]:
    """The figure keys logged to MLflow, derived from the figure table (rows with ``metric``): as metrics,
    except the settings among them (``Figure.setting``: PUE, grid intensity...), which are params."""
    return [f.key for f in figures if f.metric]


def footprint_metrics(footprint: Footprint, prefix: str = LOG_PREFIX, figures: Sequence[Figure] = FIGURES) -> Dict[str, float]:
    """The footprint's numeric figures keyed by ``prefix`` + figure key (nulls and NaN left out, settings
    left to :func:`footprint_params`), plus each component's ``energy_j``, ``mean_power_w`` and ``peak_power_w``."""
    out: Dict[str, float] = {}
    for fig in figures:
        if fig.metric and not fig.setting:
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


def footprint_params(footprint: Footprint, prefix: str = LOG_PREFIX, figures: Sequence[Figure] = FIGURES) -> Dict[str, str]:
    """The settings the run was priced with (factor rows of the table, the region), as MLflow params."""
    out: Dict[str, str] = {}
    for fig in figures:
        if fig.setting:
            v = as_float(footprint.figure(fig))
            if v is not None:
                out[prefix + fig.key] = f"{v:.6g}"
    if footprint.get("region"):
        out[prefix + "region"] = str(footprint.get("region"))
    return out


def active_run_id() -> Optional[str]:
    """The MLflow run active now: this thread's, else the main thread's, else the one other thread's with one."""
    import mlflow

    run = mlflow.active_run()
    if run is not None:
        return str(run.info.run_id)
    try:  # MLflow keeps every thread's active-run stack; exporters run on their own thread
        from mlflow.tracking import fluent

        stacks = fluent._active_run_stack.get_all_thread_values()
    except Exception:
        return None
    main = stacks.get(threading.main_thread().ident or -1) or []
    if main:
        return str(main[-1].info.run_id)
    ids = {str(s[-1].info.run_id) for s in stacks.values() if s}
    return ids.pop() if len(ids) == 1 else None


def active_experiment_id() -> Optional[str]:
    """The experiment set with ``mlflow.set_experiment`` (or the MLFLOW_EXPERIMENT_* variables), else ``None``."""
    try:
        from mlflow.tracking import fluent

        exp_id = fluent._active_experiment_id or fluent._get_experiment_id_from_env()
    except Exception:
        exp_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
    return str(exp_id) if exp_id else None


class MlflowExporter:
    """Logs the footprint to MLflow.

    Args:
        run_id: the MLflow run to log to; default the run active when the
            figures are logged (see the module), else the run active at
            construction, else a new run (named after the wattprint run) that
            the exporter ends when it is done.
        tracking_uri: MLflow tracking URI (default MLflow's own setting).
        experiment: experiment name for a new run (created if missing);
            default the active experiment (``mlflow.set_experiment``).
        prefix: metric and param name prefix (default ``wattprint.``).
        artifact: log the footprint JSON (with its timeline) as
            ``wattprint/<run_id>.json`` (default ``True``).
        live: also log IT energy, carbon and water at each sample (default ``False``).
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
        prefix: str = LOG_PREFIX,
        artifact: bool = True,
        live: bool = False,
        attempts: int = 3,
        retry_backoff_s: float = 1.0,
    ) -> None:
        try:
            import mlflow  # noqa: F401
        except ImportError as err:
            raise ImportError("MlflowExporter needs mlflow: pip install 'wattprint[mlflow]' (mlflow-skinny is enough)") from err
        if attempts < 1:
            raise ConfigError("attempts", f"must be >= 1, got {attempts!r}")
        self._given_run_id = run_id
        self._built_in_run = active_run_id() if run_id is None else None
        self._built_in_experiment = active_experiment_id()
        self.run_id: Optional[str] = run_id
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

    def _experiment_id(self) -> str:
        client = self._client_for()
        if self.experiment:
            exp = client.get_experiment_by_name(self.experiment)
            return str(exp.experiment_id if exp is not None else client.create_experiment(self.experiment))
        return active_experiment_id() or self._built_in_experiment or "0"

    def _run_for(self, footprint: Footprint) -> str:
        if self._given_run_id is not None:
            return self._given_run_id
        if not self._owns_run:  # the user's run, as it is now
            current = active_run_id() or self._built_in_run
            if current is not None:
                self.run_id = current
                return current
        if self.run_id is None:
            run = self._client_for().create_run(
                self._experiment_id(), run_name=encodable(str(footprint.run_id)), tags={"wattprint.run_id": encodable(str(footprint.run_id))}
            )
            self.run_id = run.info.run_id
            self._owns_run = True
        assert self.run_id is not None
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

    def _log_params(self, client: Any, run_id: str, params: Dict[str, str]) -> None:
        """Params the run does not hold yet; one that it holds with another value is skipped (MLflow params are immutable)."""
        from mlflow.entities import Param

        held = dict(self._retry("get_run", client.get_run, run_id).data.params)
        new = {k: v for k, v in params.items() if k not in held}
        clash = sorted(k for k, v in params.items() if k in held and held[k] != v)
        if clash:
            logger.warning("wattprint: MLflow run %s already holds param(s) %s with other values; kept as they are", run_id, ", ".join(clash))
        if new:
            self._retry("log_batch (params)", client.log_batch, run_id, params=[Param(k, v) for k, v in new.items()])

    # -- exporter protocol ------------------------------------------------------------
    def _log_live(self, footprint: Footprint) -> None:
        try:
            client = self._client_for()
            run_id = self._run_for(footprint)
            step = int(footprint.get("work.steps") or 0)
            values = {self.prefix + k: float(footprint.get(k)) for k in _LIVE_KEYS if isinstance(footprint.get(k), (int, float))}
            client.log_batch(run_id, metrics=self._metrics(values, step))
        except Exception as err:
            if not self._live_failed:
                self._live_failed = True
                logger.warning("wattprint: MLflow live logging failed (%s: %s); the final figures are still tried at the end", type(err).__name__, err)

    def export(self, footprint: Footprint) -> None:
        """Log the figures, params (and the JSON artifact). Raises ``RuntimeError`` after the retries."""
        client = self._client_for()
        run_id = self._retry("create run", self._run_for, footprint)
        step = int(footprint.get("work.steps") or 0)
        tags = {  # as they are, but UTF-8-encodable (_io.encodable): one lone surrogate failed the whole batch
            "wattprint.run_id": encodable(str(footprint.run_id)),
            "wattprint.status": str(footprint.status),
            "wattprint.region": encodable(str(footprint.get("region") or "")),
            "wattprint.project": encodable(str(footprint.get("project") or "")),
        }
        from mlflow.entities import RunTag

        self._retry(
            "log_batch",
            client.log_batch,
            run_id,
            metrics=self._metrics(footprint_metrics(footprint, self.prefix), step),
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        self._log_params(client, run_id, footprint_params(footprint, self.prefix))
        if self.artifact:
            with tempfile.TemporaryDirectory(prefix="wattprint-mlflow-") as tmp:
                path = os.path.join(tmp, artifact_name(str(footprint.run_id)))
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


def artifact_name(run_id: str, max_chars: int = 120) -> str:
    """The footprint artifact's file name: the run id made path-safe, ``.json``; a long id is cut and
    given a hash of the whole id (artifact stores limit names well below 255 bytes), so it is never lost."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).lstrip(".") or "run"
    if len(safe) > max_chars:
        import hashlib

        safe = safe[: max_chars - 13] + "-" + hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return safe + ".json"
