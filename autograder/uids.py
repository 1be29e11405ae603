"""Jail uids unique on this host: no two running jails, of any batch or grader, share one.

A uid is leased by binding an AF_UNIX stream socket (never listening: inert) in the abstract
namespace to the name `\\0autograder-jail-uid-<uid>`: a second bind of the same name fails with
EADDRINUSE, and the kernel frees the name when the last descriptor of the socket is closed, so a
lease ends when its holders die (a SIGKILLed grader included) and leaves no file behind. The
socket is inherited by `fork`, so a jail forked while the lease is held keeps its uid taken until
its last process ends (or until it closes the descriptor: the worker may close it in the child).

The abstract namespace belongs to the network namespace: graders in different network namespaces
(containers) do not see each other's leases; give them disjoint ranges (`first`, `span`).
"""

from __future__ import annotations

import errno
import secrets
import socket

FIRST_UID = 1_900_000
SPAN = 60_000
_NAME = "\0autograder-jail-uid-{}"


class UidError(OSError):
    """No uid of the range is free."""


class UidLease:
    """A uid held for one jail until `release()` (or the death of every holder of the socket)."""

    def __init__(self, uid: int, sock: socket.socket) -> None:
        self.uid = uid
        self._sock: socket.socket | None = sock

    def fileno(self) -> int:
        """The descriptor that holds the lease (-1 once released)."""
        return self._sock.fileno() if self._sock is not None else -1

    @property
    def held(self) -> bool:
        return self._sock is not None

    def release(self) -> None:
        """Give the uid back (idempotent). Forked processes that still hold the socket keep it."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> UidLease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"UidLease(uid={self.uid}, held={self.held})"


def try_lease(uid: int) -> UidLease | None:
    """The lease of exactly `uid`, or None while someone else holds it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.bind(_NAME.format(int(uid)))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            return None
        raise
    return UidLease(int(uid), sock)


def lease_uid(first: int = FIRST_UID, span: int = SPAN) -> UidLease:
    """Lease a uid in [first, first + span) that no other lease on this host holds: start at a
    random one and walk. Raises UidError when all are taken."""
    if span <= 0 or first <= 0:
        raise ValueError("first and span must be positive")
    start = secrets.randbelow(span)
    for i in range(span):
        lease = try_lease(first + (start + i) % span)
        if lease is not None:
            return lease
    raise UidError(errno.EAGAIN, f"all {span} jail uids from {first} are leased")
