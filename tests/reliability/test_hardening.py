"""Issue 17 hardening: signal-safe lifecycle, path-safe run ids, no lost final files, CSV cells, torn rows."""

import contextlib
import csv
import io
import json
import os
import signal
import weakref

import pytest

from wattprint import ConfigError, Tracker
from wattprint.run import hooks
from wattprint.testing import ManualClock, replay_sensor

INF = float("inf")


class _Killed(Exception):
    pass


@contextlib.contextmanager
def _watchdog(seconds=60):  # a deadlock only; a loaded machine is not one
    """Fail (instead of hanging the suite) when the body deadlocks: SIGALRM interrupts a blocked lock."""

    def on_alarm(signum, frame):
        raise AssertionError(f"deadlock: still blocked after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def _previous_sigterm(handler):
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _tracker(tmp_path, **kw):
    kw.setdefault("run_id", "r1")
    kw.setdefault("handle_signals", True)
    return Tracker(sensors=[replay_sensor(100.0)], clock=ManualClock(), interval_s=INF, output_dir=str(tmp_path), **kw)


def test_sigterm_while_register_holds_the_lock_does_not_deadlock(tmp_path, monkeypatch):
    seen = []
    original = hooks._install_signals

    def install_then_signal():
        original()
        hooks._signal_handler(signal.SIGTERM, None)  # as if SIGTERM landed inside register()

    monkeypatch.setattr(hooks, "_install_signals", install_then_signal)
    with _previous_sigterm(lambda s, f: seen.append(s)), _watchdog():
        t = _tracker(tmp_path)
        t.start()
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is not hooks._signal_handler
    doc = json.loads((tmp_path / "r1.json").read_text())
    assert doc["status"] == "partial"
    assert not t.running


def test_sigterm_while_unregister_holds_the_lock_does_not_deadlock(tmp_path, monkeypatch):
    seen = []

    class SignallingSet(weakref.WeakSet):
        def discard(self, item):
            super().discard(item)
            if item is inner:
                hooks._signal_handler(signal.SIGTERM, None)  # lands while inner's unregister holds the lock

    with _previous_sigterm(lambda s, f: seen.append(s)), _watchdog():
        outer = _tracker(tmp_path, run_id="outer").start()
        inner = _tracker(tmp_path, run_id="inner").start()
        registry = hooks._ACTIVE
        monkeypatch.setattr(hooks, "_ACTIVE", SignallingSet(registry))
        inner.stop()
        assert seen == [signal.SIGTERM]
        assert list(hooks._ACTIVE) == [] and hooks._stopping == {}
        assert signal.getsignal(signal.SIGTERM) is not hooks._signal_handler
        registry.clear()  # the real registry, put back after the test
    assert json.loads((tmp_path / "outer.json").read_text())["status"] == "partial"
    assert (tmp_path / "inner.json").exists()
    assert not outer.running and hooks.active() == []


BAD_RUN_IDS = ["../x", "a/../../x", "/tmp/abs", "a/b", "nul\x00byte", "x" * 251, "é" * 126, "", "   ", ".", "..",
               "line\nbreak", "back\\slash", "c1\x85next-line", "csi\x9b31m", "run\u202egnp.exe", "iso\u2066late\u2069"]


@pytest.mark.parametrize("run_id", BAD_RUN_IDS)
def test_bad_run_id_is_refused_at_construction(tmp_path, run_id):
    with pytest.raises(ConfigError) as err:
        Tracker(run_id=run_id, output_dir=str(tmp_path), sensors=[replay_sensor(1.0)], handle_signals=False)
    assert err.value.setting == "run_id"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("run_id", [r for r in BAD_RUN_IDS if r != "" and "\x00" not in r])
def test_bad_run_id_from_the_environment_names_the_variable(tmp_path, run_id):
    env = {"WATTPRINT_RUN_ID": run_id}
    with pytest.raises(ConfigError) as err:
        Tracker(output_dir=str(tmp_path), sensors=[replay_sensor(1.0)], handle_signals=False, env=env)
    assert err.value.setting == "WATTPRINT_RUN_ID"


def test_generated_and_ordinary_run_ids_pass_the_name_policy(tmp_path):
    from wattprint.settings import check_file_name, new_run_id

    for rid in (new_run_id(), "job-42_branch.main", "x" * 250, "é" * 125, "\u00a0nbsp", "日本語-run", "emoji-\U0001f9d1\u200d\U0001f52c"):
        assert check_file_name("run_id", rid, suffix=".json") == rid
    t = Tracker(output_dir=str(tmp_path), sensors=[replay_sensor(1.0)], handle_signals=False)
    check_file_name("run_id", t.run_id, suffix=".json")


def test_a_long_run_id_is_written(tmp_path):
    t = _tracker(tmp_path, run_id="x" * 250, handle_signals=False).start()
    t.stop()
    assert (tmp_path / ("x" * 250 + ".json")).exists()


def test_run_files_never_write_outside_output_dir(tmp_path):
    from wattprint.run.outputs import RunFiles

    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere.csv"
    out.mkdir()
    elsewhere.write_text("keep\n")
    os.symlink(elsewhere, out / "runs.csv")  # runs.csv swapped for a link out of the folder
    t = _tracker(out, handle_signals=False).start()
    t.stop()
    assert elsewhere.read_text() == "keep\n"
    assert (out / "r1.json").exists()
    with pytest.raises(ConfigError):
        RunFiles(str(out), "../escape", True)


def _kill(signum, frame):
    raise _Killed(signum)


def test_sigterm_inside_stop_after_unregister_still_writes_json_and_csv_row(tmp_path):
    with _previous_sigterm(_kill):
        t = _tracker(tmp_path).start()
        read = t._ledger.read

        def read_then_sigterm(now):
            read(now)
            handler = signal.getsignal(signal.SIGTERM)  # the handler in place once stop() unregistered
            handler(signal.SIGTERM, None)

        t._ledger.read = read_then_sigterm
        with pytest.raises(_Killed):
            t.stop()
        assert signal.getsignal(signal.SIGTERM) is _kill  # chained, then put back
    assert json.loads((tmp_path / "r1.json").read_text())["run_id"] == "r1"
    rows = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert [r["run_id"] for r in rows] == ["r1"]


HOSTILE_CELLS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
                 "=cmd|' /C notepad'!'A1'"]


def _is_formula(cell):
    try:
        float(cell)
        return False
    except ValueError:
        return cell[:1] in ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("hostile", HOSTILE_CELLS)
def test_no_csv_cell_starts_a_formula(tmp_path, hostile):
    from wattprint.report import render

    t = _tracker(tmp_path, run_id="".join("_" if c in "/\t\r" else c for c in hostile), project=hostile, handle_signals=False)
    t.start()
    fp = t.stop()
    rows = list(csv.reader((tmp_path / "runs.csv").open(newline="")))
    report_rows = list(csv.reader(io.StringIO(render([fp], "csv"), newline="")))
    for cells in rows[1:] + report_rows[1:]:
        assert not [c for c in cells if _is_formula(c)], cells
    project = rows[0].index("project")
    assert rows[1][project] == "'" + hostile


def test_csv_cell_sanitiser_leaves_numbers_alone():
    from wattprint._io import csv_cell

    assert csv_cell("-1.5") == "-1.5" and csv_cell(-1.5) == "-1.5" and csv_cell("+3") == "+3" and csv_cell(-2) == -2
    assert csv_cell("-inf") == "-inf" and csv_cell(None) == "" and csv_cell("plain") == "plain"
    assert csv_cell("-x") == "'-x" and csv_cell("=1") == "'=1" and csv_cell("@a") == "'@a"


def _append_run(out, run_id):
    t = _tracker(out, run_id=run_id, handle_signals=False).start()
    t.stop()


def test_row_after_a_torn_last_row_starts_on_its_own_line(tmp_path):
    _append_run(tmp_path, "good")
    path = tmp_path / "runs.csv"
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # the disk filled mid-row: no trailing newline
    _append_run(tmp_path, "next")
    lines = path.read_text().split("\n")
    assert lines[-1] == "" and lines[-2].startswith("wattprint.footprint/1,next,")
    rows = list(csv.DictReader(path.open(newline="")))
    assert rows[-1]["run_id"] == "next" and None not in rows[-1]  # whole, and not glued onto the torn row


def test_a_failed_row_write_leaves_no_torn_row(tmp_path, monkeypatch):
    import errno

    from wattprint import _io

    _append_run(tmp_path, "good")
    path = tmp_path / "runs.csv"
    before = path.read_bytes()
    real_write = os.write

    def half_then_enospc(fd, data):
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_io.os, "write", half_then_enospc)
    with pytest.raises(OSError):
        _io.append_csv_row(str(path), ["run_id"], {"run_id": "x" * 100})
    monkeypatch.undo()
    assert path.read_bytes() == before


def test_a_signal_deferred_by_a_stop_that_raised_goes_through_at_its_deadline(tmp_path, monkeypatch):
    seen, armed = [], []
    monkeypatch.setattr(hooks, "_arm_deadline", armed.append)  # the deadline's timer, fired by hand below
    with _previous_sigterm(lambda s, f: seen.append(s)):
        t = _tracker(tmp_path).start()

        def broken_build(*args, **kwargs):
            raise OverflowError("a stop() that fails before writing")

        t._build = broken_build
        with pytest.raises(OverflowError):
            t.stop()
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # deferred: t never wrote its files
        assert seen == [] and len(armed) == 1
        hooks._redeliver(armed[0])  # the deadline passed: the signal is sent again and goes through
        assert seen == [signal.SIGTERM] and hooks._pending == [] and hooks._stopping == {}
        hooks._restore_signals()  # no tracker left to do it
