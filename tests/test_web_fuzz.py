"""The OpenAPI document fuzzed with schemathesis against a running ``wfsched web``: no 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_web_support as support
from test_web_support import WebServer

web = support.web


def _schemathesis() -> str:
    pytest.importorskip("schemathesis", reason="tests/requirements-web.txt is not installed")
    beside = Path(sys.executable).parent / "schemathesis"
    return str(beside) if beside.exists() else (shutil.which("schemathesis") or "schemathesis")


def test_openapi_fuzzing_finds_no_server_error(web: WebServer, tmp_path: Path) -> None:
    document = web.get("/openapi.json").json()
    assert set(document["paths"]) == {
        "/api/workflows", "/api/executions", "/api/executions/{id}",
        "/api/executions/{id}/log", "/api/workflows/{name}/trigger",
        "/api/executions/{id}/cancel", "/api/executions/{id}/rerun",
        "/api/workflows/{name}/grid", "/api/schedulers", "/api/workflows/{name}/pause",
        "/api/workflows/{name}/resume"}
    # A few real executions, so that fuzzed ids and names sometimes hit existing ones.
    web.post("/api/workflows/noop/trigger", json={"count": 2})
    # One worker: with threads, hypothesis' ast.parse of filter lambdas can crash CPython 3.11
    # ("AST constructor recursion depth mismatch"), an error of the tool, not of our API.
    result = subprocess.run(
        [_schemathesis(), "run", f"{web.url}/openapi.json", "--checks", "not_a_server_error",
         "--header", f"Authorization: Bearer {web.token}", "--max-examples", "10",
         "--workers", "1", "--no-color", "--generation-database", "none",
         "--report-dir", str(tmp_path / "report")],
        cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout, result.stdout[-3000:]
