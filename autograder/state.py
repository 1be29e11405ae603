"""What a batch keeps in OUT and signs: resume records, the key that signs them, each submission's key
(its content digest), and the seeds of drawn hidden cases (the grader's secret, one per submission)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

STATE_VERSION = 2


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def submission_key(path: Path | None, fingerprint: str) -> str:
    h = hashlib.sha256(fingerprint.encode())
    if path is not None and path.is_symlink():
        h.update(b"<symbolic link>")
    elif path is not None and path.is_file():
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    else:
        h.update(b"<no submission>")
    return h.hexdigest()[:24]


def state_key(state_dir: Path) -> bytes:
    """The batch's secret for authenticating resume records (OUT/.state/.key, readable by the grader
    only; no sandbox sees OUT at all). Made on first use."""
    path = state_dir / ".key"
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except OSError:
        pass
    import secrets

    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def mac(key: bytes, data: dict) -> str:
    import hmac

    body = json.dumps({k: v for k, v in data.items() if k != "mac"}, sort_keys=True).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def save_state(state_dir: Path, key: bytes, result: dict) -> None:
    signed = {**result, "mac": mac(key, result)}
    atomic_write(state_dir / f"{result['student_id']}.json", json.dumps(signed, indent=1, sort_keys=True))


def load_state(state_dir: Path, student: str, key: bytes | None = None) -> dict | None:
    """A student's resume record, or None if there is none, it is of another version, or (with `key`)
    its authentication fails: a forged or edited record is graded again, never trusted."""
    try:
        data = json.loads((state_dir / f"{student}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return None
    if key is not None:
        import hmac

        if not isinstance(data.get("mac"), str) or not hmac.compare_digest(data["mac"], mac(key, data)):
            return None
    data.pop("mac", None)
    return data


def read_secret_seed(path) -> int:
    """The grader's secret seed: a whole number drawn from the file's text (ValueError if it is empty)."""
    text = Path(path).expanduser().read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(
            f"the secret seed file {path} is empty: put any long random text in it, e.g. "
            "python -c 'import secrets; print(secrets.token_hex(16))' > FILE"
        )
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def submission_seed(secret: int | None, student: str, key: str) -> int | None:
    """The seed of one submission's drawn hidden cases: from the grader's secret, the student's id and the
    submission's content digest (`key`, from submission_key), so that what one submission learns of its
    cases is worth nothing for any other, its own resubmission included. None without a secret: every
    hidden seed is then the test's fixed one, and runs are reproducible."""
    if secret is None:
        return None
    digest = hashlib.sha256(f"submission seed {int(secret)}:{student}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
