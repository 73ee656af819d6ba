"""What the Python rules need to know about a parsed module, computed once per block.

The rules in ``rules/python.yaml`` ask questions such as "is this argument a string built
from non-constant parts?", "does this value come from the HTTP request?", "is this call
about a password?". This module answers them over :mod:`ast` alone (the code is parsed,
never compiled to bytecode, imported or run), with a deliberately small data flow: names
are followed through assignments inside the same function, which is how model-written
code usually builds a query or a command one line before using it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator

Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef

# Words that make a value or a call "about a secret" (split from identifiers).
SECRET_WORDS = frozenset(
    [
        "token",
        "tokens",
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "pwd",
        "passphrase",
        "salt",
        "nonce",
        "otp",
        "totp",
        "hotp",
        "session",
        "sessionid",
        "sid",
        "csrf",
        "xsrf",
        "apikey",
        "key",
        "keys",
        "iv",
        "auth",
        "authentication",
        "verification",
        "verify",
        "reset",
        "invite",
        "pin",
        "captcha",
        "credential",
        "credentials",
        "cookie",
        "jwt",
        "signature",
        "private",
        "crypto",
        "cipher",
        "encrypt",
        "encryption",
        "activation",
        "confirmation",
        "voucher",
        "coupon",
    ]
)
PASSWORD_WORDS = frozenset(
    ["password", "passwords", "passwd", "pwd", "passphrase", "pass", "pw", "credentials"]
)

_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_CONST_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SAFE_CASTS = frozenset({"int", "float", "len", "bool", "abs", "round", "hex", "ord"})

# Attribute chains rooted here carry request data (Flask, Django, FastAPI/Starlette, aiohttp).
_REQUEST_ATTRS = frozenset(
    [
        "args",
        "form",
        "values",
        "json",
        "data",
        "files",
        "cookies",
        "headers",
        "GET",
        "POST",
        "FILES",
        "COOKIES",
        "META",
        "body",
        "query_params",
        "path_params",
        "query",
        "match_info",
        "get_json",
        "get_data",
        "params",
        "query_string",
        "full_path",
        "path",
        "url",
    ]
)
_ROUTE_DECORATORS = frozenset(
    [
        "route",
        "get",
        "post",
        "put",
        "delete",
        "patch",
        "api_route",
        "websocket",
        "head",
        "options",
        "view_config",
    ]
)


def words(text: str) -> set[str]:
    """Lower-case words of identifiers: ``resetToken_value`` → {reset, token, value}."""
    out: set[str] = set()
    for part in re.split(r"[^A-Za-z0-9]+", text):
        for word in _CAMEL.findall(part):
            out.add(word.lower())
        if part:
            out.add(part.lower())
    return out


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None (calls and subscripts break it)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


# Functions whose result is a shell-safe word (or words) for any input
_SHELL_QUOTERS = frozenset({"shlex.quote", "shlex.join", "pipes.quote"})


class ModuleFacts:
    """Parents, scopes, import aliases, assignments and taint for one parsed module."""

    def __init__(self, tree: ast.Module, source: str) -> None:
        self.tree = tree
        self.lines = source.split("\n")
        self.parent: dict[ast.AST, ast.AST] = {}
        self.aliases: dict[str, str] = {}
        self.assigned: dict[tuple[int, str], list[ast.expr]] = {}
        self._tainted: dict[int, set[str]] = {}
        self._scope_text: dict[int, str] = {}
        #: the identifier words of each scope (and the module's imports), for rules that ask
        #: what a function is about
        self.scope_words: dict[int | str, frozenset[str]] = {}
        #: every node, once: the rules iterate this instead of re-walking the tree
        self.nodes: list[ast.AST] = list(ast.walk(tree))
        self.call_nodes: list[ast.Call] = [n for n in self.nodes if isinstance(n, ast.Call)]
        self.call_name_cache: dict[int, tuple[str, ...]] = {}
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self._record(target, node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                self._record(node.target, node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add):
                # `q += "... " + x` makes q a built string: remember the BinOp it implies.
                self._record(node.target, ast.BinOp(left=node.target, op=ast.Add(),
                                                    right=node.value))  # fmt: skip
            elif isinstance(node, ast.NamedExpr):
                self._record(node.target, node.value)

    # ------------------------------------------------------------------ structure

    def _record(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.assigned.setdefault((id(self.scope_of(target)), target.id), []).append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._record(element, value)

    def scope_of(self, node: ast.AST) -> Scope:
        current: ast.AST | None = node
        while current is not None:
            current = self.parent.get(current)
            if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
                return current
        return self.tree

    def statement_of(self, node: ast.AST) -> ast.AST:
        current = node
        while not isinstance(current, ast.stmt) and current in self.parent:
            current = self.parent[current]
        return current

    def scope_text(self, node: ast.AST) -> str:
        """Source of the function enclosing ``node`` (the whole block at module level)."""
        scope = self.scope_of(node)
        key = id(scope)
        if key not in self._scope_text:
            if isinstance(scope, ast.Module):
                text = "\n".join(self.lines)
            else:
                text = "\n".join(self.lines[scope.lineno - 1 : (scope.end_lineno or 0)])
            self._scope_text[key] = text
        return self._scope_text[key]

    def qualified(self, node: ast.AST) -> str | None:
        """Dotted name of ``node`` with import aliases resolved (``sp.run`` → subprocess.run)."""
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head in self.aliases:
            return f"{self.aliases[head]}.{rest}" if rest else self.aliases[head]
        return name

    def values_of(self, name: ast.Name) -> list[ast.expr]:
        """Expressions assigned to ``name`` in its scope (then at module level)."""
        scope = self.scope_of(name)
        found = self.assigned.get((id(scope), name.id))
        if found is None and not isinstance(scope, ast.Module):
            found = self.assigned.get((id(self.tree), name.id))
        return found or []

    # ------------------------------------------------------------------ value predicates

    def is_constant(self, node: ast.AST, depth: int = 0) -> bool:
        """True if ``node`` cannot carry outside data (literals, CONSTANTS, numeric casts)."""
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            if _CONST_NAME.match(node.id):
                return True
            values = self.values_of(node)
            if not values or depth > 3:
                return False
            return all(self.is_constant(v, depth + 1) for v in values if v is not node)
        if isinstance(node, ast.Attribute):
            return bool(_CONST_NAME.match(node.attr))
        if isinstance(node, ast.JoinedStr):
            return all(self.is_constant(v, depth + 1) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self.is_constant(node.value, depth + 1)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mult) and any(
                isinstance(side, ast.Constant | ast.List | ast.Tuple)
                and self.is_constant(side, depth + 1)
                for side in (node.left, node.right)
            ):
                return True  # ["?"] * len(ids): a constant repeated, whatever the count
            return self.is_constant(node.left, depth + 1) and self.is_constant(
                node.right, depth + 1
            )
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return all(self.is_constant(e, depth + 1) for e in node.elts)
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            # "?" for _ in ids: placeholders, one per value (the safe IN (...) idiom)
            return self.is_constant(node.elt, depth + 1)
        if isinstance(node, ast.Call):
            func = dotted(node.func)
            if func in _SAFE_CASTS:
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
                return self.is_constant(node.func.value, depth + 1) and all(
                    self.is_constant(a, depth + 1) for a in node.args
                )
        return False

    def is_stringish(self, node: ast.AST, depth: int = 0) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str | bytes)
        if isinstance(node, ast.JoinedStr):
            return True
        if isinstance(node, ast.BinOp):
            return self.is_stringish(node.left, depth + 1) or self.is_stringish(
                node.right, depth + 1
            )
        if isinstance(node, ast.Name) and depth < 3:
            return any(self.is_stringish(v, depth + 1) for v in self.values_of(node)
                       if v is not node)  # fmt: skip
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (node.func.attr in ("format", "join"))
        )

    def is_formatted(self, node: ast.AST, depth: int = 0) -> bool:
        """True if ``node`` is a string assembled from at least one non-constant part."""
        if depth > 4:
            return False
        if isinstance(node, ast.JoinedStr):
            return not self.is_constant(node)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mod) and self.is_stringish(node.left):
                return not self.is_constant(node.right)
            if isinstance(node.op, ast.Add):
                if self.is_formatted(node.left, depth + 1) or self.is_formatted(
                    node.right, depth + 1
                ):
                    return True
                return (self.is_stringish(node.left) or self.is_stringish(node.right)) and not (
                    self.is_constant(node)
                )
            return False
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Call) and (dotted(receiver.func) or "").endswith("SQL"):
                return False  # psycopg2.sql.SQL(...).format(sql.Identifier(x)) quotes safely
            if node.func.attr == "format":  # str.format on a literal or a template name
                parts = [*node.args, *(k.value for k in node.keywords)]
                return not all(self.is_constant(p) for p in parts)
            if node.func.attr == "join" and isinstance(node.func.value, ast.Constant):
                return not all(self.is_constant(a) for a in node.args)
        if isinstance(node, ast.Name):
            return any(self.is_formatted(v, depth + 1) for v in self.values_of(node)
                       if v is not node)  # fmt: skip
        return False

    def is_dynamic(self, node: ast.AST) -> bool:
        return not self.is_constant(node)

    def is_shell_escaped(self, node: ast.AST, depth: int = 0) -> bool:
        """Every variable part of a command string went through ``shlex.quote`` (or
        ``shlex.join``): the shell then sees each as one literal word."""
        if depth > 8:
            return False
        if self.is_constant(node):
            return True
        if isinstance(node, ast.Call):
            if self.qualified(node.func) in _SHELL_QUOTERS:
                return True
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "format"
                and isinstance(node.func.value, ast.Constant)
            ):
                parts = [*node.args, *(k.value for k in node.keywords)]
                return all(self.is_shell_escaped(p, depth + 1) for p in parts)
            return False
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
            return self.is_shell_escaped(node.left, depth + 1) and self.is_shell_escaped(
                node.right, depth + 1
            )
        if isinstance(node, ast.JoinedStr):
            return all(
                self.is_shell_escaped(v.value, depth + 1)
                for v in node.values
                if isinstance(v, ast.FormattedValue)
            )
        if isinstance(node, ast.Tuple):
            return all(self.is_shell_escaped(e, depth + 1) for e in node.elts)
        if isinstance(node, ast.Name):
            values = [v for v in self.values_of(node) if v is not node]
            return bool(values) and all(self.is_shell_escaped(v, depth + 1) for v in values)
        return False

    # ------------------------------------------------------------------ taint

    def _is_source(self, node: ast.AST) -> bool:
        """A direct read of user input: request data, input(), sys.argv."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute):
                root = dotted(sub)
                if root is None:
                    continue
                parts = root.split(".")
                if "request" in parts[:-1] or parts[0] in ("request", "req"):
                    index = parts.index("request") if "request" in parts else 0
                    if len(parts) > index + 1 and parts[index + 1] in _REQUEST_ATTRS:
                        return True
                if root in ("sys.argv",):
                    return True
            elif isinstance(sub, ast.Call) and dotted(sub.func) in ("input", "raw_input"):
                return True
        return False

    def tainted_names(self, scope: Scope) -> set[str]:
        key = id(scope)
        if key in self._tainted:
            return self._tainted[key]
        names: set[str] = set()
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) and self._is_route(scope):
            typed = _typed_route_params(scope)
            names.update(
                a.arg
                for a in scope.args.args
                if a.arg not in ("self", "cls", "request") and a.arg not in typed
            )
        self._tainted[key] = names
        pairs = [(n, vs) for (sid, n), vs in self.assigned.items() if sid == key]
        for _ in range(3):  # propagate x = req...; y = f(x); z = y + "…"
            before = len(names)
            for name, values in pairs:
                if name not in names and any(self._mentions_taint(v, names) for v in values):
                    names.add(name)
            if len(names) == before:
                break
        return names

    @staticmethod
    def _is_route(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        for decorator in func.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(target, ast.Attribute) and target.attr in _ROUTE_DECORATORS:
                return True
        return False

    def _mentions_taint(self, node: ast.AST, names: set[str]) -> bool:
        if self._is_source(node):
            return True
        return any(isinstance(s, ast.Name) and s.id in names for s in ast.walk(node))

    def is_input(self, node: ast.AST) -> bool:
        """True if ``node`` carries user input (directly or through local assignments)."""
        return self._mentions_taint(node, self.tainted_names(self.scope_of(node)))

    # ------------------------------------------------------------------ context

    def context_words(self, node: ast.AST) -> set[str]:
        """Words around ``node`` that say what the value is for.

        The enclosing function's name, the names the statement assigns to, the keyword
        or dict key the value is passed under, and identifiers inside the node itself.
        """
        out: set[str] = set()
        scope = self.scope_of(node)
        if not isinstance(scope, ast.Module):
            out |= words(scope.name)
        current: ast.AST = node
        while current in self.parent and not isinstance(current, ast.stmt):
            parent = self.parent[current]
            if isinstance(parent, ast.keyword) and parent.arg:
                out |= words(parent.arg)
            elif isinstance(parent, ast.Dict):
                for key, value in zip(parent.keys, parent.values, strict=True):
                    if value is current and isinstance(key, ast.Constant):
                        out |= words(str(key.value))
            current = parent
        statement = current
        targets: Iterable[ast.AST] = ()
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
            targets = (statement.target,)
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    out |= words(sub.id)
                elif isinstance(sub, ast.Attribute):
                    out |= words(sub.attr)
                elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    out |= words(sub.value)
        return out

    def mentions(self, node: ast.AST, vocabulary: frozenset[str]) -> bool:
        """True if identifiers inside ``node`` name one of ``vocabulary``'s words."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and words(sub.id) & vocabulary:
                return True
            if isinstance(sub, ast.Attribute) and words(sub.attr) & vocabulary:
                return True
        return False

    def calls(self) -> Iterator[ast.Call]:
        yield from self.call_nodes


# Route parameters the framework has already converted to a number or UUID cannot carry a
# path, a query or markup: Flask/Werkzeug converters in the route string (`<int:id>`), and
# FastAPI-style annotations (`id: int`).
_SAFE_CONVERTERS = re.compile(r"<(?:int|float|uuid):(\w+)>")
_SAFE_ANNOTATIONS = frozenset({"int", "float", "bool", "UUID", "uuid.UUID"})


def _typed_route_params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    typed: set[str] = set()
    for decorator in func.decorator_list:
        if isinstance(decorator, ast.Call):
            for route in decorator.args[:1]:
                if isinstance(route, ast.Constant) and isinstance(route.value, str):
                    typed.update(_SAFE_CONVERTERS.findall(route.value))
    for param in func.args.args:
        if param.annotation is not None and ast.unparse(param.annotation) in _SAFE_ANNOTATIONS:
            typed.add(param.arg)
    return typed
