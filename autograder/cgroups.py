"""Control groups for jails: one group per running submission, limiting memory, processes and CPU.

RLIMIT_AS limits one process's address space, so a submission escapes it by forking (`os.fork`, or
`libc.fork` through ctypes, which no audit hook sees) or by keeping memory in memfd / tmpfs pages.
A memory control group counts every page its processes are charged for (anonymous memory,
shared memory and tmpfs / memfd pages included) across all of them, and its OOM killer acts
inside the group only; `pids.max` bounds processes and threads; a CFS quota bounds CPU time.

Layout: for each controller (memory, pids, cpu) the hierarchy that hosts it is found from
`/proc/self/mountinfo` (cgroup v1: one mount per controller or set of controllers; cgroup v2: the
unified mount, where the controller must be listed in the own group's `cgroup.controllers`), and
the process's own group in it from `/proc/self/cgroup`. Groups are only ever made beneath that own
group:

    <own group>/<prefix>-<pid>-<random>/          a batch: holds no process
    <own group>/<prefix>-<pid>-<random>/<jail>/   one per submission: limits, processes

On cgroup v2 the batch enables the controllers for its children in its `cgroup.subtree_control`
(the "no internal processes" rule: only the jail groups, leaves, hold processes). That needs the
controllers enabled in the own group's `cgroup.subtree_control` too, which the kernel refuses while
the own group holds processes (unless it is the root group). `Batch.create(vacate=True)` then moves
every process of the own group into a leaf `<own group>/autograder-leaf` first (what a delegated
systemd service or a container's init is expected to do); later batches of this process see that
leaf as their own group and use its parent, the group they vacated.

Groups are plain data (paths as strings): a `JailGroup` can be handed to a forked child, which joins
it (`join()`) while it is still root, before it drops to the jail's uid.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import signal
import time
from dataclasses import dataclass, field

CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
LEAF = "autograder-leaf"  # the leaf made by vacate=True on cgroup v2 (see the module docstring)
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


class CgroupError(OSError):
    """A control-group step was refused or is impossible here (the message names the step)."""


# ---------------------------------------------------------------------------------------------
# discovery


@dataclass(frozen=True)
class Mount:
    """One cgroup mount: `root` is the group of the hierarchy shown at `mountpoint`."""

    version: int  # 1 or 2
    root: str
    mountpoint: str
    controllers: frozenset  # v1: those bound to this hierarchy (name=... excluded); v2: empty


def _unescape(s: str) -> str:  # mountinfo escapes space, tab, newline and backslash as \ooo
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def parse_mountinfo(text: str) -> list:
    """The cgroup mounts listed in a /proc/<pid>/mountinfo text."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if len(fields) < sep + 4 or sep < 5:
            continue
        fstype, superopts = fields[sep + 1], fields[sep + 3].split(",")
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            mounts.append(Mount(2, root, mountpoint, frozenset()))
        elif fstype == "cgroup":
            names = frozenset(o for o in superopts if o in CONTROLLERS or o in ("cpuacct", "cpuset"))
            mounts.append(Mount(1, root, mountpoint, names))
    return mounts


def parse_proc_cgroup(text: str) -> dict:
    """controller -> own group path from a /proc/<pid>/cgroup text; the v2 group under key ''."""
    own = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, names, path = parts
        if names == "":
            own[""] = path
        else:
            for name in names.split(","):
                own[name] = path
    return own


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _host_path(mount: Mount, group: str) -> str | None:
    """The directory of `group` (as /proc/self/cgroup names it) under `mount`, or None when the
    mount does not show it (a mount of some other part of the hierarchy)."""
    if group.endswith(" (deleted)"):
        return None
    root = mount.root.rstrip("/")
    if root and group != root and not group.startswith(root + "/"):
        return None
    rel = group[len(root) :].strip("/")
    path = os.path.join(mount.mountpoint, rel) if rel else mount.mountpoint
    return path if os.path.isfile(os.path.join(path, "cgroup.procs")) else None


@dataclass(frozen=True)
class Part:
    """One hierarchy's share of a group: its directory and the controllers it limits there."""

    version: int
    path: str
    controllers: tuple


def _layout() -> tuple:
    """(parts, reasons): for each hierarchy used, the own group's directory and the controllers
    it hosts; `reasons` say why a controller has no usable hierarchy."""
    try:
        own = parse_proc_cgroup(_read("/proc/self/cgroup"))
        mounts = parse_mountinfo(_read("/proc/self/mountinfo"))
    except OSError as e:
        return [], [f"cannot read /proc/self/cgroup or mountinfo: {e}"]
    found: dict = {}  # controller -> (version, own dir)
    reasons = []
    for m in mounts:
        if m.version != 1:
            continue
        for c in m.controllers & set(CONTROLLERS):
            if c in found or c not in own:
                continue
            path = _host_path(m, own[c])
            if path is not None:
                found[c] = (1, path)
    if "" in own:
        for m in mounts:
            if m.version != 2:
                continue
            path = _host_path(m, own[""])
            if path is None:
                continue
            if os.path.basename(path) == LEAF:  # our own leaf (vacate=True): its parent is ours
                path = os.path.dirname(path)
            try:
                available = set(_read(os.path.join(path, "cgroup.controllers")).split())
            except OSError:
                continue
            for c in CONTROLLERS:
                if c not in found and c in available:
                    found[c] = (2, path)
            if not available & set(CONTROLLERS):
                reasons.append(
                    f"the cgroup v2 group {path} offers none of {', '.join(CONTROLLERS)}"
                    f" (cgroup.controllers: {' '.join(sorted(available)) or 'empty'})"
                )
            break
    missing = [c for c in CONTROLLERS if c not in found]
    if missing:
        reasons.insert(
            0,
            f"no usable cgroup hierarchy for {', '.join(missing)} (own groups "
            f"{own}, cgroup mounts {[m.mountpoint for m in mounts] or 'none'})",
        )
        return [], reasons
    by_dir: dict = {}
    for c in CONTROLLERS:
        version, path = found[c]
        by_dir.setdefault((version, path), []).append(c)
    return [Part(v, p, tuple(cs)) for (v, p), cs in by_dir.items()], reasons


def own_groups() -> list:
    """The own group of this process in each hierarchy used, as `Part`s (empty when unusable)."""
    return _layout()[0]


# ---------------------------------------------------------------------------------------------
# groups


def _procs(path: str) -> list:
    try:
        return [int(p) for p in _read(os.path.join(path, "cgroup.procs")).split()]
    except FileNotFoundError:
        return []


def _kill_part(part: Part, timeout: float) -> bool:
    """SIGKILL every process of one directory's group until it is empty; True when it is."""
    if part.version == 2 and os.path.exists(os.path.join(part.path, "cgroup.kill")):
        try:
            _write(os.path.join(part.path, "cgroup.kill"), "1")
        except FileNotFoundError:
            return True
        except OSError:
            pass  # fall back on killing them one by one
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        pids = _procs(part.path)
        if not pids:
            return True
        for pid in pids:  # a fork between the read and the kill is caught by the next round
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if time.monotonic() > deadline:
            return not _procs(part.path)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _rmdir(path: str, timeout: float) -> None:
    """Remove one group directory; already gone is fine; EBUSY (a process still exiting) is
    retried until `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise CgroupError(e.errno, f"remove the group {path}: {e.strerror}") from None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


@dataclass(frozen=True)
class JailGroup:
    """The group of one jail, one directory per hierarchy. Plain, picklable data."""

    name: str
    parts: tuple  # of Part

    @property
    def paths(self) -> tuple:
        return tuple(p.path for p in self.parts)

    def _dir(self, controller: str) -> str:
        for p in self.parts:
            if controller in p.controllers:
                return p.path
        raise CgroupError(errno.ENOENT, f"jail group {self.name} has no {controller} controller")

    def join(self, pid: int = 0) -> None:
        """Move process `pid` (0: the calling process) into this group in every hierarchy. The
        writer must be allowed to (root, before the jail drops its privileges)."""
        for p in self.parts:
            try:
                _write(os.path.join(p.path, "cgroup.procs"), str(int(pid)))
            except OSError as e:
                raise CgroupError(e.errno, f"join {p.path}: {os.strerror(e.errno or 0)}") from None

    def pids(self) -> list:
        """The processes in the group (of the first hierarchy; they join all of them together)."""
        return _procs(self.parts[0].path) if self.parts else []

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process in the group, until none is left; True when it is empty."""
        ok = True
        for p in self.parts:
            ok = _kill_part(p, timeout) and ok
        return ok

    def remove(self, timeout: float = 2.0) -> None:
        """Kill what is left and remove the group's directories (already gone is fine)."""
        self.kill()
        for p in self.parts:
            _rmdir(p.path, timeout)

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of this group (its memory limit)."""
        path = self._dir("memory")
        for name in ("memory.events", "memory.oom_control"):  # v2, v1 (oom_kill: kernel 4.13+)
            try:
                for line in _read(os.path.join(path, name)).splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value) > 0
            except FileNotFoundError:
                continue
        try:  # an old v1 kernel: the limit was reached at least once
            return int(_read(os.path.join(path, "memory.failcnt"))) > 0
        except (FileNotFoundError, ValueError):
            return False

    def memory_peak(self) -> int | None:
        """The most memory the group used at once, in bytes (None where the kernel does not say)."""
        path = self._dir("memory")
        for name in ("memory.peak", "memory.max_usage_in_bytes"):  # v2 (5.19+), v1
            try:
                return int(_read(os.path.join(path, name)))
            except (FileNotFoundError, ValueError):
                continue
        return None

    def cpu_usage_s(self) -> float | None:
        """CPU time used by the group so far, in seconds (None where the kernel does not say)."""
        path = self._dir("cpu")
        try:
            for line in _read(os.path.join(path, "cpu.stat")).splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":  # v2
                    return int(value) / 1e6
            return int(_read(os.path.join(path, "cpuacct.usage"))) / 1e9  # v1, cpu,cpuacct together
        except (FileNotFoundError, ValueError):
            return None


def _limit(part: Part, memory_bytes: int, max_pids: int, cpu_cores: float) -> None:
    def put(name: str, value: str, optional: bool = False) -> None:
        path = os.path.join(part.path, name)
        if optional and not os.path.exists(path):
            return
        try:
            _write(path, value)
        except OSError as e:
            raise CgroupError(e.errno, f"set {path} to {value}: {os.strerror(e.errno or 0)}") from None

    quota = max(1000, int(round(cpu_cores * CPU_PERIOD_US)))
    if "memory" in part.controllers:
        if part.version == 1:
            put("memory.limit_in_bytes", str(memory_bytes))  # first: memsw may not be below it
            put("memory.memsw.limit_in_bytes", str(memory_bytes), optional=True)  # no escape by swap
        else:
            put("memory.max", str(memory_bytes))
            put("memory.swap.max", "0", optional=True)
    if "pids" in part.controllers:
        put("pids.max", str(max_pids))
    if "cpu" in part.controllers:
        if part.version == 1:
            put("cpu.cfs_period_us", str(CPU_PERIOD_US))
            put("cpu.cfs_quota_us", str(quota))
        else:
            put("cpu.max", f"{quota} {CPU_PERIOD_US}")


def _enable(path: str, controllers: tuple) -> None:
    """Enable `controllers` for the children of the v2 group at `path` (those already on are kept)."""
    on = set(_read(os.path.join(path, "cgroup.subtree_control")).split())
    wanted = [c for c in controllers if c not in on]
    if wanted:
        _write(os.path.join(path, "cgroup.subtree_control"), " ".join("+" + c for c in wanted))


def _vacate(path: str) -> None:
    """Move every process of the v2 group at `path` into its leaf child LEAF."""
    leaf = os.path.join(path, LEAF)
    os.makedirs(leaf, exist_ok=True)
    for _ in range(100):
        pids = _procs(path)
        if not pids:
            return
        for pid in pids:
            try:
                _write(os.path.join(leaf, "cgroup.procs"), str(pid))
            except ProcessLookupError:
                pass
    raise CgroupError(errno.EBUSY, f"could not move every process of {path} into {leaf}")


def _step(fn, *args, what: str):
    """fn(*args), an OSError turned into a CgroupError that names the step."""
    try:
        return fn(*args)
    except CgroupError:
        raise
    except OSError as e:
        raise CgroupError(e.errno, f"{what}: {os.strerror(e.errno) if e.errno else e}") from None


def _prepare_v2(own: Part, vacate: bool) -> None:
    """Enable the controllers for the children of the own v2 group (vacating it first if asked)."""
    names = " ".join(own.controllers)
    try:
        _enable(own.path, own.controllers)
        return
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise CgroupError(
                e.errno, f"enable {names} in {own.path}/cgroup.subtree_control: {os.strerror(e.errno or 0)}"
            ) from None
        if not vacate:
            raise CgroupError(
                e.errno,
                f"cannot enable {names} for the children of {own.path}: it "
                "holds processes (cgroup v2 no-internal-process rule); run the "
                "grader in a leaf of a delegated group, or pass vacate=True",
            ) from None
    _step(_vacate, own.path, what=f"move the processes of {own.path} into {LEAF}")
    _step(_enable, own.path, own.controllers, what=f"enable {names} in {own.path}/cgroup.subtree_control")


def _sweep_stale(own_path: str, prefix: str) -> None:
    """Remove the batch groups that a grader killed before its close() left here (its pid is gone): their
    jails are empty (a jail dies with its grader), so only the empty directories remain, deepest first."""
    pattern = re.compile(rf"{re.escape(prefix)}-(\d+)-[0-9a-f]{{8}}")
    try:
        entries = os.listdir(own_path)
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry)
        if not m or os.path.exists(f"/proc/{m.group(1)}"):
            continue
        top = os.path.join(own_path, entry)
        for dirpath, _dirnames, _ in sorted(os.walk(top), key=lambda w: -w[0].count(os.sep)):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass  # not empty yet, or gone: a later batch tries again


@dataclass
class Batch:
    """One parent group per hierarchy (beneath the own group) for the jails of one batch."""

    name: str
    parts: tuple  # of Part: the batch's directories
    jails: list = field(default_factory=list)
    closed: bool = False

    @classmethod
    def create(cls, prefix: str = "autograder", *, vacate: bool = False) -> Batch:
        """Make the batch's groups. Raises CgroupError when that is impossible here (see probe).
        `vacate`: on cgroup v2, where the own group holds processes and has the controllers not
        yet enabled for its children, move those processes into a leaf first (module docstring)."""
        if not _NAME.fullmatch(prefix):
            raise ValueError(f"bad prefix {prefix!r}")
        own, reasons = _layout()
        if not own:
            raise CgroupError(errno.ENOTSUP, "; ".join(reasons))
        for p in own:
            _sweep_stale(p.path, prefix)
        name = f"{prefix}-{os.getpid()}-{secrets.token_hex(4)}"
        batch = cls(name, ())
        try:
            for p in own:
                if p.version == 2:
                    _prepare_v2(p, vacate)
                path = os.path.join(p.path, name)
                _step(os.mkdir, path, what=f"make the group {path}")
                batch.parts += (Part(p.version, path, p.controllers),)
                if p.version == 2:  # the batch holds no process; its children get the controllers
                    _step(_enable, path, p.controllers, what=f"enable {' '.join(p.controllers)} in {path}")
        except BaseException:
            try:
                batch.close()
            except CgroupError:
                pass
            raise
        return batch

    def jail(self, name: str, *, memory_bytes: int, max_pids: int, cpu_cores: float) -> JailGroup:
        """Make the group of one jail, with its limits: memory (all pages charged to it, shared
        memory included, no swap), processes and threads, and CPU time (`cpu_cores` CPUs)."""
        if self.closed:
            raise CgroupError(errno.ESHUTDOWN, f"batch {self.name} is closed")
        if not _NAME.fullmatch(name):
            raise ValueError(f"bad jail group name {name!r}")
        if memory_bytes <= 0 or max_pids <= 0 or not cpu_cores > 0:
            raise ValueError("memory_bytes, max_pids and cpu_cores must be positive")
        parts = []
        group = JailGroup(name, ())
        try:
            for p in self.parts:
                path = os.path.join(p.path, name)
                _step(os.mkdir, path, what=f"make the group {path}")
                parts.append(Part(p.version, path, p.controllers))
                group = JailGroup(name, tuple(parts))
                _limit(parts[-1], int(memory_bytes), int(max_pids), float(cpu_cores))
        except BaseException:
            try:
                group.remove()
            except CgroupError:
                pass
            raise
        self.jails.append(group)
        return group

    def close(self) -> None:
        """Kill every process left in the batch's groups and remove them all (idempotent; groups
        already gone are fine). Raises CgroupError if a group could not be removed."""
        errors = []
        for j in self.jails:
            try:
                j.remove()
            except CgroupError as e:
                errors.append(e)
        for p in self.parts:
            try:  # jail groups not made by jail(): their processes, then the directories
                for sub in sorted(os.listdir(p.path)):
                    child = os.path.join(p.path, sub)
                    if os.path.isdir(child):
                        JailGroup(sub, (Part(p.version, child, p.controllers),)).remove()
            except FileNotFoundError:
                pass
            except CgroupError as e:
                errors.append(e)
            try:
                _kill_part(p, 1.0)
                _rmdir(p.path, 2.0)
            except CgroupError as e:
                errors.append(e)
        self.closed = True
        if errors:
            raise errors[0]

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def probe(vacate: bool = False) -> str | None:
    """None when per-jail groups with all limits can be made here; else why not, in words. Makes a
    throw-away batch with one jail group (and removes them)."""
    try:
        with Batch.create("autograder-probe", vacate=vacate) as batch:
            batch.jail("probe", memory_bytes=64 << 20, max_pids=8, cpu_cores=0.5)
    except (OSError, ValueError) as e:
        return f"no per-jail control groups: {e}"
    return None
