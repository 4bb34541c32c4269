"""`make serve`: MLflow's scoring server on the champion, started as a user starts it (the project's
environment not on PATH), answering real HTTP requests with valid JSON in the CLI's columns."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from sectortag.jobs.train import train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _strict_json(raw: str):
    def refuse(name):
        raise ValueError(f"not valid JSON: {name}")

    return json.loads(raw, parse_constant=refuse)


@pytest.mark.slow
def test_make_serve_answers_with_valid_json_in_the_cli_columns(project):
    result = train("training/config.toml")
    port = _free_port()
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)  # as a user's shell
    env = {**os.environ, "PATH": path, "PYTHONWARNINGS": "ignore"}
    # -o: the environment is installed already (make test did it); the test is about serving
    server = subprocess.Popen(["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", "serve", f"SERVE_PORT={port}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.time() + 180
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                pytest.fail(f"make serve did not answer: {server.stdout.read()[-3000:] if server.poll() is not None else 'timeout'}")
            time.sleep(1)
        body = json.dumps({"dataframe_records": [
            {"text": "Sở Nội vụ thẩm định đề án sắp xếp, tinh gọn bộ máy các phòng chuyên môn thuộc UBND huyện."},
            {"text": None}]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        answer = _strict_json(urllib.request.urlopen(request, timeout=60).read().decode())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    rows = answer["predictions"]
    assert len(rows) == 2
    assert set(rows[0]) == {"labels", "score_tai_nguyen_moi_truong", "score_ke_hoach_dau_tu", "score_tai_chinh",
                            "score_noi_vu", "error", "model_version", "model_sha256"}
    assert "noi_vu" in rows[0]["labels"] and rows[0]["error"] is None
    assert rows[1]["labels"] == [] and rows[1]["error"] == "missing text" and rows[1]["score_noi_vu"] is None
    assert rows[0]["model_version"] == result.version
