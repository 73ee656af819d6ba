"""Checks for free text found in model files: URLs, code, hidden characters, blobs.

Shared by the safetensors metadata check, GGUF metadata and the chat-template analysis, so
"what counts as a URL or hidden text" is decided in one place.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

URL = re.compile(r"(?i)\b(?:https?|ftp|wss?|file)://[^\s'\"<>)}\]]+")
BARE_HOST = re.compile(
    r"(?i)\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|ru|cn|xyz|top|onion|sh|dev|app|site)\b(?:/\S*)?"
)
IP_URL = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b")
CODE = re.compile(
    r"(?i)(\bimport\s+[a-z_]|\bexec\s*\(|\beval\s*\(|__import__|\bos\.system|\bsubprocess\b"
    r"|<script\b|\bcurl\s+|\bwget\s+|\brm\s+-rf\b|\bpowershell\b|\bbase64\s+-d\b|"
    r"/bin/(?:ba)?sh\b)"
)
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")
# Characters a reader cannot see but a model tokenises: zero-width, bidi controls, tags.
INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u180e\U000e0000-\U000e007f]"
)
HIDDEN_INSTRUCTION = re.compile(
    r"(?i)(ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|messages)"
    r"|disregard (?:all |any )?(?:previous|prior|the user)"
    r"|(?:do not|don't|never) (?:tell|reveal|mention|inform|disclose|let)\b[^.]{0,40}\buser"
    r"|without (?:the user(?:'s)? )?(?:knowing|noticing|telling)"
    r"|(?:send|post|upload|forward|exfiltrate|transmit|leak)(?:s|ed|ing)?\b[^.]{0,60}"
    r"\b(?:to|http|server|endpoint|webhook|url)\b"
    r"|secretly|covertly|exfiltrat"
    r"|(?:api[_ -]?key|password|credential|secret key|private key|ssh key|token)s?\b[^.]{0,40}"
    r"\b(?:send|include|insert|output|reveal|collect)"
    r"|(?:insert|add|include)\b[^.]{0,40}\b(?:backdoor|vulnerab|malicious)"
    r"|you are now|new instructions|system override|developer mode)"
)


def urls(text: str) -> list[str]:
    """Explicit URLs and bare IP:port addresses."""
    return URL.findall(text) + IP_URL.findall(text)


def invisible_chars(text: str) -> list[str]:
    """Names of invisible or direction-changing characters present in ``text``."""
    found = {m.group(0) for m in INVISIBLE.finditer(text)}
    return sorted(unicodedata.name(c, f"U+{ord(c):04X}") for c in found)


def base64_blobs(text: str, min_decoded: int = 30) -> list[str]:
    """Runs that decode as base64 to mostly printable text or binary of some size."""
    out = []
    for match in BASE64_RUN.finditer(text):
        run = match.group(0)
        if run.isalpha() or run.isdigit():
            continue  # a long word or number, not an encoding
        try:
            decoded = base64.b64decode(run + "=" * (-len(run) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(decoded) >= min_decoded:
            out.append(run[:60])
    return out


def hidden_instructions(text: str) -> list[str]:
    """Phrases that instruct a model to act against, or behind the back of, its user."""
    return [m.group(0)[:80] for m in HIDDEN_INSTRUCTION.finditer(text)]


def code_like(text: str) -> list[str]:
    return [m.group(0) for m in CODE.finditer(text)]
