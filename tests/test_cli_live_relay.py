"""`wattprint run --live` on a terminal: the child's lines and the status line never share a line (issue 19).

A real pseudo-terminal stands in for the user's terminal; what reaches it is replayed through a
small terminal model (carriage return, clear-to-end-of-line, newline) to get the screen's lines.
"""

from __future__ import annotations

import os
import pty
import sys

import pytest
from wattprint.cli.relay import Relayed, spawn
from wattprint.exporters.live import LiveStatus
from wattprint.testing import replay_tracker

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")


def screen(data: bytes) -> list:
    """The lines a terminal shows after ``data`` (\\r, \\n, ESC[K; nothing else is needed here)."""
    lines, col = [""], 0
    text = data.decode("utf-8", "replace").replace("\x1b[K", "\x00")
    for ch in text:
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("")
            col = 0
        elif ch == "\x00":
            lines[-1] = lines[-1][:col]
        else:
            cur = lines[-1]
            lines[-1] = cur[:col] + ch + cur[col + 1 :]
            col += 1
    return lines


_END = b"<wattprint-test-end>"


def read_all(fd: int, term: object) -> bytes:
    """Everything written to the terminal so far: a marker is written behind it and read up to.

    A pty hands written bytes to its reader asynchronously; reading until the marker (instead of
    until the first empty read) never misses the tail. The 30 s cap only guards against a hang.
    """
    import select

    term.write(_END)  # type: ignore[attr-defined]
    chunks = b""
    while _END not in chunks:
        ready, _, _ = select.select([fd], [], [], 30.0)
        if not ready:
            raise AssertionError(f"the terminal never showed the end marker; got {chunks!r}")
        chunks += os.read(fd, 65536)
    return chunks.replace(_END, b"")


def test_child_lines_are_never_glued_to_the_status_line(tmp_path):
    master, slave = pty.openpty()
    term_text = open(os.dup(slave), "w", encoding="utf-8")  # the user's terminal, as stderr
    term_bytes = open(os.dup(slave), "wb", buffering=0)  # ... and as stdout
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path), save=False)
    t.start()
    clock.advance(1.0)
    t.sample_now()
    live = LiveStatus(stream=term_text, enabled=True, min_interval_s=0.0)
    assert live.tty
    live.on_sample(t.snapshot())  # the status line is showing when the child starts writing
    code = "import sys; [print(f'epoch {i}: loss 0.500', flush=True) for i in range(3)]; sys.stderr.write('warn\\n')"
    child = spawn([sys.executable, "-c", code], live, streams={"stdout": term_bytes, "stderr": term_bytes})
    assert isinstance(child, Relayed)
    assert child.wait(drain_s=60.0) == 0  # the pumps' drain is bounded in real time (2 s default): a cap here
    shown = screen(read_all(master, term_bytes))
    assert [ln for ln in shown if ln.startswith("epoch")] == ["epoch 0: loss 0.500", "epoch 1: loss 0.500", "epoch 2: loss 0.500"]
    assert "warn" in shown
    status_lines = [ln for ln in shown if "wattprint |" in ln]
    assert len(status_lines) == 1 and shown[-1].startswith("wattprint |")  # redrawn once, below the child's output
    live.close()
    final = screen(b"".join([b"\n".join(s.encode() for s in shown), read_all(master, term_bytes)]))
    assert not any("wattprint |" in ln for ln in final)  # cleared at the end: no stale status line
    t.stop()
    for f in (term_text, term_bytes):
        f.close()
    os.close(master)
    os.close(slave)


def test_stdout_and_stderr_on_one_terminal_keep_the_childs_order(tmp_path):
    master, slave = pty.openpty()
    term_text = open(os.dup(slave), "w", encoding="utf-8")
    term_bytes = open(os.dup(slave), "wb", buffering=0)
    live = LiveStatus(stream=term_text, enabled=True, min_interval_s=0.0)
    code = (
        "import sys\n"
        "for i in range(20):\n"
        "    s = sys.stdout if i % 2 == 0 else sys.stderr\n"
        "    s.write(f'line {i}\\n'); s.flush()\n"
    )
    child = spawn([sys.executable, "-c", code], live, streams={"stdout": term_bytes, "stderr": term_bytes})
    assert isinstance(child, Relayed) and len(child._masters) == 1  # one pty for the one terminal
    assert child.wait(drain_s=60.0) == 0
    shown = [ln for ln in screen(read_all(master, term_bytes)) if ln.startswith("line")]
    assert shown == [f"line {i}" for i in range(20)]
    for f in (term_text, term_bytes):
        f.close()
    os.close(master)
    os.close(slave)


def test_without_a_live_terminal_line_the_child_inherits_the_streams(tmp_path):
    live = LiveStatus(stream=open(os.devnull, "w"), enabled=True)  # not a terminal
    child = spawn([sys.executable, "-c", "pass"], live)
    assert not isinstance(child, Relayed) and child.wait() == 0
    assert not isinstance(spawn([sys.executable, "-c", "pass"], None), Relayed)
