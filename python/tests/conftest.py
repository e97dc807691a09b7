"""Fixtures: a real `postbox daemon` of this test session's own, and processes connected to it.

The daemon binary is ``$POSTBOX_BIN``, else the workspace's ``target/debug/postbox`` (or under
``$CARGO_TARGET_DIR``); build it with ``cargo build -p postbox-cli``. Each session (each
pytest-xdist worker, too) starts its own daemon on a socket in a fresh temporary directory, waits
until it accepts a connection (polling with a deadline, never sleeping as synchronisation), and
kills it at the end. Tests name their mailboxes uniquely, so they share the daemon safely.
"""

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

import postbox

ROOT = Path(__file__).resolve().parents[2]

#: How long anything in these tests may take to happen before the test fails.
PATIENCE = 10.0


def daemon_binary() -> str:
    explicit = os.environ.get("POSTBOX_BIN")
    if explicit:
        return explicit
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for candidate in (target / "debug" / "postbox", target / "release" / "postbox"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("postbox")
    if found:
        return found
    pytest.exit(
        "no postbox binary: build it with `cargo build -p postbox-cli` or set POSTBOX_BIN",
        returncode=2,
    )


def eventually(check, what: str, patience: float = PATIENCE):
    """Polls ``check()`` until it returns something true; fails naming ``what`` after ``patience``."""
    deadline = time.monotonic() + patience
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


@pytest.fixture(scope="session")
def daemon_url():
    directory = tempfile.mkdtemp(prefix="postbox-py-")
    socket = os.path.join(directory, "postbox.sock")
    daemon = subprocess.Popen(
        [
            daemon_binary(),
            "daemon",
            "--socket",
            socket,
            "--state-dir",
            os.path.join(directory, "state"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"unix://{socket}"
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                postbox.connect(url).close()
                break
            except postbox.ConnectError:
                status = daemon.poll()
                if status is not None:
                    stderr = daemon.stderr.read().decode(errors="replace")
                    pytest.fail(f"the daemon exited during start-up ({status}): {stderr}")
                assert time.monotonic() < deadline, "the daemon did not accept in time"
                time.sleep(0.01)
        yield url
    finally:
        daemon.kill()
        daemon.wait()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def connect(daemon_url):
    """``connect()`` makes a new process on the session's daemon, closed at the end of the test."""
    made = []

    def make():
        process = postbox.connect(daemon_url)
        made.append(process)
        return process

    yield make
    for process in made:
        process.close()


@pytest.fixture
def process(connect):
    return connect()


@pytest.fixture
def name():
    """A mailbox name no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}"
