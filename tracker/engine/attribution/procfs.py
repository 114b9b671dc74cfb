"""The job's process tree and the node's CPU and memory, read from a ``/proc`` tree.

The root is ``WATTPRINT_PROC_ROOT`` (tests point it at a fake tree built by
:mod:`wattprint.testing.procfs`), else ``/proc``. Files read, as Linux lays them out:

- ``<root>/stat``: first line ``cpu user nice system idle iowait irq softirq steal guest guest_nice``
  in clock ticks (USER_HZ) summed over CPUs; ``cpuN`` lines count the CPUs. Busy is
  user+nice+system+irq+softirq+steal (guest time is already inside user); ``processes N`` counts
  the processes and threads created since boot (a walk of the tree is skipped while it stands still).
- ``<root>/<pid>/stat``: after the parenthesised command, field 4 ``ppid``, 14–17 ``utime stime
  cutime cstime`` (ticks), 22 ``starttime``, 24 ``rss`` (pages).
- ``<root>/<pid>/task/<tid>/children``: the pids of that thread's children (CONFIG_PROC_CHILDREN);
  without it the tree is found by scanning every ``<root>/<pid>/stat`` for ppids.
- ``<root>/meminfo``: ``MemTotal`` and ``MemAvailable`` in kB.
- ``<root>/self/stat``: our own pid (field 1), so a fake tree names the job's root process.

Units: CPU times in ticks (both /proc/stat and /proc/<pid>/stat count USER_HZ), memory in bytes.

Failure modes: none raise. A process that exits between listing and reading is skipped; an
unreadable ``/proc/stat`` gives ``None`` (the attributor then cannot split CPU energy and
says so); a tree whose root cannot be read is just the root pid.
"""

from __future__ import annotations

import os
import weakref
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Set, Tuple

__all__ = ["PROC_ROOT_VAR", "DEFAULT_PROC_ROOT", "ProcReader", "ProcStat", "NodeCpu", "proc_root"]

PROC_ROOT_VAR = "WATTPRINT_PROC_ROOT"
DEFAULT_PROC_ROOT = "/proc"
try:
    PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
    PAGE_BYTES = 4096


def proc_root(env: Optional[Mapping[str, str]] = None) -> Tuple[str, bool]:
    """``(root, injected)``: ``WATTPRINT_PROC_ROOT`` from ``env`` (``os.environ`` when ``None``), else ``/proc``."""
    raw = (os.environ if env is None else env).get(PROC_ROOT_VAR)
    return (raw, True) if raw else (DEFAULT_PROC_ROOT, False)


class ProcStat(NamedTuple):
    """One process's ``stat``: ticks of its own and of its reaped children, start time, resident bytes."""

    pid: int
    ppid: int
    self_ticks: int  # utime + stime
    child_ticks: int  # cutime + cstime (reaped descendants)
    start_ticks: int
    rss_bytes: int


class NodeCpu(NamedTuple):
    busy_ticks: int
    total_ticks: int
    n_cpus: int


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("ascii", "replace")
    except OSError:
        return None


def parse_stat(text: str) -> Optional[ProcStat]:
    """Parse a ``/proc/<pid>/stat`` line (the command may hold spaces and parentheses)."""
    return parse_stat_bytes(text.encode("ascii", "replace"))


def parse_stat_bytes(data: bytes) -> Optional[ProcStat]:
    """:func:`parse_stat` on the file's bytes (``int`` reads ASCII digits in bytes: no decode on the tick)."""
    end = data.rfind(b")")
    if end < 0:
        return None
    try:
        pid = int(data[: data.index(b"(")])
        f = data[end + 1 :].split(None, 23)  # f[0] is field 3 (state); fields past rss are not split
        return ProcStat(pid, int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14]), int(f[19]), int(f[21]) * PAGE_BYTES)
    except (ValueError, IndexError):
        return None


def _field_kb(data: bytes, key: bytes) -> Optional[int]:
    """The value of ``key`` (``b"MemTotal:"``) in a ``meminfo`` text, in bytes; ``None`` if absent."""
    i = data.find(key)
    if i < 0 or (i > 0 and data[i - 1] != 10):  # at a line start
        return None
    j = data.find(b"\n", i)
    try:
        return int(data[i + len(key) : j if j >= 0 else len(data)].split()[0]) * 1024
    except (ValueError, IndexError):
        return None


def _close_all(fds: Dict[str, int]) -> None:
    for fd in list(fds.values()):
        try:
            os.close(fd)
        except OSError:
            pass
    fds.clear()


class ProcReader:
    """Reads the process tree, the node's CPU ticks and memory from ``root``.

    The files read on every sample (``stat``, ``meminfo``, the tree's ``<pid>/stat``) are kept
    open and re-read with ``pread`` (a fraction of an open's cost); at most :attr:`MAX_OPEN`
    are kept, all are closed with the reader (or :meth:`close`).
    """

    MAX_OPEN = 64

    def __init__(self, root: str = DEFAULT_PROC_ROOT) -> None:
        self.root = root
        self._children_supported: Optional[bool] = None
        self._fds: Dict[str, int] = {}
        self._n_cpus: Optional[int] = None
        self._stat_size = 1 << 16  # the whole of stat (its intr line grows with the CPUs and interrupts)
        self.real = os.path.realpath(root) == DEFAULT_PROC_ROOT
        self._check_links = not self.real  # real /proc answers ESRCH instead
        self._stat_path = os.path.join(root, "stat")
        self._meminfo_path = os.path.join(root, "meminfo")
        self._finalizer = weakref.finalize(self, _close_all, self._fds)

    def close(self) -> None:
        self._finalizer()

    def _path(self, *parts: object) -> str:
        return os.path.join(self.root, *(str(p) for p in parts))

    def _read_kept(self, path: str, size: int = 4096) -> Optional[bytes]:
        """``path``'s bytes through a kept descriptor; ``None`` if it is gone (a process that exited)."""
        fd = self._fds.get(path)
        if fd is None:
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                return None
            if len(self._fds) >= self.MAX_OPEN:
                _close_all(self._fds)
            self._fds[path] = fd
        try:
            data = os.pread(fd, size, 0)
            if not data or (self._check_links and os.fstat(fd).st_nlink == 0):  # a fake tree's exited process
                raise OSError("gone")
        except OSError:  # ESRCH: the process exited
            self._fds.pop(path, None)
            try:
                os.close(fd)
            except OSError:
                pass
            return None
        return data

    def forget(self, pid: int) -> None:
        """Close the kept descriptor of ``pid``'s ``stat`` (a process that left the tree)."""
        fd = self._fds.pop(f"{self.root}/{pid}/stat", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def self_pid(self) -> int:
        """Our pid as this tree names it (``self/stat``), else ``os.getpid()``."""
        text = _read(self._path("self", "stat"))
        st = parse_stat(text) if text else None
        return st.pid if st is not None else os.getpid()

    def stat(self, pid: int) -> Optional[ProcStat]:
        text = _read(self._path(pid, "stat"))
        return parse_stat(text) if text else None

    def stat_kept(self, pid: int) -> Optional[ProcStat]:
        """:meth:`stat` through a kept descriptor (for the pids read on every sample)."""
        data = self._read_kept(f"{self.root}/{pid}/stat")
        return parse_stat_bytes(data) if data else None

    def node_cpu(self) -> Optional[NodeCpu]:
        """The node's busy and total ticks since boot, and its CPU count (``None`` if unreadable)."""
        n_cpus = self._n_cpus
        data = self._read_kept(self._stat_path, 1 << 20 if n_cpus is None else 256)  # the cpu line, once counted
        if not data:
            return None
        end = data.find(b"\n")
        head = data if end < 0 else data[:end]
        if not head.startswith(b"cpu "):
            return None
        f = head.split()
        try:
            if len(f) >= 9:  # as every kernel since 2.6.11 writes it
                busy = int(f[1]) + int(f[2]) + int(f[3]) + int(f[6]) + int(f[7]) + int(f[8])
                idle = int(f[4]) + int(f[5])
            else:
                v = [int(x) for x in f[1:]] + [0] * (9 - len(f))
                busy, idle = v[0] + v[1] + v[2] + v[5] + v[6] + v[7], v[3] + v[4]
        except ValueError:
            return None
        if n_cpus is None:  # the CPU count is fixed: the cpuN lines are counted once
            n = sum(1 for line in data.split(b"\n") if line.startswith(b"cpu") and line[3:4].isdigit())
            n_cpus = self._n_cpus = max(n, 1)
        return NodeCpu(busy, busy + idle, n_cpus)

    def forks(self) -> Optional[int]:
        """Processes and threads created on the node since boot (``processes`` in ``stat``), or ``None``."""
        data = self._read_kept(self._stat_path, self._stat_size)
        if not data:
            return None
        i = data.find(b"\nprocesses ")
        if i < 0 and len(data) >= self._stat_size:  # the file grew past the buffer: once more, larger
            self._stat_size = 4 * len(data)
            return self.forks()
        end = data.find(b"\n", i + 11)
        if i < 0 or end < 0:
            return None
        try:
            return int(data[i + 11 : end])
        except ValueError:
            return None

    def meminfo(self) -> Optional[Tuple[int, int]]:
        """``(total_bytes, available_bytes)`` from ``meminfo``, or ``None``."""
        data = self._read_kept(self._meminfo_path)
        if not data:
            return None
        total = _field_kb(data, b"MemTotal:")
        if total is None:
            return None
        avail = _field_kb(data, b"MemAvailable:")
        if avail is None:
            avail = _field_kb(data, b"MemFree:")
        return total, avail or 0

    def children(self, pid: int) -> Optional[List[int]]:
        """Children of ``pid`` from its threads' ``children`` files; ``None`` when the kernel has none."""
        if self._children_supported is False:
            return None
        try:
            tids = os.listdir(self._path(pid, "task"))
        except OSError:
            return []
        out: List[int] = []
        for tid in tids:
            text = _read(self._path(pid, "task", tid, "children"))
            if text is None:
                if self._children_supported is None and not os.path.exists(self._path(pid, "task", tid, "children")):
                    self._children_supported = False
                    return None
                continue
            self._children_supported = True
            out.extend(int(x) for x in text.split() if x.isdigit())
        return out

    def ppids(self) -> Dict[int, int]:
        """``{pid: ppid}`` of every process (the full scan, when ``children`` files are missing)."""
        out: Dict[int, int] = {}
        try:
            entries = os.listdir(self.root)
        except OSError:
            return out
        for e in entries:
            if e.isdigit():
                st = self.stat(int(e))
                if st is not None:
                    out[st.pid] = st.ppid
        return out

    def tree(self, root_pid: int) -> Set[int]:
        """``root_pid`` and all its descendants alive now."""
        seen = {root_pid}
        todo = [root_pid]
        kids = self.children(root_pid)
        if kids is None:  # no children files: one scan of every process
            by_parent: Dict[int, List[int]] = {}
            for pid, ppid in self.ppids().items():
                by_parent.setdefault(ppid, []).append(pid)
            while todo:
                for c in by_parent.get(todo.pop(), ()):
                    if c not in seen:
                        seen.add(c)
                        todo.append(c)
            return seen
        pending: List[Tuple[int, List[int]]] = [(root_pid, kids)]
        while pending:
            _, kids_now = pending.pop()
            for c in kids_now:
                if c not in seen:
                    seen.add(c)
                    pending.append((c, self.children(c) or []))
        return seen

    def ancestors(self, pid: int, limit: int = 64) -> List[int]:
        """The chain of parents of ``pid`` (nearest first), up to pid 1."""
        out: List[int] = []
        st = self.stat(pid)
        while st is not None and st.ppid > 0 and len(out) < limit:
            out.append(st.ppid)
            st = self.stat(st.ppid)
        return out

    def stats(self, pids: Iterable[int]) -> List[ProcStat]:
        out = []
        for pid in pids:
            st = self.stat_kept(pid)
            if st is not None:
                out.append(st)
        return out
