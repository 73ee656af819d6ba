"""Undo import renames before the JavaScript/TypeScript and Go rules run.

Why: the rules are written against the spellings code usually has (``crypto.createHash``,
``exec.Command``, ``md5.Sum``). The same calls written through a named or renamed import
(``import { createHash as h } from 'crypto'; h('md5')``, ``const { exec: run } =
require('child_process')``, ``import x "os/exec"``) would hide a weak hash or a shell call
from every rule. Instead of teaching each rule every spelling, the source is rewritten once:
each call through an imported name gets its canonical spelling back, on the same line, so
the lines the rules report are still the model's lines.

Only modules the rules know are rewritten (a closed table below). Go's ``crypto/rand`` and
``math/rand`` both import as ``rand``; they are rewritten to ``cryptorand`` and
``mathrand`` so that the weak-randomness rules can tell them apart in code that imports one
of them under another name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# module → the namespace the rules expect ("node:" prefixes are removed first)
_JS_MODULES = {
    "crypto": "crypto",
    "child_process": "child_process",
    "fs": "fs",
    "fs/promises": "fs.promises",
    "path": "path",
    "http": "http",
    "https": "https",
    "js-yaml": "yaml",
    "jsonwebtoken": "jwt",
    "node-serialize": "serialize",
}

# import path → the package name the rules expect
_GO_PACKAGES = {
    "crypto/md5": "md5",
    "crypto/sha1": "sha1",
    "crypto/sha256": "sha256",
    "crypto/sha512": "sha512",
    "crypto/des": "des",
    "crypto/rc4": "rc4",
    "crypto/cipher": "cipher",
    "crypto/tls": "tls",
    "crypto/rand": "cryptorand",
    "math/rand": "mathrand",
    "math/rand/v2": "mathrand",
    "os/exec": "exec",
    "os": "os",
    "net/http": "http",
    "database/sql": "sql",
    "path/filepath": "filepath",
    "io/ioutil": "ioutil",
}


def canonical_source(tree: Any, source: bytes, language: str) -> bytes | None:
    """``source`` with calls through imported names respelt canonically, or None if the
    block has nothing to respell. Replacements never contain a newline, so line numbers
    are unchanged."""
    members: dict[str, str] = {}
    if language == "go":
        names = _go_bindings(tree.root_node)
    else:
        names, members = _js_bindings(tree.root_node)
    if not names and not members:
        return None
    edits: list[tuple[int, int, bytes]] = []
    for node in walk(tree.root_node):
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            if function is not None and function.type == "identifier":
                target = members.get(node_text(function))
                if target is not None:
                    edits.append((function.start_byte, function.end_byte, target.encode()))
        elif node.type in ("member_expression", "selector_expression"):
            field = "object" if node.type == "member_expression" else "operand"
            base = node.child_by_field_name(field)
            if base is not None and base.type == "identifier":
                target = names.get(node_text(base))
                if target is not None:
                    edits.append((base.start_byte, base.end_byte, target.encode()))
    if not edits:
        return None
    out = bytearray(source)
    for start, end, text in sorted(edits, reverse=True):
        out[start:end] = text
    return bytes(out)


def _js_bindings(root: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(local namespace name → canonical namespace, local function name → canonical call)."""
    namespaces: dict[str, str] = {}
    functions: dict[str, str] = {}
    for node in root.children:
        if node.type == "import_statement":
            namespace = _js_module(node.child_by_field_name("source"))
            clause = next((c for c in node.children if c.type == "import_clause"), None)
            if namespace is None or clause is None:
                continue
            for part in clause.children:
                if part.type == "identifier":  # import y from 'js-yaml'
                    namespaces[node_text(part)] = namespace
                elif part.type == "namespace_import":  # import * as c from 'crypto'
                    for ident in part.children:
                        if ident.type == "identifier":
                            namespaces[node_text(ident)] = namespace
                elif part.type == "named_imports":  # import { createHash as h } …
                    for spec in part.children:
                        if spec.type != "import_specifier":
                            continue
                        name = spec.child_by_field_name("name")
                        alias = spec.child_by_field_name("alias") or name
                        if name is not None and alias is not None:
                            functions[node_text(alias)] = f"{namespace}.{node_text(name)}"
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for declarator in node.children:
                if declarator.type == "variable_declarator":
                    _js_require(declarator, namespaces, functions)
    return _without_identity(namespaces), _without_identity(functions)


def _js_require(declarator: Any, namespaces: dict[str, str], functions: dict[str, str]) -> None:
    """``const c = require('crypto')`` and ``const { exec: run } = require('child_process')``."""
    value = declarator.child_by_field_name("value")
    target = declarator.child_by_field_name("name")
    if value is None or target is None or value.type != "call_expression":
        return
    function = value.child_by_field_name("function")
    arguments = value.child_by_field_name("arguments")
    if function is None or node_text(function) != "require" or arguments is None:
        return
    strings = [a for a in arguments.named_children if a.type == "string"]
    namespace = _js_module(strings[0]) if len(strings) == 1 else None
    if namespace is None:
        return
    if target.type == "identifier":
        namespaces[node_text(target)] = namespace
    elif target.type == "object_pattern":
        for part in target.named_children:
            if part.type == "shorthand_property_identifier_pattern":
                functions[node_text(part)] = f"{namespace}.{node_text(part)}"
            elif part.type == "pair_pattern":
                key, alias = part.child_by_field_name("key"), part.child_by_field_name("value")
                if key is not None and alias is not None and alias.type == "identifier":
                    functions[node_text(alias)] = f"{namespace}.{node_text(key)}"


def _js_module(node: Any | None) -> str | None:
    if node is None:
        return None
    name = node_text(node).strip("'\"`").removeprefix("node:")
    return _JS_MODULES.get(name)


def _go_bindings(root: Any) -> dict[str, str]:
    """local package name → canonical package name, for the packages in the table."""
    out: dict[str, str] = {}
    for spec in walk(root):
        if spec.type != "import_spec":
            continue
        path = spec.child_by_field_name("path")
        canonical = _GO_PACKAGES.get(node_text(path).strip('"`')) if path is not None else None
        if canonical is None:
            continue
        name = spec.child_by_field_name("name")
        if name is None:
            out[_go_default_name(node_text(path).strip('"`'))] = canonical
        elif name.type == "package_identifier":
            out[node_text(name)] = canonical
    return _without_identity(out)


def _go_default_name(path: str) -> str:
    """The name an unnamed import binds: the last path element, skipping a major-version
    suffix (``math/rand/v2`` imports as ``rand``)."""
    parts = path.split("/")
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        return parts[-2]
    return parts[-1]


def _without_identity(mapping: dict[str, str]) -> dict[str, str]:
    return {local: target for local, target in mapping.items() if local != target}


def node_text(node: Any) -> str:
    """A tree-sitter node's source text (shared with :mod:`tsanalyser`)."""
    return (node.text or b"").decode("utf-8", "replace")


def walk(node: Any) -> Iterator[Any]:
    """Every node under ``node``, without recursion (shared with :mod:`tsanalyser`)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)
