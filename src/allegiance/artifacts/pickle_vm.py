"""A symbolic pickle machine: it walks opcodes and models the stack, never unpickling.

Why not just list GLOBAL opcodes: modern bypasses build the module and name strings on the
stack and fetch them through the memo (STACK_GLOBAL after BINGET), reach callables through
``getattr``/``operator.attrgetter`` at load time, or hide a second pickle inside a bytes
argument to ``pickle.loads``. Tracking what each stack slot holds (a literal, an imported
global, the result of a call) lets us resolve all of these statically.

Values on the modelled stack are plain literals (kept up to size limits) or the small
classes below. Nothing here imports, calls or evaluates anything taken from the input.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from allegiance.artifacts.bytesource import ByteSource
from allegiance.artifacts.findings import Severity
from allegiance.artifacts.limits import DEFAULT_LIMITS, Limits, ScanAbort
from allegiance.artifacts.pickle_policy import classify, is_loads_like

Emit = Callable[[Severity, str, str, int], None]


class _Mark:
    def __repr__(self) -> str:
        return "MARK"


MARK = _Mark()


@dataclass(eq=False)
class Ref:
    """An imported global (``name`` empty for a module object)."""

    module: str
    name: str
    dynamic: bool = False

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}" if self.name else self.module


@dataclass(eq=False)
class Obj:
    """The result of calling ``func`` at load time (REDUCE, NEWOBJ, INST, OBJ)."""

    func: Any
    args: Any
    offset: int
    state: Any = None


@dataclass(eq=False)
class Blob:
    """A byte string; ``data`` is None when it was too large to keep."""

    length: int
    data: bytes | None
    head: bytes = b""


@dataclass(eq=False)
class LongStr:
    length: int
    head: str


@dataclass(eq=False)
class Opaque:
    what: str


@dataclass(eq=False)
class PList:
    items: list[Any] = field(default_factory=list)
    dropped: int = 0


@dataclass(eq=False)
class PDict:
    items: list[tuple[Any, Any]] = field(default_factory=list)
    dropped: int = 0

    def get(self, key: str) -> Any:
        for k, v in self.items:
            if k == key:
                return v
        return None


@dataclass(eq=False)
class AttrGetter:
    paths: tuple[str, ...]


@dataclass(eq=False)
class MethodCaller:
    name: str


@dataclass(eq=False)
class Partial:
    func: Any
    args: tuple[Any, ...]


PICKLE_PROTOCOL_MAX = 5
JOBLIB_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
IMPORTERS = {"builtins.__import__", "importlib.import_module", "importlib.__import__"}
GETATTRS = {"builtins.getattr", "operator.attrgetter"}


def looks_like_pickle(data: bytes) -> bool:
    """Cheap test for bytes that deserve a nested scan."""
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= PICKLE_PROTOCOL_MAX:
        return True
    return len(data) >= 4 and data[:1] in (b"c", b"(", b"}", b"]") and data.rstrip()[-1:] == b"."


def _str_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, LongStr):
        return value.head
    return None


def _bytes_of(value: Any) -> bytes | None:
    if isinstance(value, Blob):
        return value.data
    return None


class PickleMachine:
    """Walk one pickle stream from ``source`` until STOP, calling ``emit`` for findings."""

    def __init__(
        self,
        source: ByteSource,
        emit: Emit,
        limits: Limits = DEFAULT_LIMITS,
        depth: int = 0,
        deadline: float | None = None,
        nested: Callable[[bytes, int, int], None] | None = None,
    ) -> None:
        self.src = source
        self.emit = emit
        self.limits = limits
        self.depth = depth
        self.deadline = deadline or (time.monotonic() + limits.pickle_max_seconds)
        self.nested = nested
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.kept_bytes = 0
        self.opcodes = 0
        self.protocol = 0
        self.globals: list[str] = []
        self.offset = 0  # offset of the current opcode
        self.persistent_ids = 0

    # ----------------------------------------------------------------- helpers
    def fail(self, message: str) -> ScanAbort:
        return ScanAbort(f"{message} at offset {self.offset}")

    def push(self, value: Any) -> None:
        if len(self.stack) >= self.limits.pickle_max_stack:
            raise self.fail("stack limit exceeded")
        self.stack.append(value)

    def pop(self) -> Any:
        if not self.stack:
            raise self.fail("stack underflow")
        return self.stack.pop()

    def top(self) -> Any:
        if not self.stack:
            raise self.fail("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.metastack:
            raise self.fail("MARK expected but not found")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def keep_bytes(self, n: int, what: str) -> Blob:
        if n <= self.limits.pickle_keep_bytes and (
            self.kept_bytes + n <= self.limits.pickle_keep_bytes_total
        ):
            data = self.src.read(n, what)
            self.kept_bytes += n
            return Blob(n, data, data[:64])
        return Blob(n, None, self.src.skip(n, what))

    def keep_str(self, n: int, what: str, encoding: str = "utf-8") -> Any:
        if n <= self.limits.pickle_keep_str:
            return self.src.read(n, what).decode(encoding, "surrogatepass")
        head = self.src.skip(n, what)
        return LongStr(n, head.decode(encoding, "replace"))

    def u(self, fmt: str, n: int, what: str) -> Any:
        return struct.unpack(fmt, self.src.read(n, what))[0]

    # ----------------------------------------------------------------- main loop
    def run(self) -> Any:
        """Run to STOP; return the modelled top-of-stack."""
        src = self.src
        dispatch = self.DISPATCH
        while True:
            self.offset = src.pos
            code = src.read(1, "opcode")
            self.opcodes += 1
            if self.opcodes % 4096 == 0:
                if self.opcodes > self.limits.pickle_max_opcodes:
                    raise self.fail("opcode limit exceeded")
                if time.monotonic() > self.deadline:
                    raise self.fail("time limit exceeded")
            handler = dispatch.get(code[0])
            if handler is None:
                raise self.fail(f"invalid opcode 0x{code[0]:02x}")
            if handler is PickleMachine.op_stop:
                return self.pop() if self.stack else None
            handler(self)

    # ----------------------------------------------------------------- literals
    def op_proto(self) -> None:
        proto = self.u("<B", 1, "PROTO")
        if proto > PICKLE_PROTOCOL_MAX:
            raise self.fail(f"unsupported pickle protocol {proto}")
        self.protocol = proto

    def op_frame(self) -> None:
        self.u("<Q", 8, "FRAME")

    def op_stop(self) -> None:  # handled in run()
        pass

    def op_none(self) -> None:
        self.push(None)

    def op_true(self) -> None:
        self.push(True)

    def op_false(self) -> None:
        self.push(False)

    def op_int(self) -> None:
        line = self.src.readline(self.limits.pickle_max_line, "INT")
        if line in (b"00", b"01"):
            self.push(line == b"01")
            return
        self.push(self._parse_int(line, "INT"))

    def _parse_int(self, text: bytes, what: str) -> Any:
        if len(text) > 4300:
            return Opaque("huge integer")
        try:
            return int(text)
        except ValueError:
            raise self.fail(f"bad {what} literal") from None

    def op_long(self) -> None:
        line = self.src.readline(self.limits.pickle_max_line, "LONG")
        self.push(self._parse_int(line.rstrip(b"L"), "LONG"))

    def op_binint(self) -> None:
        self.push(self.u("<i", 4, "BININT"))

    def op_binint1(self) -> None:
        self.push(self.u("<B", 1, "BININT1"))

    def op_binint2(self) -> None:
        self.push(self.u("<H", 2, "BININT2"))

    def _long_bytes(self, n: int) -> None:
        if n > 1024:
            self.src.skip(n, "LONG")
            self.push(Opaque("huge integer"))
        else:
            self.push(int.from_bytes(self.src.read(n, "LONG"), "little", signed=True))

    def op_long1(self) -> None:
        self._long_bytes(self.u("<B", 1, "LONG1"))

    def op_long4(self) -> None:
        self._long_bytes(self.u("<i", 4, "LONG4"))

    def op_float(self) -> None:
        line = self.src.readline(self.limits.pickle_max_line, "FLOAT")
        try:
            self.push(float(line))
        except ValueError:
            raise self.fail("bad FLOAT literal") from None

    def op_binfloat(self) -> None:
        self.push(self.u(">d", 8, "BINFLOAT"))

    def op_string(self) -> None:
        data = self.src.readline(self.limits.pickle_max_line, "STRING")
        if len(data) < 2 or data[0] != data[-1] or data[:1] not in (b"'", b'"'):
            raise self.fail("STRING opcode argument must be quoted")
        try:
            raw = codecs.escape_decode(data[1:-1])[0]
        except ValueError:
            raise self.fail("bad STRING escape") from None
        self.push(raw.decode("latin-1"))

    def op_binstring(self) -> None:
        n = self.u("<i", 4, "BINSTRING")
        self.push(self.keep_str(n, "BINSTRING", "latin-1"))

    def op_short_binstring(self) -> None:
        self.push(self.keep_str(self.u("<B", 1, "SHORT_BINSTRING"), "SHORT_BINSTRING", "latin-1"))

    def op_unicode(self) -> None:
        line = self.src.readline(self.limits.pickle_max_line, "UNICODE")
        try:
            self.push(line.decode("raw-unicode-escape"))
        except UnicodeDecodeError:
            raise self.fail("bad UNICODE literal") from None

    def _unicode(self, n: int, what: str) -> None:
        try:
            self.push(self.keep_str(n, what))
        except UnicodeDecodeError:
            raise self.fail(f"bad UTF-8 in {what}") from None

    def op_binunicode(self) -> None:
        self._unicode(self.u("<I", 4, "BINUNICODE"), "BINUNICODE")

    def op_short_binunicode(self) -> None:
        self._unicode(self.u("<B", 1, "SHORT_BINUNICODE"), "SHORT_BINUNICODE")

    def op_binunicode8(self) -> None:
        self._unicode(self.u("<Q", 8, "BINUNICODE8"), "BINUNICODE8")

    def op_binbytes(self) -> None:
        self.push(self.keep_bytes(self.u("<I", 4, "BINBYTES"), "BINBYTES"))

    def op_short_binbytes(self) -> None:
        self.push(self.keep_bytes(self.u("<B", 1, "SHORT_BINBYTES"), "SHORT_BINBYTES"))

    def op_binbytes8(self) -> None:
        self.push(self.keep_bytes(self.u("<Q", 8, "BINBYTES8"), "BINBYTES8"))

    def op_bytearray8(self) -> None:
        self.push(self.keep_bytes(self.u("<Q", 8, "BYTEARRAY8"), "BYTEARRAY8"))

    def op_next_buffer(self) -> None:
        self.push(Opaque("out-of-band buffer"))

    def op_readonly_buffer(self) -> None:
        self.top()

    # ----------------------------------------------------------------- containers
    def op_mark(self) -> None:
        if len(self.metastack) >= self.limits.pickle_max_marks:
            raise self.fail("mark stack limit exceeded")
        self.metastack.append(self.stack)
        self.stack = []

    def op_pop(self) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def op_pop_mark(self) -> None:
        self.pop_mark()

    def op_dup(self) -> None:
        self.push(self.top())

    def _cap(self, items: list[Any]) -> tuple[list[Any], int]:
        cap = self.limits.pickle_container_items
        return (items[:cap], len(items) - cap) if len(items) > cap else (items, 0)

    def op_empty_list(self) -> None:
        self.push(PList())

    def op_list(self) -> None:
        items, dropped = self._cap(self.pop_mark())
        self.push(PList(items, dropped))

    def _extend(self, target: Any, items: list[Any]) -> None:
        if isinstance(target, PList):
            room = self.limits.pickle_container_items - len(target.items)
            target.items.extend(items[: max(0, room)])
            target.dropped += max(0, len(items) - max(0, room))
        elif isinstance(target, Obj):
            self._note_mutation(target, items)

    def op_append(self) -> None:
        value = self.pop()
        self._extend(self.top(), [value])

    def op_appends(self) -> None:
        items = self.pop_mark()
        self._extend(self.top(), items)

    def op_empty_tuple(self) -> None:
        self.push(())

    def op_tuple(self) -> None:
        self.push(tuple(self._cap(self.pop_mark())[0]))

    def op_tuple1(self) -> None:
        self.push((self.pop(),))

    def op_tuple2(self) -> None:
        b = self.pop()
        a = self.pop()
        self.push((a, b))

    def op_tuple3(self) -> None:
        c = self.pop()
        b = self.pop()
        a = self.pop()
        self.push((a, b, c))

    def op_empty_dict(self) -> None:
        self.push(PDict())

    def _pairs(self, items: list[Any]) -> list[tuple[Any, Any]]:
        if len(items) % 2:
            raise self.fail("odd number of items for a dict")
        return list(zip(items[::2], items[1::2], strict=True))

    def _set_items(self, target: Any, pairs: list[tuple[Any, Any]]) -> None:
        if isinstance(target, PDict):
            room = self.limits.pickle_container_items - len(target.items)
            target.items.extend(pairs[: max(0, room)])
            target.dropped += max(0, len(pairs) - max(0, room))
        elif isinstance(target, Obj):
            self._note_mutation(target, [v for _, v in pairs])
        elif isinstance(target, Ref):
            self.emit(
                Severity.HIGH,
                "pickle.mutate-global",
                f"SETITEM on imported {target.dotted}: changes a live object at load time",
                self.offset,
            )

    def op_dict(self) -> None:
        pairs = self._pairs(self.pop_mark())
        items, dropped = self._cap(pairs)
        self.push(PDict(items, dropped))

    def op_setitem(self) -> None:
        value = self.pop()
        key = self.pop()
        self._set_items(self.top(), [(key, value)])

    def op_setitems(self) -> None:
        pairs = self._pairs(self.pop_mark())
        self._set_items(self.top(), pairs)

    def op_empty_set(self) -> None:
        self.push(PList())

    def op_additems(self) -> None:
        items = self.pop_mark()
        self._extend(self.top(), items)

    def op_frozenset(self) -> None:
        items, dropped = self._cap(self.pop_mark())
        self.push(PList(items, dropped))

    def _note_mutation(self, target: Obj, values: list[Any]) -> None:
        """APPEND/SETITEM on a call result runs its ``append``/``__setitem__``: check callee."""
        for value in values:
            self._scan_value_for_pickles(value)

    # ----------------------------------------------------------------- memo
    def _memo_get(self, key: int) -> None:
        if key not in self.memo:
            raise self.fail(f"memo key {key} not defined")
        self.push(self.memo[key])

    def _memo_put(self, key: int) -> None:
        if key < 0:
            raise self.fail("negative memo key")
        if len(self.memo) >= self.limits.pickle_max_memo and key not in self.memo:
            raise self.fail("memo limit exceeded")
        self.memo[key] = self.top()

    def op_get(self) -> None:
        line = self.src.readline(self.limits.pickle_max_line, "GET")
        self._memo_get(self._line_int(line))

    def _line_int(self, line: bytes) -> int:
        try:
            return int(line[:20])
        except ValueError:
            raise self.fail("bad memo index") from None

    def op_binget(self) -> None:
        self._memo_get(self.u("<B", 1, "BINGET"))

    def op_long_binget(self) -> None:
        self._memo_get(self.u("<I", 4, "LONG_BINGET"))

    def op_put(self) -> None:
        line = self.src.readline(self.limits.pickle_max_line, "PUT")
        self._memo_put(self._line_int(line))

    def op_binput(self) -> None:
        self._memo_put(self.u("<B", 1, "BINPUT"))

    def op_long_binput(self) -> None:
        self._memo_put(self.u("<I", 4, "LONG_BINPUT"))

    def op_memoize(self) -> None:
        self._memo_put(len(self.memo))

    # ----------------------------------------------------------------- globals
    def _line_name(self, what: str) -> str:
        raw = self.src.readline(self.limits.pickle_max_line, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} name is not UTF-8") from None

    def import_global(self, module: str, name: str, opcode: str, dynamic: bool = False) -> Ref:
        ref = Ref(module, name, dynamic)
        verdict = classify(module, name)
        self.globals.append(verdict.canonical)
        if verdict.severity is not None:
            self.emit(
                verdict.severity,
                verdict.rule,
                f"{opcode} imports {verdict.canonical}: {verdict.reason}",
                self.offset,
            )
        return ref

    def op_global(self) -> None:
        module = self._line_name("GLOBAL module")
        name = self._line_name("GLOBAL name")
        self.push(self.import_global(module, name, "GLOBAL"))

    def op_stack_global(self) -> None:
        name = self.pop()
        module = self.pop()
        if isinstance(module, str) and isinstance(name, str):
            self.push(self.import_global(module, name, "STACK_GLOBAL"))
            return
        self.emit(
            Severity.HIGH,
            "pickle.dynamic-global",
            "STACK_GLOBAL with a module or name computed at load time "
            f"({type(module).__name__}, {type(name).__name__}); cannot be resolved statically",
            self.offset,
        )
        self.push(Opaque("dynamic global"))

    def op_inst(self) -> None:
        module = self._line_name("INST module")
        name = self._line_name("INST name")
        ref = self.import_global(module, name, "INST")
        args = tuple(self.pop_mark())
        self.push(self.call(ref, args, "INST"))

    def op_obj(self) -> None:
        items = self.pop_mark()
        if not items:
            raise self.fail("OBJ without a class")
        self.push(self.call(items[0], tuple(items[1:]), "OBJ"))

    def op_newobj(self) -> None:
        args = self.pop()
        cls = self.pop()
        self.push(self.call(cls, args, "NEWOBJ"))

    def op_newobj_ex(self) -> None:
        kwargs = self.pop()
        args = self.pop()
        cls = self.pop()
        self._scan_value_for_pickles(kwargs)
        self.push(self.call(cls, args, "NEWOBJ_EX"))

    def op_reduce(self) -> None:
        args = self.pop()
        func = self.pop()
        self.push(self.call(func, args, "REDUCE"))

    def op_ext(self, width: int) -> None:
        code = self.u({1: "<B", 2: "<H", 4: "<i"}[width], width, "EXT")
        self.emit(
            Severity.MEDIUM,
            "pickle.extension-code",
            f"EXT{width} {code}: a global from the copyreg extension registry; "
            "what it names depends on the loading process and cannot be checked",
            self.offset,
        )
        self.push(Opaque(f"extension {code}"))

    def op_ext1(self) -> None:
        self.op_ext(1)

    def op_ext2(self) -> None:
        self.op_ext(2)

    def op_ext4(self) -> None:
        self.op_ext(4)

    def op_persid(self) -> None:
        self.src.readline(self.limits.pickle_max_line, "PERSID")
        self.persistent_ids += 1
        self.push(Opaque("persistent id"))

    def op_binpersid(self) -> None:
        self.pop()
        self.persistent_ids += 1
        self.push(Opaque("persistent id"))

    # ----------------------------------------------------------------- calls
    def derive(self, base: Any, attr: str, how: str) -> Any:
        """Model ``getattr(base, attr)`` and report what it reaches."""
        if isinstance(base, Ref):
            name = f"{base.name}.{attr}" if base.name else attr
            target = Ref(base.module, name, dynamic=True)
        else:
            target = Ref("<object>", attr, dynamic=True)
        verdict = classify(target.module, target.name)
        severity = max(verdict.severity or Severity.HIGH, Severity.HIGH)
        shown = verdict.canonical if isinstance(base, Ref) else f"<load-time object>.{attr}"
        self.emit(
            severity,
            "pickle.dynamic-attribute",
            f"{how} reaches {shown} at load time: {verdict.reason}",
            self.offset,
        )
        return target

    def call(self, func: Any, args: Any, opcode: str) -> Any:
        """Model a load-time call and return what it produces."""
        args_t: tuple[Any, ...] = args if isinstance(args, tuple) else ()
        if not isinstance(args, tuple):
            self._scan_value_for_pickles(args)
        for arg in args_t:
            self._scan_value_for_pickles(arg)
        if isinstance(func, Partial):
            return self.call(func.func, func.args + args_t, opcode)
        if isinstance(func, AttrGetter):
            base = args_t[0] if args_t else None
            result: Any = base
            for path in func.paths:
                result = base
                for part in path.split("."):
                    result = self.derive(result, part, "operator.attrgetter")
            return result
        if isinstance(func, MethodCaller):
            base = args_t[0] if args_t else None
            target = self.derive(base, func.name, "operator.methodcaller")
            self._report_call(target, opcode)
            return Obj(target, args_t[1:], self.offset)
        if not isinstance(func, Ref):
            self.emit(
                Severity.HIGH,
                "pickle.computed-call",
                f"{opcode} calls a value built at load time ({type(func).__name__}), "
                "not an imported global: a gadget chain",
                self.offset,
            )
            return Obj(func, args_t, self.offset)
        if func.dynamic:
            self._report_call(func, opcode)
        canonical = classify(func.module, func.name).canonical
        special = self._special_call(func, canonical, args_t)
        if special is not None:
            return special
        if is_loads_like(func.module, func.name):
            for arg in args_t:
                data = _bytes_of(arg)
                if data is not None:
                    self._nested(data)
        return Obj(func, args_t, self.offset)

    def _report_call(self, target: Any, opcode: str) -> None:
        if isinstance(target, Ref):
            verdict = classify(target.module, target.name)
            severity = max(verdict.severity or Severity.HIGH, Severity.HIGH)
            self.emit(
                severity,
                "pickle.dynamic-call",
                f"{opcode} calls {verdict.canonical}, resolved at load time: {verdict.reason}",
                self.offset,
            )

    def _special_call(self, func: Ref, canonical: str, args: tuple[Any, ...]) -> Any:
        if canonical == "builtins.getattr" and len(args) >= 2 and _str_of(args[1]) is not None:
            return self.derive(args[0], _str_of(args[1]) or "", "getattr")
        if canonical in IMPORTERS and args and isinstance(args[0], str):
            verdict = classify(args[0], "")
            self.emit(
                max(verdict.severity or Severity.HIGH, Severity.HIGH),
                "pickle.dynamic-import",
                f"{canonical}({args[0]!r}) imports a module at load time: {verdict.reason}",
                self.offset,
            )
            return Ref(args[0], "", dynamic=True)
        if canonical == "operator.attrgetter" and args:
            paths = tuple(s for s in (_str_of(a) for a in args) if s is not None)
            return AttrGetter(paths) if paths else None
        if canonical == "operator.methodcaller" and args and _str_of(args[0]) is not None:
            return MethodCaller(_str_of(args[0]) or "")
        if canonical == "functools.reduce" and len(args) >= 2 and isinstance(args[1], PList):
            fn = args[0]
            if isinstance(fn, Ref) and classify(fn.module, fn.name).canonical == "builtins.getattr":
                value: Any = args[2] if len(args) > 2 else None
                for item in args[1].items:
                    name = _str_of(item)
                    if name is None:
                        return None
                    value = self.derive(value, name, "functools.reduce(getattr)")
                return value
            return None
        if canonical == "functools.partial" and args:
            return Partial(args[0], args[1:])
        if canonical == "_codecs.encode" and args and isinstance(args[0], str):
            encoding = args[1] if len(args) > 1 and isinstance(args[1], str) else "utf-8"
            try:
                data = args[0].encode("latin-1" if "latin" in encoding else "utf-8")
            except UnicodeEncodeError:
                return None
            return Blob(len(data), data, data[:64])
        if canonical in {"base64.b64decode", "base64.standard_b64decode", "binascii.a2b_base64"}:
            raw = args[0] if args else None
            text = raw.encode("ascii", "ignore") if isinstance(raw, str) else _bytes_of(raw)
            if text is not None:
                try:
                    data = base64.b64decode(text)
                except (binascii.Error, ValueError):
                    return None
                return Blob(len(data), data, data[:64])
        return None

    def _scan_value_for_pickles(self, value: Any, depth: int = 0) -> None:
        """Bytes that look like a pickle passed to any call are scanned as nested pickles."""
        if depth > 3:
            return
        data = _bytes_of(value)
        if data is not None and looks_like_pickle(data):
            self._nested(data)
        elif isinstance(value, tuple):
            for item in value[:64]:
                self._scan_value_for_pickles(item, depth + 1)

    def _nested(self, data: bytes) -> None:
        if self.nested is not None:
            self.nested(data, self.offset, self.depth + 1)

    # ----------------------------------------------------------------- BUILD
    def op_build(self) -> None:
        state = self.pop()
        inst = self.top()
        self._scan_value_for_pickles(state)
        if isinstance(inst, Ref):
            self.emit(
                Severity.HIGH,
                "pickle.mutate-global",
                f"BUILD on imported {inst.dotted}: sets attributes of a live module or class "
                "at load time",
                self.offset,
            )
            return
        if isinstance(inst, Obj):
            inst.state = state
            if self._constructor_name(inst) == JOBLIB_WRAPPER:
                self._joblib_array(inst)

    @staticmethod
    def _constructor_name(inst: Obj) -> str:
        func = inst.func
        if isinstance(func, Ref) and classify(func.module, func.name).canonical in {
            "copyreg._reconstructor",
            "copyreg.__newobj__",
        }:
            func = inst.args[0] if inst.args else None
        if isinstance(func, Ref):
            return classify(func.module, func.name).canonical
        return ""

    def _joblib_array(self, wrapper: Obj) -> None:
        """joblib writes raw array bytes right after the wrapper's BUILD; skip them."""
        state = wrapper.state
        if not isinstance(state, PDict):
            raise self.fail("joblib NumpyArrayWrapper without a state dict")
        shape = state.get("shape")
        dtype = state.get("dtype")
        if not isinstance(shape, tuple) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise self.fail("joblib array with an unreadable shape")
        itemsize, is_object = _dtype_itemsize(dtype)
        if is_object:
            # old joblib: an object array is a complete pickle written inline
            inner = PickleMachine(
                self.src, self.emit, self.limits, self.depth + 1, self.deadline, self.nested
            )
            inner.run()
            return
        if itemsize is None:
            raise self.fail("joblib array with an unreadable dtype")
        count = 1
        for d in shape:
            count *= d
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = self.u("<B", 1, "joblib padding")
            self.src.skip(padding, "joblib padding")
        self.src.skip(count * itemsize, "joblib array data")

    DISPATCH: ClassVar[dict[int, Callable[[PickleMachine], None]]] = {}


def _dtype_itemsize(dtype: Any) -> tuple[int | None, bool]:
    """Item size and object-ness of a modelled ``numpy.dtype(...)`` call."""
    if not isinstance(dtype, Obj) or not isinstance(dtype.args, tuple) or not dtype.args:
        return None, False
    code = dtype.args[0]
    if not isinstance(code, str):
        return None, False
    kind = code.lstrip("<>|=")
    if kind.startswith("O") or kind.casefold().startswith("object"):
        # numpy.dtype("object") is an object dtype as much as "O8" (joblib then unpickles)
        return 8, True
    state = dtype.state
    if isinstance(state, tuple) and len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        if isinstance(state[2], tuple) or state[3] is not None:
            return None, False  # structured dtype: fields may hold objects
        return state[5], False
    digits = kind[1:]
    if kind[:1] in "biufcmMV" and digits.isdigit():
        return int(digits), False
    if kind in {"?", "b", "B"}:
        return 1, False
    return None, False


def _build_dispatch() -> None:
    m = PickleMachine
    table: dict[bytes, Callable[[PickleMachine], None]] = {
        b"(": m.op_mark,
        b".": m.op_stop,
        b"0": m.op_pop,
        b"1": m.op_pop_mark,
        b"2": m.op_dup,
        b"F": m.op_float,
        b"I": m.op_int,
        b"J": m.op_binint,
        b"K": m.op_binint1,
        b"L": m.op_long,
        b"M": m.op_binint2,
        b"N": m.op_none,
        b"P": m.op_persid,
        b"Q": m.op_binpersid,
        b"R": m.op_reduce,
        b"S": m.op_string,
        b"T": m.op_binstring,
        b"U": m.op_short_binstring,
        b"V": m.op_unicode,
        b"X": m.op_binunicode,
        b"a": m.op_append,
        b"b": m.op_build,
        b"c": m.op_global,
        b"d": m.op_dict,
        b"}": m.op_empty_dict,
        b"e": m.op_appends,
        b"g": m.op_get,
        b"h": m.op_binget,
        b"i": m.op_inst,
        b"j": m.op_long_binget,
        b"l": m.op_list,
        b"]": m.op_empty_list,
        b"o": m.op_obj,
        b"p": m.op_put,
        b"q": m.op_binput,
        b"r": m.op_long_binput,
        b"s": m.op_setitem,
        b"t": m.op_tuple,
        b")": m.op_empty_tuple,
        b"u": m.op_setitems,
        b"G": m.op_binfloat,
        b"\x80": m.op_proto,
        b"\x81": m.op_newobj,
        b"\x82": m.op_ext1,
        b"\x83": m.op_ext2,
        b"\x84": m.op_ext4,
        b"\x85": m.op_tuple1,
        b"\x86": m.op_tuple2,
        b"\x87": m.op_tuple3,
        b"\x88": m.op_true,
        b"\x89": m.op_false,
        b"\x8a": m.op_long1,
        b"\x8b": m.op_long4,
        b"B": m.op_binbytes,
        b"C": m.op_short_binbytes,
        b"\x8c": m.op_short_binunicode,
        b"\x8d": m.op_binunicode8,
        b"\x8e": m.op_binbytes8,
        b"\x8f": m.op_empty_set,
        b"\x90": m.op_additems,
        b"\x91": m.op_frozenset,
        b"\x92": m.op_newobj_ex,
        b"\x93": m.op_stack_global,
        b"\x94": m.op_memoize,
        b"\x95": m.op_frame,
        b"\x96": m.op_bytearray8,
        b"\x97": m.op_next_buffer,
        b"\x98": m.op_readonly_buffer,
    }
    PickleMachine.DISPATCH = {k[0]: v for k, v in table.items()}


_build_dispatch()
