"""`JudgeServer.stop` leaves nothing of the server's process group behind, even a process that
ignores SIGTERM: after a sweep, a vLLM engine core outlived its SIGTERMed server and held 7 GB.
The server here is a small Python HTTP server standing in for vLLM's (a real one takes a minute to
start and cannot be made to leave a child behind on cue)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rayeval.judge.server import JudgeServer

SERVER = """
import http.server, subprocess, sys
port, pid_file = int(sys.argv[1]), sys.argv[2]
stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
child = subprocess.Popen([sys.executable, "-c", stubborn])
open(pid_file, "w").write(str(child.pid))

class Models(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", port), Models).serve_forever()
"""


class StandInServer(JudgeServer):
    """The real start/stop around a stand-in command."""

    def __init__(self, script: Path, pid_file: Path) -> None:
        super().__init__("stand-in", tp=1, use_gpu=False, gpu_ids=[])
        self.script, self.pid_file = script, pid_file

    def _command(self, port: int) -> list[str]:
        return [sys.executable, str(self.script), str(port), str(self.pid_file)]


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def test_stop_also_kills_a_server_child_that_ignores_sigterm(tmp_path: Path) -> None:
    script, pid_file = tmp_path / "server.py", tmp_path / "child.pid"
    script.write_text(SERVER)
    server = StandInServer(script, pid_file)
    server.start(timeout=60)
    child = int(pid_file.read_text())
    assert running(child)
    server.stop()
    deadline = time.monotonic() + 10
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(child), "a process of the judge server's group outlived stop()"
