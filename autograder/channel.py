"""The narrow channel between the trusted verdict process and a jailed submission (spec section 7).

The test cells of a graded run execute in a trusted process: the hidden tests, the expected values, the
comparison, the points and the status never enter the student's process. The student's cells execute in
the jailed process, which answers a few requests over a socket:

- `get`: the value of a name of the student's namespace;
- `call`: call a function or method (by handle) with arguments;
- `attr`, `item`, `len`, `iter`, `repr`, `array`, `bool`, `contains`: read an object that stays on the
  student's side (a model, a layer) through an opaque handle;
- `make`: build an object on the student's side (`utils.checks.student_side`), as a learner would;
- `run`: run the student's cell number i; `own_work`: the static "write it yourself" scan of an answer.

Values cross as plain data only: None, booleans, numbers, strings, bytes, numeric numpy arrays (framework
tensors cross as arrays, tagged with their framework so that the other side rebuilds a tensor), and lists,
tuples and dicts of these. A function or class of a trusted library (numpy, torch, tensorflow, keras, the
course's utils) crosses as its dotted name, which the receiving side looks up in its own modules. Anything
else stays where it is and crosses as a handle number. Nothing is unpickled and no code crosses, so a
submission can change what its functions return, and nothing else.

The decoder treats every byte from the student's side as hostile: frame and array sizes are bounded, the
nesting depth is bounded, array dtypes come from a fixed list, and a malformed message is a `ChannelError`
that costs only that student's test.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys

from .limits import CHANNEL_MAX_BUFFERS as MAX_BUFFERS
from .limits import CHANNEL_MAX_DEPTH as MAX_DEPTH
from .limits import CHANNEL_MAX_HEADER as MAX_HEADER
from .limits import CHANNEL_MAX_ITEMS as MAX_ITEMS
from .limits import CHANNEL_MAX_ITER as MAX_ITER

DTYPES = {
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
}
TRUSTED_PACKAGES = (
    "numpy",
    "torch",
    "tensorflow",
    "keras",
    "utils",
    "math",
    "builtins",
    "collections",
    "functools",
    "itertools",
    "operator",
    "typing",
)
_PREFIX = struct.Struct("!QQ")


class ChannelError(Exception):
    """The other side broke the protocol or went away (never the student's ordinary error)."""


class ChannelClosed(ChannelError):
    """The student's process ended while the test was talking to it."""


# ----------------------------------------------------------------------------
# framing
# ----------------------------------------------------------------------------


def _read_exact(fd: int, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        try:
            chunk = os.read(fd, min(n - got, 1 << 20))
        except InterruptedError:
            continue
        except OSError as exc:
            raise ChannelClosed(f"the student's process is gone ({exc.strerror})") from None
        if not chunk:
            raise ChannelClosed("the student's process is gone")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError as exc:
            raise ChannelClosed(f"the student's process is gone ({exc.strerror})") from None
        view = view[n:]


def send_message(fd: int, header: dict, buffers: list) -> None:
    header = dict(header, bufs=[len(b) for b in buffers])
    text = json.dumps(header, allow_nan=True, separators=(",", ":")).encode()
    total = sum(len(b) for b in buffers)
    if len(text) > MAX_HEADER or total > MAX_BUFFERS:
        raise ChannelError("a message larger than the channel carries")
    _write_all(fd, _PREFIX.pack(len(text), total) + text)
    for b in buffers:
        _write_all(fd, b)


def recv_message(fd: int) -> tuple:
    hlen, blen = _PREFIX.unpack(_read_exact(fd, _PREFIX.size))
    if hlen > MAX_HEADER or blen > MAX_BUFFERS:
        raise ChannelError("a message larger than the channel carries")
    try:
        header = json.loads(_read_exact(fd, hlen))
    except (ValueError, RecursionError) as exc:
        raise ChannelError(f"a malformed message ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise ChannelError("a malformed message")
    sizes = header.get("bufs", [])
    if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes) or sum(sizes) != blen:
        raise ChannelError("a malformed message (buffer sizes)")
    data = _read_exact(fd, blen) if blen else b""
    buffers, at = [], 0
    for s in sizes:
        buffers.append(data[at : at + s])
        at += s
    return header, buffers


# ----------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------


def _is_trusted(module_name) -> bool:
    return isinstance(module_name, str) and module_name.split(".")[0] in TRUSTED_PACKAGES


def dotted_name(obj) -> str | None:
    """'module:qualname' of a module, function or class of a trusted library that can be found again
    under that name (None for anything else: a learner's own function or class stays a handle)."""
    import types

    if isinstance(obj, types.ModuleType):
        return f"{obj.__name__}:" if _is_trusted(obj.__name__) else None
    if not isinstance(
        obj,
        (
            type,
            types.FunctionType,
            types.BuiltinFunctionType,
            types.BuiltinMethodType,
            types.MethodWrapperType,
            types.WrapperDescriptorType,
        ),
    ) and not _is_dtype(obj):
        return None
    if _is_dtype(obj):
        return _dtype_name(obj)
    module, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not _is_trusted(module) or not isinstance(qual, str) or "<" in qual:
        return None
    try:
        if resolve(f"{module}:{qual}") is obj:
            return f"{module}:{qual}"
    except LookupError:
        pass
    return None


def _is_dtype(obj) -> bool:
    kind = type(obj)
    return (kind.__module__, kind.__name__) in {("torch", "dtype"), ("tensorflow.python.framework.dtypes", "DType")}


def _dtype_name(obj) -> str | None:
    if type(obj).__module__ == "torch":
        return f"torch:{str(obj).split('.')[-1]}"
    return f"tensorflow:{obj.name}"


def resolve(name: str, import_missing: bool = False):
    """The object named 'module:qualname' in a trusted library of this process (LookupError otherwise)."""
    if not isinstance(name, str) or ":" not in name:
        raise LookupError(f"not a name: {str(name)[:80]!r}")
    module_name, _, qual = name.partition(":")
    if not _is_trusted(module_name):
        raise LookupError(f"{module_name[:80]!r} is not a library the grader trusts")
    module = sys.modules.get(module_name)
    if module is None:
        if not import_missing:
            raise LookupError(f"{module_name[:80]!r} is not imported")
        try:
            module = importlib.import_module(module_name)
        except Exception:
            raise LookupError(f"{module_name[:80]!r} cannot be imported") from None
    obj = module
    for part in qual.split(".") if qual else []:
        if part.startswith("__") and part != "__init__":
            raise LookupError("a private name")
        try:
            obj = getattr(obj, part)
        except Exception:
            raise LookupError(f"{name[:120]!r} does not exist") from None
    return obj


def _tensor_kind(x):
    """'torch', 'tf' or None, without importing either framework."""
    mod = type(x).__module__ or ""
    if mod.startswith("torch") and hasattr(x, "detach"):
        return "torch"
    if (
        (mod.startswith("tensorflow") or mod.startswith("keras"))
        and hasattr(x, "numpy")
        and hasattr(x, "shape")
        and hasattr(x, "dtype")
    ):
        return "tf"
    return None


class Codec:
    """Turns values into plain JSON plus buffers and back. `to_handle(obj)` decides what happens to a
    value that is not plain data (a handle on the student's side; an error or a Remote on the trusted
    side); `from_handle(node)` turns a handle node back into an object."""

    def __init__(
        self, to_handle, from_handle, rebuild_tensors: bool = True, unpickle=None, import_missing: bool = False
    ):
        self.to_handle, self.from_handle, self.rebuild_tensors = to_handle, from_handle, rebuild_tensors
        self.unpickle = unpickle  # only the student's side takes a pickled copy (of what the test built)
        # only the student's side imports a library module a name needs: the trusted side looks names up
        # among the modules it has already imported, never importing what the student's process names
        self.import_missing = import_missing

    # -- encoding ------------------------------------------------------------

    def encode(self, value, buffers: list):
        counter = [0]
        return self._enc(value, buffers, 0, counter)

    def _array(self, arr, buffers, kind=None):
        import numpy as np

        arr = np.asarray(arr)
        if type(arr) is not np.ndarray:
            arr = arr.view(np.ndarray)
        if arr.dtype.name not in DTYPES:
            raise TypeError(f"an array of dtype {arr.dtype} cannot cross to the grader")
        buffers.append(np.ascontiguousarray(arr).tobytes())
        node = {"$a": [len(buffers) - 1, arr.dtype.name, list(arr.shape)]}
        if kind:
            node["k"] = kind
        return node

    def _enc(self, v, buffers, depth, counter):
        import numpy as np

        counter[0] += 1
        if depth > MAX_DEPTH or counter[0] > MAX_ITEMS:
            raise ValueError("a value nested too deeply, or too large, to cross to the grader")
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        if t is int:
            return v if abs(v) < 1 << 63 else {"$i": str(v)}
        if t is float:
            return v
        if t is complex:
            return {"$c": [v.real, v.imag]}
        if t is bytes:
            buffers.append(v)
            return {"$b": len(buffers) - 1}
        if t is list:
            return [self._enc(x, buffers, depth + 1, counter) for x in v]
        if t is tuple:
            return {"$t": [self._enc(x, buffers, depth + 1, counter) for x in v]}
        if t is dict:
            return {
                "$m": [
                    [self._enc(k, buffers, depth + 1, counter), self._enc(x, buffers, depth + 1, counter)]
                    for k, x in v.items()
                ]
            }
        if v is Ellipsis:
            return {"$e": 0}
        if t is slice:
            return {"$sl": [self._enc(x, buffers, depth + 1, counter) for x in (v.start, v.stop, v.step)]}
        if isinstance(v, np.ndarray) and v.dtype != object:
            return self._array(v, buffers)
        if isinstance(v, np.generic) and not isinstance(v, np.object_):
            if v.dtype.name not in DTYPES:
                raise TypeError(f"a number of dtype {v.dtype} cannot cross to the grader")
            return {"$s": [v.dtype.name, v.item() if not np.iscomplexobj(v) else [v.real.item(), v.imag.item()]]}
        if isinstance(v, np.dtype):
            return {"$dt": v.name}
        kind = _tensor_kind(v)
        if kind == "torch" and getattr(v, "is_sparse", False) is False:
            try:
                return self._array(v.detach().cpu().resolve_conj().numpy(), buffers, "torch")
            except (TypeError, RuntimeError, AttributeError):
                pass
        if kind == "tf":
            try:
                return self._array(np.asarray(v.numpy()), buffers, "tf")
            except (TypeError, ValueError, AttributeError):
                pass
        mod = t.__module__ or ""
        if t.__name__ == "Size" and mod.startswith("torch") and isinstance(v, tuple):
            return {"$t": [int(x) for x in v]}
        if t.__name__ == "TensorShape" and mod.startswith("tensorflow"):
            dims = v.as_list() if v.rank is not None else None
            if dims is not None:
                return {"$t": [None if d is None else int(d) for d in dims]}
        if isinstance(v, (list, tuple, dict)) and not hasattr(v, "_fields"):
            base = list if isinstance(v, list) else tuple if isinstance(v, tuple) else dict
            return self._enc(base(v), buffers, depth, counter)  # OrderedDict, subclasses: their plain value
        if isinstance(v, tuple):  # a namedtuple: a tuple of its fields
            return self._enc(tuple(v), buffers, depth, counter)
        name = dotted_name(v)
        if name is not None:
            return {"$r": name}
        return self.to_handle(v, buffers)

    # -- decoding ------------------------------------------------------------

    def decode(self, node, buffers: list):
        counter = [0]
        return self._dec(node, buffers, 0, counter)

    def _dec(self, n, buffers, depth, counter):
        counter[0] += 1
        if depth > MAX_DEPTH or counter[0] > MAX_ITEMS:
            raise ChannelError("a value nested too deeply, or too large")
        t = type(n)
        if n is None or t in (bool, int, float, str):
            return n
        if t is list:
            return [self._dec(x, buffers, depth + 1, counter) for x in n]
        if t is not dict or len(n) not in (1, 2):
            raise ChannelError("a malformed value")
        if "$a" in n:
            return self._dec_array(n, buffers)
        if len(n) != 1:
            raise ChannelError("a malformed value")
        ((key, x),) = n.items()
        if key == "$t" and type(x) is list:
            return tuple(self._dec(y, buffers, depth + 1, counter) for y in x)
        if key == "$m" and type(x) is list:
            out = {}
            for pair in x:
                if type(pair) is not list or len(pair) != 2:
                    raise ChannelError("a malformed value")
                k = self._dec(pair[0], buffers, depth + 1, counter)
                try:
                    hash(k)
                except TypeError:
                    raise ChannelError("a malformed value (a key that is not hashable)") from None
                out[k] = self._dec(pair[1], buffers, depth + 1, counter)
            return out
        if key == "$i" and type(x) is str and len(x) < 400:
            try:
                return int(x)
            except ValueError:
                raise ChannelError("a malformed value") from None
        if key == "$c" and type(x) is list and len(x) == 2 and all(type(y) in (int, float) for y in x):
            return complex(x[0], x[1])
        if key == "$b" and type(x) is int and 0 <= x < len(buffers):
            return bytes(buffers[x])
        if key == "$e":
            return Ellipsis
        if key == "$sl" and type(x) is list and len(x) == 3:
            parts = [self._dec(y, buffers, depth + 1, counter) for y in x]
            if not all(p is None or type(p) is int for p in parts):
                raise ChannelError("a malformed value")
            return slice(*parts)
        if key == "$s" and type(x) is list and len(x) == 2 and x[0] in DTYPES:
            import numpy as np

            value = x[1]
            if type(value) is list and len(value) == 2:
                value = complex(*value)
            if type(value) not in (bool, int, float, complex):
                raise ChannelError("a malformed value")
            try:
                return np.dtype(x[0]).type(value)
            except (OverflowError, ValueError, TypeError):
                raise ChannelError("a malformed value") from None
        if key == "$dt" and x in DTYPES:
            import numpy as np

            return np.dtype(x)
        if key == "$r" and type(x) is str and len(x) < 300:
            try:
                return resolve(x, import_missing=self.import_missing)
            except LookupError as exc:
                raise ChannelError(f"an unknown library name: {exc}") from None
        if key == "$h":
            return self.from_handle(x)
        if key == "$p" and self.unpickle is not None and type(x) is int and 0 <= x < len(buffers):
            return self.unpickle(buffers[x])
        raise ChannelError("a malformed value")

    def _dec_array(self, n, buffers):
        import numpy as np

        spec = n["$a"]
        kind = n.get("k")
        if type(spec) is not list or len(spec) != 3 or kind not in (None, "torch", "tf"):
            raise ChannelError("a malformed array")
        index, dtype, shape = spec
        if (
            type(index) is not int
            or not 0 <= index < len(buffers)
            or dtype not in DTYPES
            or type(shape) is not list
            or len(shape) > 32
            or not all(type(s) is int and s >= 0 for s in shape)
        ):
            raise ChannelError("a malformed array")
        dt = np.dtype(dtype)
        size = 1
        for s in shape:
            size *= s
        if size * dt.itemsize != len(buffers[index]):
            raise ChannelError("a malformed array (its size does not match its data)")
        arr = np.frombuffer(buffers[index], dtype=dt).reshape(shape).copy()
        if self.rebuild_tensors and kind == "torch" and "torch" in sys.modules:
            return sys.modules["torch"].from_numpy(arr)
        if self.rebuild_tensors and kind == "tf" and "tensorflow" in sys.modules:
            return sys.modules["tensorflow"].constant(arr)
        return arr


def error_node(exc: BaseException) -> dict:
    """How an exception raised by the student's code crosses: the names of its classes and its text."""
    names = [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"][:8]
    try:
        text = str(exc)
    except Exception:  # an exception whose __str__ raises
        text = ""
    node = {"types": names, "kind": type(exc).__name__[:100], "message": text[:4000]}
    library = dotted_name(type(exc))
    if library:
        node["class"] = library
    return node


class StudentError(Exception):
    """An exception raised by the student's code whose class is not a built-in one."""

    student_kind: str  # the class name the student's code raised


def builtin_error_name(name) -> str | None:
    """`name` if it names a built-in exception class (ValueError), else None: a class name of the
    student's own is text of the student's, which can carry anything."""
    import builtins

    cls = getattr(builtins, name, None) if isinstance(name, str) and name.isidentifier() else None
    return name if isinstance(cls, type) and issubclass(cls, BaseException) else None


def rebuild_error(node, tainted: bool = False) -> BaseException:
    """The exception the trusted side raises for an error of the student's code: the first built-in
    exception class among its classes (ValueError, TypeError, RuntimeError, ...), with its text. A
    SystemExit or KeyboardInterrupt of the student's becomes a RuntimeError that says so. `tainted`: the
    student's process has received hidden inputs, so its text never crosses (only a built-in class)."""
    import builtins

    if type(node) is not dict:
        return ChannelError("a malformed error report")
    kind, message = str(node.get("kind", "Exception"))[:100], str(node.get("message", ""))[:4000]
    names = node["types"] if type(node.get("types")) is list else []
    if tainted:  # the text stays for the test to read; TrustedChannel.scrub cuts it out of every output
        kind = builtin_error_name(kind) or "Exception"
        node = {k: v for k, v in node.items() if k != "class"}
    if kind in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        return RuntimeError(f"your code raised {kind} while the test called it")
    if type(node.get("class")) is str:  # a library's own error (tf.errors.InvalidArgumentError): the same class
        try:
            cls = resolve(node["class"])
        except LookupError:
            cls = None
        if isinstance(cls, type) and issubclass(cls, Exception) and cls.__name__ == kind:
            for args in ((message,), (None, None, message)):
                try:
                    return cls(*args)
                except Exception:  # another constructor signature
                    continue
    for name in names:
        cls = getattr(builtins, str(name), None)
        if isinstance(cls, type) and issubclass(cls, Exception) and cls not in (Exception, BaseException):
            try:
                exc = cls(message)
            except Exception:  # an exception class with other arguments
                continue
            if cls.__name__ != kind:
                exc.student_kind = kind  # type: ignore[attr-defined]  # a mark on any exception class
            return exc
    exc = StudentError(f"{kind}: {message}" if message else kind)
    exc.student_kind = kind
    return exc


# ----------------------------------------------------------------------------
# the trusted side: handles on the student's objects
# ----------------------------------------------------------------------------

_PLAIN_DUNDERS = ("__name__", "__qualname__", "__doc__")


class Remote:
    """An object that stays in the student's process (a function, a model, a layer), seen through the
    channel: attribute reads, calls, indexing, len, iteration, repr and np.asarray are requests, and
    what comes back is plain data or another Remote. `isinstance(remote, keras.layers.SimpleRNN)` asks
    the class the student's process names for it, looked up among the trusted libraries."""

    __slots__ = ("_channel", "_id", "_classes", "_resolved")

    def __init__(self, channel, hid: int, classes: list):
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_id", hid)
        object.__setattr__(self, "_classes", classes)
        object.__setattr__(self, "_resolved", None)

    def _req(self, op, **fields):
        return object.__getattribute__(self, "_channel").request(op, h=object.__getattribute__(self, "_id"), **fields)

    @property  # type: ignore[misc]  # read-only on purpose: a handle passes for the student's class
    def __class__(self):  # what isinstance() and type names see
        resolved = object.__getattribute__(self, "_resolved")
        if resolved is None:
            resolved = Remote
            classes = object.__getattribute__(self, "_classes")
            for name in classes:
                try:
                    cls = resolve(name)
                except LookupError:
                    continue
                if isinstance(cls, type) and cls is not object:
                    resolved = cls
                    break
            if resolved is Remote and classes:  # a class of the student's own: a stand-in of that name
                own = str(classes[0]).rpartition(":")[2].rpartition(".")[2][:80] or "object"
                if object.__getattribute__(self, "_channel").tainted:  # a name is text of the student's
                    own = "object_of_your_code"
                resolved = type(own, (Remote,), {"__slots__": ()})
            object.__setattr__(self, "_resolved", resolved)
        return resolved

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name not in _PLAIN_DUNDERS:
            raise AttributeError(name)  # numpy and friends probe dunder protocols: not the student's business
        return self._req("attr", name=name)

    def __setattr__(self, name, value):
        self._req("setattr", name=name, value=value)

    def __call__(self, *args, **kwargs):
        return self._req("call", args=list(args), kwargs=kwargs)

    def __getitem__(self, key):
        return self._req("item", key=key)

    def __len__(self):
        n = self._req("len")
        if type(n) is not int or n < 0:
            raise TypeError("len() of the student's object is not a whole number")
        return n

    def __iter__(self):
        items = self._req("iter")
        if type(items) is not list:
            raise TypeError("the student's object did not iterate to a list")
        return iter(items)

    def __contains__(self, value):
        return self._req("contains", value=value) is True

    def __bool__(self):
        answer = self._req("bool")
        if type(answer) is not bool:
            raise TypeError("bool() of the student's object is not True or False")
        return answer

    def __repr__(self):
        if object.__getattribute__(self, "_channel").tainted:
            return "<an object of your code>"  # its repr is text of the student's, which may carry hidden inputs
        try:
            text = self._req("repr")
        except Exception:  # a repr is only ever shown
            text = None
        return str(text)[:1000] if isinstance(text, str) else "<an object of your code>"

    __str__ = __repr__

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        arr = self._req("array")
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        return arr.astype(dtype) if dtype is not None else arr

    def __hash__(self):
        return hash(("remote", object.__getattribute__(self, "_id")))

    def __eq__(self, other):
        return self is other

    def __reduce__(self):
        raise TypeError("an object of the student's process cannot be copied")

    def __own_work__(self, meta: dict) -> None:
        """utils.checks.check_own_work on an answer of the student's process: its static scan runs there,
        and from now on every call of this answer is watched there for calls of the forbidden helpers
        (the trusted side also reads the answer cells' source itself for imports by name)."""
        self._req("own_work", meta=meta)
        channel = object.__getattribute__(self, "_channel")
        channel.watch[object.__getattribute__(self, "_id")] = meta


class ForbiddenCall(AssertionError):
    """The student's process saw the graded function call a helper the exercise forbids."""


def _real_forbidden_name(name: str, watched: dict) -> bool:
    """`name` (dotted) is one the exercise forbids, and names an object that exists in this process's
    already imported modules: then it carries nothing but that name."""
    from utils.checks import called_helper

    if not called_helper(
        name, [str(p) for p in watched.get("patterns", [])], [str(a) for a in watched.get("allows", [])]
    ):
        return False
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        obj: object = module
        for attr in parts[cut:]:
            if not attr.isidentifier() or attr.startswith("__"):
                return False
            obj = getattr(obj, attr, None)
            if obj is None:
                return False
        return True
    return False


class TrustedChannel:
    """The trusted side's end: requests to the student's process, and what it answered."""

    def __init__(self, fd: int):
        self.fd = fd
        self.seq = 0  # every request is numbered; a reply counts only with its request's number
        self.codec = Codec(self._to_wire, self._from_wire)
        self.notes: list = []  # forbidden calls the student's side reported (believed only against it)
        self.watch: dict = {}  # handle -> check_own_work's settings: its calls are watched
        # hidden inputs: once a hidden test has run (`enter_hidden`) and then sent the student's process
        # anything, no text of that process may reach an output again: `tainted` turns its error texts,
        # reprs and class names off here, and `texts` keeps the strings it sent since, to be cut out of
        # any message (`scrub`)
        self.hidden_entered = False
        self.tainted = False
        self.texts: set = set()
        # words the trusted side writes on its own (the test cell's source, the checks' messages): a string of
        # the student's that is also one of them ("wrong", an expected label) is not cut out of a message
        self.vocabulary = ""

    def enter_hidden(self) -> None:
        self.hidden_entered = True

    def _remember(self, value, depth: int = 0) -> None:
        """Keep the strings of a value the tainted process sent (bounded)."""
        if len(self.texts) > 20_000 or depth > 8:
            return
        if isinstance(value, str):
            # the text, each of its lines and its escaped form (as a repr in a message would quote it)
            for text in (value, *value.splitlines(), repr(value)[1:-1]):
                if len(text) >= 3 and len(self.texts) <= 20_000:
                    self.texts.add(text[:4000])
        elif isinstance(value, (list, tuple)):
            for v in value[:2000]:
                self._remember(v, depth + 1)
        elif isinstance(value, dict):
            for k, v in list(value.items())[:2000]:
                self._remember(k, depth + 1)
                self._remember(v, depth + 1)

    def scrub(self, message: str) -> str:
        """`message` with every string the tainted process sent cut out."""
        if not self.texts or not message:
            return message
        cut = False
        for text in sorted(self.texts, key=len, reverse=True):
            if text in message and text not in self.vocabulary:
                message, cut = message.replace(text, "…"), True
        if cut:
            message += "\n  (… marks what your code wrote, left out once hidden tests have run)"
        return message

    def _to_wire(self, obj, buffers):
        if isinstance(obj, Remote):  # Remote itself or a stand-in subclass: the student's own object
            return {"$h": object.__getattribute__(obj, "_id")}
        # an object the test built (a layer to read, a data set): the student's process gets a copy, as
        # any function gets its arguments; the trusted side itself never unpickles anything
        import pickle

        try:
            buffers.append(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as exc:
            raise TypeError(
                f"a {type(obj).__name__} built by the test cannot be handed to the learner's code in "
                f"the graded run ({type(exc).__name__}: {str(exc)[:200]}): build it with "
                "utils.checks.student_side(...)"
            ) from None
        return {"$p": len(buffers) - 1}

    def _from_wire(self, x):
        if type(x) is not list or len(x) != 2 or type(x[0]) is not int or type(x[1]) is not list:
            raise ChannelError("a malformed handle")
        classes = [str(c)[:300] for c in x[1][:32]]
        if self.tainted:
            self._remember(classes)
        return Remote(self, x[0], classes)

    def request(self, op: str, **fields):
        buffers: list = []
        if self.hidden_entered:
            self.tainted = True  # what this request carries may come from a hidden test
        self.seq += 1
        header = {"op": op, "n": self.seq}
        for key, value in fields.items():
            header[key] = value if key in ("h", "name", "meta") else self.codec.encode(value, buffers)
        watched = self.watch.get(fields.get("h")) if op == "call" else None
        if watched:
            header["watch"] = {"patterns": watched.get("patterns", []), "allows": watched.get("allows", [])}
        send_message(self.fd, header, buffers)
        for _ in range(1000):  # what the student's code wrote on the socket itself is skipped, not believed
            reply, got = recv_message(self.fd)
            if reply.get("n") == self.seq:
                break
        else:
            raise ChannelError("no reply to the request")
        seen = reply.get("seen")
        if watched and type(seen) is list and seen:
            names = sorted({str(x)[:200] for x in seen[:20]})
            if self.tainted:  # names the student's process reports are its text: only real, forbidden ones pass
                names = sorted({n if _real_forbidden_name(n, watched) else "a forbidden helper" for n in names})
            if len(self.notes) < 100:
                self.notes.extend(f"{watched.get('what', 'an answer')} called {n} while a test ran it" for n in names)
            raise ForbiddenCall(
                f"{watched.get('what', 'your function')}: this exercise asks you to write it yourself, but while the "
                f"test ran it, your code called {', '.join(names)}.\n"
                f"  not allowed here: {', '.join(map(str, watched.get('forbids', [])))}\n"
                f"  write instead: {watched.get('instead', '')}"
            )
        if "error" in reply:
            if op == "get":  # a name the student's namespace lacks: said here, in the trusted side's own words
                raise NameError(f"name {str(fields.get('name'))[:200]!r} is not defined")
            if self.tainted and type(reply["error"]) is dict:
                self._remember(str(reply["error"].get("message", ""))[:4000])
            raise rebuild_error(reply["error"], self.tainted)
        if "value" not in reply:
            raise ChannelError("a reply without a value")
        value = self.codec.decode(reply["value"], got)
        if self.tainted:
            self._remember(value)
        return value

    def make(self, factory, *args, **kwargs):
        """utils.checks.student_side in the graded run: build the object in the student's process."""
        return self.request("make", f=factory, args=list(args), kwargs=kwargs)


# ----------------------------------------------------------------------------
# the student's side
# ----------------------------------------------------------------------------


def _classes_of(obj) -> list:
    out = []
    for cls in type(obj).__mro__[:32]:
        out.append(f"{getattr(cls, '__module__', '?')}:{getattr(cls, '__qualname__', cls.__name__)}")
    return out


def _watched_call(fn, args, kwargs, watch: dict):
    """Call `fn`, noting every call the student's own code (a frame of `__main__`) makes to a forbidden
    helper (a dotted name that `watch["patterns"]` matches and `watch["allows"]` does not)."""
    from utils.checks import called_helper

    patterns = [str(p) for p in watch.get("patterns", [])][:200]
    allows = [str(a) for a in watch.get("allows", [])][:200]
    seen: list = []

    def name_of(obj) -> str:
        module = getattr(obj, "__module__", None) or getattr(getattr(obj, "__self__", None), "__name__", None)
        qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "")
        return f"{module}.{qual}" if isinstance(module, str) and isinstance(qual, str) else ""

    def hook(frame, event, arg):
        if len(seen) >= 20:
            return
        if event == "c_call":
            caller, name = frame, name_of(arg)
        elif event == "call":
            caller = frame.f_back
            name = f"{frame.f_globals.get('__name__')}.{getattr(frame.f_code, 'co_qualname', frame.f_code.co_name)}"
        else:
            return
        if (
            caller is not None
            and caller.f_globals.get("__name__") == "__main__"
            and name
            and not name.startswith("__main__.")
            and called_helper(name, patterns, allows)
            and name not in seen
        ):
            seen.append(name)

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        value = fn(*args, **kwargs)
    finally:
        try:
            sys.setprofile(previous if callable(previous) else None)
        except Exception:  # a profiler of C (cProfile) cannot be put back from Python
            sys.setprofile(None)
    return value, seen


def serve(fd: int, namespace: dict, run_cell, own_work, arm=None) -> None:
    """Answer the trusted side's requests until it says `end` (or goes away). Runs in the student's
    (jailed) process: whatever it sends is data the trusted side checks, never an order to it."""
    import builtins
    import itertools

    objects: dict = {}
    ids = itertools.count(1)

    def to_handle(obj, buffers=None):
        hid = next(ids)
        objects[hid] = obj
        return {"$h": [hid, _classes_of(obj)]}

    def from_handle(x):
        if type(x) is int and x in objects:
            return objects[x]
        raise ChannelError("an unknown handle")

    import pickle

    codec = Codec(to_handle, from_handle, unpickle=pickle.loads, import_missing=True)
    while True:
        try:
            header, buffers = recv_message(fd)
        except ChannelError:
            return
        op = header.get("op")
        if op == "end":
            return
        out: list = []
        seen: list = []
        if arm is not None and op != "run":
            arm(True)
        try:
            if op == "run":
                value = run_cell(codec.decode(header["source"], buffers), codec.decode(header["filename"], buffers))
            elif op == "get":
                name = str(header["name"])
                if name not in namespace:
                    raise NameError(f"name {name!r} is not defined")
                value = namespace[name]
                if callable(value) or isinstance(value, type):
                    reply = {"value": to_handle(value, out), "n": header.get("n")}
                    send_message(fd, reply, out)
                    continue
            elif op == "make":
                factory = codec.decode(header["f"], buffers)
                value = factory(*codec.decode(header["args"], buffers), **codec.decode(header["kwargs"], buffers))
            else:
                obj = from_handle(header.get("h"))
                if op == "attr":
                    value = getattr(obj, str(header["name"]))
                elif op == "setattr":
                    setattr(obj, str(header["name"]), codec.decode(header["value"], buffers))
                    value = None
                elif op == "call":
                    args, kwargs = codec.decode(header["args"], buffers), codec.decode(header["kwargs"], buffers)
                    watch = header.get("watch")
                    if isinstance(watch, dict):
                        value, seen = _watched_call(obj, args, kwargs, watch)
                    else:
                        value = obj(*args, **kwargs)
                elif op == "item":
                    value = obj[codec.decode(header["key"], buffers)]
                elif op == "len":
                    value = len(obj)
                elif op == "iter":
                    value = list(itertools.islice(iter(obj), MAX_ITER))
                elif op == "contains":
                    value = codec.decode(header["value"], buffers) in obj
                elif op == "bool":
                    value = bool(obj)
                elif op == "repr":
                    value = builtins.repr(obj)[:1000]
                elif op == "array":
                    import numpy as np

                    from utils._arrays import as_numpy

                    value = np.asarray(as_numpy(obj))
                elif op == "own_work":
                    value = own_work(obj, header.get("meta"))
                else:
                    raise ChannelError(f"an unknown request {str(op)[:40]!r}")
            reply = {"value": codec.encode(value, out)}
            if seen:
                reply["seen"] = seen
        except ChannelError:
            return
        except BaseException as exc:  # the student's error goes back as data
            out = []
            try:
                reply = {"error": error_node(exc)}
            except BaseException:  # an exception that breaks even its own description
                reply = {"error": {"types": ["Exception"], "kind": "Exception", "message": ""}}
        finally:
            if arm is not None and op != "run":
                arm(False)
        try:
            send_message(fd, dict(reply, n=header.get("n")), out)
        except ChannelError:
            return
