"""An operating-system jail for one submission, entered by a freshly forked, single-threaded child.

`enter(jail)` turns the calling process into a jailed one, the way bubblewrap
and nsjail do it, but without an exec, so the warm interpreter (numpy, torch,
tensorflow already imported) is kept:

1. drop to an unprivileged uid and gid of its own (`jail.uid`): the grader runs
   as root, a submission never does;
2. new user, mount, PID, network, IPC and UTS namespaces: no network at all
   (DNS included), no view of any other process;
3. fork once more: the grandchild is PID 1 of the new PID namespace, and when it
   ends the kernel kills everything it started; the middle process only waits
   and passes its exit status on (killing it kills the jail: PR_SET_PDEATHSIG);
4. a new root on a small tmpfs with read-only binds of what the interpreter
   needs (the system's /usr and /etc, Python, the venv, the course's `utils`)
   and nothing else: no submissions, no OUT_DIR, no source/, no gradebook;
   /tmp is a private, size-limited tmpfs and the working directory;
5. no capabilities left (bounding set emptied, no_new_privs), limits on
   processes, open files and file size.

`probe()` tries all of this in a throw-away child and says why it failed, so
that `grade` can refuse to run unjailed (spec section 7).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import resource
import signal
import sys
from dataclasses import dataclass, field

from . import limits

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
_SYSCALLS = {"x86_64": {"pivot_root": 155, "capset": 126}, "aarch64": {"pivot_root": 41, "capset": 91}}
FIRST_UID = 1_900_000  # sandbox uids: far above any real account, one per running submission
DEVICES = ("null", "zero", "full", "random", "urandom")


class JailError(OSError):
    """The operating system refused a step of the jail (the message names the step)."""


@dataclass
class Jail:
    uid: int
    disk_mb: int = limits.DISK_MB  # size of the private /tmp
    max_processes: int = limits.MAX_PROCESSES  # processes and threads of the jail's uid (and its control group)
    max_open_files: int = limits.MAX_OPEN_FILES
    max_file_mb: int = limits.MAX_FILE_MB
    read_only: list = field(default_factory=list)  # host paths visible (read-only) inside


_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise JailError(err, f"{what}: {os.strerror(err)}")
    return result


def _syscall(name: str, *args) -> int:
    numbers = _SYSCALLS.get(os.uname().machine)
    if numbers is None:
        raise JailError(errno.ENOSYS, f"no jail on {os.uname().machine}")
    return _lib().syscall(numbers[name], *args)


def _mount(source, target, fstype, flags, data, what) -> None:
    enc = lambda s: None if s is None else os.fsencode(s)
    _check(_lib().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), what)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def default_read_only(utils_dir: str | None = None) -> list:
    """The host paths a jailed interpreter needs: system libraries, Python, the venv (under the
    names the interpreter knows them by, a link's too), `utils`. Never the course folder itself,
    nor any folder that holds it (that would show source/)."""
    paths = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]
    paths += [os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix]
    paths += [p for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p)]
    if utils_dir:
        paths.append(os.path.realpath(utils_dir))
        course = os.path.dirname(os.path.realpath(utils_dir))
        holders = {course}
        while os.path.dirname(course) != course:
            course = os.path.dirname(course)
            holders.add(course)
        paths = [p for p in paths if os.path.realpath(p) not in holders and os.path.abspath(p) not in holders]
    return [p for p in dict.fromkeys(paths) if os.path.lexists(p)]


def _mount_flags_of(path: str) -> int:
    """The locked flags of the mount at `path`, to be kept by a read-only remount (EPERM otherwise)."""
    f = os.statvfs(path).f_flag
    flags = 0
    for st, ms in (
        (os.ST_NOSUID, MS_NOSUID),
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (getattr(os, "ST_RELATIME", 4096), MS_RELATIME),
    ):
        if f & st:
            flags |= ms
    return flags


def _bind(source: str, root: str, read_only: bool = True) -> None:
    target = root + source
    if os.path.islink(source):  # /lib -> usr/lib: the same link inside
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC, None, f"bind {source}")
    if read_only:
        _mount(
            None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _mount_flags_of(target), None, f"read-only {source}"
        )


def _build_root(jail: Jail, root: str) -> None:
    """In the new mount namespace (as PID 1 of the new PID namespace): build the new / and enter it."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None, "make / private")
    _mount(
        "tmpfs",
        root,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={limits.ROOT_TMPFS_MB}m,mode=0755",
        "tmpfs for the new root",
    )
    # the private /tmp first: a course kept under /tmp (a fresh clone in mktemp -d) is bound inside it
    os.makedirs(root + "/tmp")
    _mount(
        "tmpfs",
        root + "/tmp",
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={int(jail.disk_mb)}m,mode=1777",
        "the private /tmp",
    )
    for path in sorted(jail.read_only, key=lambda p: p.count("/")):
        _bind(path, root)
    os.makedirs(root + "/dev", exist_ok=True)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _bind(f"/dev/{name}", root, read_only=False)
    os.symlink("/proc/self/fd", root + "/dev/fd")
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", f"{root}/dev/{name}")
    os.makedirs(root + "/dev/shm")
    _mount(
        "tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={limits.SHM_MB}m,mode=1777", "tmpfs /dev/shm"
    )
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None, "proc of the new PID namespace")
    os.chdir(root)
    os.makedirs(".old-root")
    _check(_syscall("pivot_root", b".", b".old-root"), "pivot_root")
    os.chdir("/")
    _check(_lib().umount2(b"/.old-root", MNT_DETACH), "detach the old root")
    os.rmdir("/.old-root")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None, "read-only /")
    os.chdir("/tmp")


def enter(jail: Jail, root: str, close_in_middle=()) -> None:
    """Jail the calling process (see the module docstring). Returns in the jailed grandchild; the
    middle process never returns. `root` is an empty host directory used as the mount point of the
    new root (it is hidden again by pivot_root). Raises JailError if a step is refused.

    As root (a grading server, CI) the namespaces are made directly and the jail then drops to
    `jail.uid`; as an ordinary user a user namespace is made first (it maps the user to itself),
    and every capability in it is dropped once the new root is built."""
    libc = _lib()
    privileged = os.geteuid() == 0
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if privileged:
        _check(libc.unshare(flags), "unshare (mount, PID, network namespaces)")
    else:
        uid, gid = os.geteuid(), os.getegid()
        _check(libc.unshare(CLONE_NEWUSER | flags), "unshare (user, mount, PID, network namespaces)")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    alive_r, alive_w = os.pipe()  # EOF on alive_r: the middle process is gone
    pid = os.fork()
    if pid:  # the middle process: wait for the jail's PID 1, pass its status on
        os.close(alive_r)
        for fd in close_in_middle:
            os.close(fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _pass_on_exit(pid)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.close(alive_w)
    import select

    if select.select([alive_r], [], [], 0)[0]:  # the middle process died before PDEATHSIG was set
        os._exit(0)
    os.close(alive_r)
    _build_root(jail, root)
    libc.sethostname(b"sandbox", 7)
    for cap in range(64):  # no capability can come back through an exec
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 and ctypes.get_errno() == errno.EINVAL:
            break
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if privileged:  # from uid 0 to a uid of its own: the kernel clears every capability
        os.setgroups([])
        os.setresgid(jail.uid, jail.uid, jail.uid)
        os.setresuid(jail.uid, jail.uid, jail.uid)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the uid change cleared it
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (two words each): none
    _check(_syscall("capset", header, data), "drop capabilities")
    resource.setrlimit(resource.RLIMIT_NPROC, (jail.max_processes, jail.max_processes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (jail.max_open_files, jail.max_open_files))
    size = jail.max_file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # the submission does not run as PID 1 (the kernel shields PID 1 from its own namespace's signals,
    # so a kill of itself would not work as it does elsewhere): PID 1 only reaps, and ends the jail
    # when the submission's process ends
    pid = os.fork()
    if pid:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _pass_on_exit(pid)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _pass_on_exit(pid: int) -> None:
    """Reap children until `pid` ends, then exit with its status (a signal n becomes 128 + n)."""
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(70)
        except InterruptedError:
            continue
        if done == pid:
            os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def probe(utils_dir: str | None = None) -> str | None:
    """None when submissions can be jailed here, else the reason in words."""
    if not sys.platform.startswith("linux"):
        return f"the jail needs Linux namespaces (this is {sys.platform})"
    if os.uname().machine not in _SYSCALLS:
        return f"the jail is not built for {os.uname().machine}"
    import tempfile

    rfd, wfd = os.pipe()
    root = tempfile.mkdtemp(prefix="autograder-probe-")
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rfd)
            enter(Jail(uid=FIRST_UID, read_only=default_read_only(utils_dir)), root)
            # inside: nothing of the host but the read-only binds, no network, no other process
            ok = not os.path.exists(root) and sorted(os.listdir("/proc")).count("1") == 1
            try:
                open("/etc/autograder-probe", "w")
                ok = False
            except OSError:
                pass
            os.write(wfd, b"ok" if ok else b"the jail was entered but the host was still visible")
            os._exit(0)
        except BaseException as exc:  # reported to the parent
            try:
                os.write(wfd, str(exc).encode()[:500] or type(exc).__name__.encode())
            finally:
                os._exit(1)
    os.close(wfd)
    chunks = []
    while True:
        chunk = os.read(rfd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    try:
        os.rmdir(root)
    except OSError:
        pass
    said = b"".join(chunks).decode(errors="replace")
    return None if said == "ok" else (said or "the jail's test process died")
