"""Explicit, optional online existence checks against PyPI and the npm registry.

This is the only part of the package checker that touches the network, and it runs only
when asked (``--online``), *before* judging: it looks up the names the offline snapshot
cannot settle, stores the answers in the on-disk cache, and the detector then reads them
from there. The detector itself stays offline and deterministic.

Endpoints (overridable per call or with ``ALLEGIANCE_PYPI_URL`` / ``ALLEGIANCE_NPM_URL``,
which is also how the tests point the client at a loopback server):

* PyPI JSON API: ``GET {pypi}/{name}/json``: 200 exists, 404 does not.
* npm registry: ``GET {npm}/{name}`` (``@scope%2Fname`` for scoped names): 200 / 404.

Only the status line is read (responses for popular packages run to megabytes). Answers
other than 200/404 and network errors are reported as unknown and never cached. Names
that are not valid package names are never put into a URL.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from allegiance import __version__
from allegiance.detectors.pkgindex.cache import LookupCache, utc_now_iso
from allegiance.detectors.pkgindex.names import Ecosystem, is_valid, normalize

DEFAULT_PYPI_URL = "https://pypi.org/pypi"
DEFAULT_NPM_URL = "https://registry.npmjs.org"

NameKey = tuple[Ecosystem, str]


@dataclass(frozen=True)
class OnlineAnswer:
    """One lookup: ``exists`` is None when the registry gave no usable answer."""

    exists: bool | None
    source: str  # "online", "cache" or "invalid-name"
    detail: str = ""


def _url(ecosystem: Ecosystem, name: str, pypi_url: str, npm_url: str) -> str:
    if ecosystem == "pypi":
        return f"{pypi_url.rstrip('/')}/{quote(normalize('pypi', name), safe='')}/json"
    return f"{npm_url.rstrip('/')}/{quote(name, safe='@')}"


async def _ask(
    client: aiohttp.ClientSession, url: str, attempts: int, backoff: float
) -> tuple[bool | None, str]:
    detail = ""
    for attempt in range(attempts):
        try:
            async with client.get(url, allow_redirects=True) as response:
                status = response.status
            if status == 200:
                return True, "200"
            if status in (404, 410):
                return False, str(status)
            detail = f"HTTP {status}"
            if status not in (429, 500, 502, 503, 504):
                break
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
        if attempt + 1 < attempts:
            await asyncio.sleep(backoff * (2**attempt))
    return None, detail


async def resolve_online_async(
    names: Iterable[NameKey],
    *,
    cache: LookupCache | None = None,
    pypi_url: str | None = None,
    npm_url: str | None = None,
    timeout: float = 10.0,
    concurrency: int = 8,
    max_age_days: float = 7.0,
    attempts: int = 2,
    backoff: float = 0.5,
    save: bool = True,
) -> dict[NameKey, OnlineAnswer]:
    """Ask the registries whether each (ecosystem, name) exists.

    Cached answers younger than ``max_age_days`` are reused without a request: a missing
    name can be registered at any time (that is exactly how slopsquatting works), so old
    answers are asked again. New answers are written to ``cache`` (and saved to disk when
    ``save``). Returns one :class:`OnlineAnswer` per distinct input name.
    """
    pypi_url = pypi_url or os.environ.get("ALLEGIANCE_PYPI_URL") or DEFAULT_PYPI_URL
    npm_url = npm_url or os.environ.get("ALLEGIANCE_NPM_URL") or DEFAULT_NPM_URL
    now = datetime.now(UTC)
    answers: dict[NameKey, OnlineAnswer] = {}
    todo: list[NameKey] = []
    for ecosystem, name in dict.fromkeys(names):
        if not is_valid(ecosystem, name):
            answers[(ecosystem, name)] = OnlineAnswer(None, "invalid-name")
            continue
        entry = cache.get(ecosystem, name) if cache is not None else None
        if entry is not None and entry.age_days(now) <= max_age_days:
            answers[(ecosystem, name)] = OnlineAnswer(entry.exists, "cache", entry.checked)
            continue
        todo.append((ecosystem, name))

    if todo:
        limit = asyncio.Semaphore(max(1, concurrency))
        headers = {"User-Agent": f"allegiance/{__version__} (package existence check)"}
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout), headers=headers, trust_env=False
        ) as client:

            async def one(item: NameKey) -> None:
                ecosystem, name = item
                async with limit:
                    exists, detail = await _ask(
                        client, _url(ecosystem, name, pypi_url, npm_url), attempts, backoff
                    )
                answers[item] = OnlineAnswer(exists, "online", detail)
                if exists is not None and cache is not None:
                    cache.put(ecosystem, name, exists, utc_now_iso())

            await asyncio.gather(*(one(item) for item in todo))
        if save and cache is not None and cache.path is not None:
            cache.save()
    return answers


def resolve_online(names: Iterable[NameKey], **kwargs: Any) -> dict[NameKey, OnlineAnswer]:
    """Synchronous wrapper of :func:`resolve_online_async` for the CLI (same arguments)."""
    return asyncio.run(resolve_online_async(names, **kwargs))
