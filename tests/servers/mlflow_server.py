"""A real ``mlflow server`` with a sqlite store and a local artifact root (in the test's tmp folder).

Needs the ``mlflow`` command and sqlalchemy + alembic for the sqlite store
(in the ``test`` extra); skipped with the reason when either is absent.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile

import pytest

from servers._proc import Server, find_binary, free_port


def start_mlflow_server(tmp_dir: str) -> Server:
    binary = find_binary([os.environ.get("WATTPRINT_TEST_MLFLOW", ""), os.path.join(os.path.dirname(sys.executable), "mlflow"), "mlflow"])
    if binary is None:
        pytest.skip("the mlflow command is not installed (pip install mlflow-skinny)")
    for module in ("sqlalchemy", "alembic"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"mlflow server's sqlite store needs {module} (pip install {module}; in the test extra)")
    db = os.path.join(tmp_dir, "mlflow.db")
    template = _template_path()
    if os.path.exists(template):  # an empty store migrated by an earlier test run: skips ~10 s of migrations
        shutil.copyfile(template, db)
    port = free_port()
    argv = [binary, "server", "--backend-store-uri", f"sqlite:///{db}",
            "--default-artifact-root", os.path.join(tmp_dir, "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = dict(os.environ, MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD="false")
    server = Server("mlflow server", argv, port, "/health", log_path=os.path.join(tmp_dir, "mlflow.log"), ready_timeout_s=180.0, env=env)
    if not os.path.exists(template):
        tmp = f"{template}.{os.getpid()}"
        shutil.copyfile(db, tmp)
        os.replace(tmp, template)
    return server


def _template_path() -> str:
    import mlflow

    return os.path.join(tempfile.gettempdir(), f"wattprint-test-mlflow-{mlflow.__version__}-empty.db")
