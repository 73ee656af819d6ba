"""Static analysis of Python files that ``trust_remote_code=True`` would import.

Parsed with :func:`ast.parse` (which compiles nothing and runs nothing) and walked for
what modeling code has no need of: network access, subprocesses, ``exec``/``eval``,
dynamic imports, decode-then-execute obfuscation and file writes.
"""

from __future__ import annotations

import ast

from allegiance.artifacts.findings import FileResult, Severity

NETWORK = {
    "socket",
    "urllib",
    "urllib2",
    "urllib3",
    "requests",
    "httpx",
    "http",
    "aiohttp",
    "ftplib",
    "smtplib",
    "telnetlib",
    "paramiko",
    "websocket",
    "websockets",
    "xmlrpc",
    "socketserver",
    "ssl",
    "pycurl",
}
PROCESS = {"subprocess", "pty", "multiprocessing", "commands", "ctypes", "cffi", "webbrowser"}
DECODERS = {
    "b64decode",
    "b32decode",
    "b16decode",
    "a85decode",
    "b85decode",
    "decodebytes",
    "decompress",
    "loads",
    "decode",
    "fromhex",
    "unhexlify",
    "a2b_base64",
    "urlsafe_b64decode",
}
OBFUSCATION_MODULES = {"base64", "zlib", "marshal", "codecs", "lzma", "bz2", "binascii"}
EXEC_CALLS = {"exec", "eval", "compile", "execfile"}
OS_PROCESS = {
    "system",
    "popen",
    "spawnl",
    "spawnv",
    "spawnlp",
    "spawnvp",
    "execv",
    "execl",
    "execvp",
    "execve",
    "fork",
    "posix_spawn",
    "startfile",
}
WRITE_METHODS = {
    "write_text",
    "write_bytes",
    "rmtree",
    "remove",
    "unlink",
    "chmod",
    "copyfile",
    "move",
    "symlink",
}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


class _Visitor(ast.NodeVisitor):
    def __init__(self, result: FileResult, where: str, aliases: dict[str, str]) -> None:
        self.result, self.where, self.aliases = result, where, aliases

    def add(self, severity: Severity, rule: str, message: str, node: ast.AST) -> None:
        self.result.add(severity, rule, message, f"{self.where}:{getattr(node, 'lineno', 0)}")

    def resolve(self, name: str) -> str:
        head, _, rest = name.partition(".")
        base = self.aliases.get(head, head)
        return f"{base}.{rest}" if rest else base

    def module_rule(self, module: str, node: ast.AST) -> None:
        top = module.split(".")[0]
        if top in NETWORK:
            self.add(Severity.HIGH, "code.network", f"imports {module}: network access", node)
        elif top in PROCESS:
            self.add(Severity.HIGH, "code.subprocess", f"imports {module}: runs programs", node)
        elif top in ("importlib", "imp", "runpy", "pkgutil"):
            self.add(Severity.MEDIUM, "code.dynamic-import", f"imports {module}", node)
        elif top in ("marshal", "pickle", "dill", "cloudpickle"):
            self.add(Severity.MEDIUM, "code.deserialise", f"imports {module}", node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.module_rule(alias.name, node)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            self.module_rule(node.module, node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.resolve(_dotted(node.func))
        last = name.rsplit(".", 1)[-1]
        if name in EXEC_CALLS or name in {f"builtins.{c}" for c in EXEC_CALLS}:
            obfuscated = any(
                isinstance(sub, ast.Call)
                and (
                    self.resolve(_dotted(sub.func)).split(".")[0] in OBFUSCATION_MODULES
                    or self.resolve(_dotted(sub.func)).rsplit(".", 1)[-1] in DECODERS
                )
                for arg in node.args
                for sub in ast.walk(arg)
            )
            if obfuscated:
                self.add(
                    Severity.CRITICAL,
                    "code.obfuscated-exec",
                    f"{name}() of decoded/decompressed data: hidden code",
                    node,
                )
            else:
                self.add(
                    Severity.HIGH, "code.exec", f"calls {name}(): runs code from a string", node
                )
        elif name in ("__import__", "builtins.__import__", "importlib.import_module"):
            self.add(
                Severity.MEDIUM, "code.dynamic-import", f"{name}() imports by computed name", node
            )
        elif (name.startswith("os.") and last in OS_PROCESS) or name.split(".")[0] == "subprocess":
            self.add(Severity.CRITICAL, "code.subprocess", f"calls {name}(): runs programs", node)
        elif name.split(".")[0] in NETWORK and name.count("."):
            self.add(Severity.HIGH, "code.network", f"calls {name}(): network access", node)
        elif name == "marshal.loads":
            self.add(Severity.HIGH, "code.deserialise", "marshal.loads builds code objects", node)
        elif name in ("open", "builtins.open", "io.open") or (
            last in ("open",) and name.endswith(".open")
        ):
            self._open(node, name)
        elif (last in WRITE_METHODS and name.split(".")[0] in ("shutil", "os", "")) or (
            isinstance(node.func, ast.Attribute) and node.func.attr in ("write_text", "write_bytes")
        ):
            self.add(
                Severity.MEDIUM, "code.file-write", f"calls {name or last}(): writes files", node
            )
        self.generic_visit(node)

    def _open(self, node: ast.Call, name: str) -> None:
        mode: ast.AST | None = node.args[1] if len(node.args) > 1 else None
        for kw in node.keywords:
            if kw.arg == "mode":
                mode = kw.value
        if (
            isinstance(mode, ast.Constant)
            and isinstance(mode.value, str)
            and set(mode.value) & set("wax+")
        ):
            self.add(
                Severity.MEDIUM,
                "code.file-write",
                f"{name}(..., {mode.value!r}) writes files",
                node,
            )


def _aliases(tree: ast.AST) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def analyse_python(source: str, result: FileResult, where: str) -> None:
    """Parse ``source`` and record risky constructs; a syntax error is itself a finding."""
    try:
        tree = ast.parse(source, filename=where)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        result.add(
            Severity.MEDIUM,
            "code.unparseable",
            f"Python file does not parse ({str(error)[:100]}); not analysed",
            where,
        )
        return
    try:
        _Visitor(result, where, _aliases(tree)).visit(tree)
    except RecursionError:
        result.add(
            Severity.MEDIUM, "code.unparseable", "Python file nests too deeply to analyse", where
        )
