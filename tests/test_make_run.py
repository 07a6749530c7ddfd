"""`make run` and `syndicate serve` as an operator uses them: a real process, real signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SYNDICATE = str(ROOT / ".venv" / "bin" / "syndicate")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(tmp_path: Path) -> dict[str, str]:
    """The operator's shell: no SYNDICATE_ settings but a throwaway instance folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["SYNDICATE_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


class Started:
    """A process in a session of its own, like a terminal's: Ctrl-C signals its whole group."""

    def __init__(self, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.out_path, self.err_path = logs / "out.txt", logs / "err.txt"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True
            )

    def wait_for_output(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.out_path.read_text():
            assert time.monotonic() < deadline and self.process.poll() is None, (
                self.out_path.read_text()
            )
            time.sleep(0.2)

    def stop(self, signum: int) -> tuple[int, str, str]:
        os.killpg(self.process.pid, signum)
        returncode = self.process.wait(timeout=60)
        return returncode, self.out_path.read_text(), self.err_path.read_text()


def _get(url: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (loopback)
                return answer.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_make_run_on_another_port_with_doctor_all_green_and_ctrl_c_stopping_quietly(tmp_path):
    port = _free_port()
    env = _environment(tmp_path)
    # -o: never reinstall the shared .venv from a test, even if pyproject.toml is newer.
    process = Started(["make", "-o", ".venv/.installed", "run", f"PORT={port}"], env, tmp_path)
    try:
        process.wait_for_output("running: ")
        feed = _get(f"http://127.0.0.1:{port}/feeds/rss.xml")
        assert f"http://127.0.0.1:{port}/articles/" in feed  # SITE_URL follows the port
        # The same checkout, another terminal, no settings in the environment: the demo.
        doctor = subprocess.run(
            [SYNDICATE, "doctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "ok    LinkedIn: the built-in sandbox" in doctor.stdout
        assert f"ok    settings: site URL: http://127.0.0.1:{port}" in doctor.stdout
    finally:
        returncode, out, err = process.stop(signal.SIGINT)
    assert "Traceback" not in err, err
    assert returncode == -signal.SIGINT  # make re-raises the interrupt, as shells expect
    assert out.rstrip().splitlines()[-1].endswith(" stopped"), out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_with_the_scheduler_stops_on_a_signal_with_one_line_and_exit_0(tmp_path, signum):
    port = _free_port()
    env = _environment(tmp_path)
    subprocess.run([SYNDICATE, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    process = Started([SYNDICATE, "serve", "--port", str(port), "--with-scheduler"], env, tmp_path)
    try:
        _get(f"http://127.0.0.1:{port}/healthz")
        process.wait_for_output("running: ")
    finally:
        returncode, out, err = process.stop(signum)
    assert "Traceback" not in err, err
    assert returncode == 0
    lines = out.rstrip().splitlines()
    assert lines[-1].startswith("scheduler ") and lines[-1].endswith(" stopped"), out
    assert sum("stopped" in line for line in lines) == 1
