"""Services and files checked before a search creates anything (search.run.services, search.records.stores)."""
from __future__ import annotations

import http.server
import socket
import threading

import pytest

from fwformer.cli import ConfigError
from search.run import check_ray_address, check_storage, check_tracking, unreachable
from search.records import redact


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.fixture
def health_server():
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_server_that_answers_its_health_check_passes(health_server):
    check_tracking(health_server)
    with pytest.raises(ConfigError, match=r"does not answer .*HTTP 404"):
        check_tracking(health_server + "/sub")


def test_unreachable_services_are_named_quickly():
    port = closed_port()
    assert unreachable("127.0.0.1", port, timeout=1) is not None
    with pytest.raises(ConfigError, match=rf"MLflow tracking server http://127.0.0.1:{port} does not answer within"):
        check_tracking(f"http://127.0.0.1:{port}", timeout=1)
    with pytest.raises(ConfigError, match=rf"Ray cluster at 127.0.0.1:{port} does not answer within"):
        check_ray_address(f"127.0.0.1:{port}", timeout=1)
    with pytest.raises(ConfigError, match=r"'postgresql://me:\*\*\*@127.0.0.1:\d+/optuna' does not answer"):
        check_storage(f"postgresql://me:secret@127.0.0.1:{port}/optuna", timeout=1)


def test_bad_urls_and_folders(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"unknown scheme 'ftp'; expected sqlite:///FILE"):
        check_tracking("ftp://host/x")
    with pytest.raises(ConfigError, match=r"--storage 'redis://h/0' has an unknown scheme 'redis'"):
        check_storage("redis://h/0")
    with pytest.raises(ConfigError, match=r"folder '.*a-file' does not exist"):
        check_storage(f"sqlite:///{blocker}/optuna.db")
    with pytest.raises(ConfigError, match=r"--address 'nowhere' must be HOST:PORT"):
        check_ray_address("nowhere")
    check_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    assert not (tmp_path / "optuna.db").exists(), "checking creates nothing"


@pytest.mark.parametrize("url, shown", [
    ("postgresql://me:s3cret@db:5432/optuna", "postgresql://me:***@db:5432/optuna"),
    ("http://user:pw@mlflow:5000", "http://user:***@mlflow:5000"),
    ("redis://:pw@h:6379", "redis://:***@h:6379"),
    ("sqlite:////tmp/optuna.db", "sqlite:////tmp/optuna.db"),
    ("postgresql://me@db/optuna", "postgresql://me@db/optuna"),
])
def test_passwords_are_masked(url, shown):
    assert redact(url) == shown
