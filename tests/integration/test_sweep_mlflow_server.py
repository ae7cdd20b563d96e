"""The documented MLflow UI command serves a sweep's runs, ready to compare by method.

Starts ``mlflow ui --backend-store-uri sqlite:///... --host 127.0.0.1 --port PORT`` (the
command ``harness sweep run`` prints) on a free port and reads the runs, their grouping by
method and an artifact back through its REST API, as the browser UI does.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sweep_checks import run_sweep, sweep_command, tracking_uri, write_tiny_spec


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(base: str, path: str, body: dict | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    with urllib.request.urlopen(urllib.request.Request(base + path, data, headers),
                                timeout=30) as response:
        return response.read()


@pytest.mark.slow
def test_mlflow_ui_serves_the_sweep_grouped_by_method(tmp_path: Path) -> None:
    spec = write_tiny_spec(tmp_path, name="served")
    run_sweep(sweep_command(spec, tmp_path, workers=2))
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen([str(mlflow), "ui", "--backend-store-uri", tracking_uri(tmp_path),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                assert request(base, "/health") == b"OK"
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.5)
        assert b"<html" in request(base, "/").lower()
        experiment = json.loads(request(
            base, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=served"))
        experiment_id = experiment["experiment"]["experiment_id"]
        found = json.loads(request(base, "/api/2.0/mlflow/runs/search", {
            "experiment_ids": [experiment_id],
            "filter": "tags.`harness.role` = 'trial' and tags.selected = 'true'"}))
        runs = found["runs"]
        tags = [{tag["key"]: tag["value"] for tag in run["data"]["tags"]} for run in runs]
        assert Counter(tag["method"] for tag in tags) == {"standard": 1, "asteroid": 1,
                                                          "delta_ml": 1}
        run_id = runs[0]["info"]["run_id"]
        query = urllib.parse.urlencode({"path": "results.json", "run_uuid": run_id})
        results = json.loads(request(base, f"/get-artifact?{query}"))
        assert set(results["test"]) == {"force_mae", "force_rmse", "energy_mae"}
    finally:
        server.terminate()
        server.wait(timeout=30)
