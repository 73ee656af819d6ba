"""SQLite store (WAL): one row per attempt, written the moment it completes.

The tables are plain and named for people, so ``sqlite3 allegiance.db`` or Datasette is a
fine way to explore results::

    SELECT probe_id, response_text FROM attempts WHERE status = 'ok' LIMIT 5;
    SELECT label, count(*) FROM verdicts WHERE detector = 'refusal' GROUP BY label;

JSON is used only where the shape varies (request, probe, raw response, evidence). The
public methods are the whole storage interface the engine and reports use, so another
backend (PostgreSQL) can implement the same methods without touching them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from allegiance.errors import StoreError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    status      TEXT NOT NULL,          -- running | complete | interrupted | failed
    command     TEXT NOT NULL,
    settings    TEXT NOT NULL,          -- JSON: suites, targets, samples, seed, versions
    isolation   TEXT                    -- JSON: egress check result when run with --isolate
);
CREATE TABLE IF NOT EXISTS targets (
    target_id   TEXT PRIMARY KEY,       -- sha256 of the identity JSON
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    identity    TEXT NOT NULL,          -- JSON; never contains secrets
    first_seen  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    attempt_id         TEXT PRIMARY KEY, -- content hash: target, messages, params, sample, probe
    target_id          TEXT NOT NULL REFERENCES targets(target_id),
    suite              TEXT NOT NULL,
    probe_id           TEXT NOT NULL,
    sample_index       INTEGER NOT NULL,
    seed               INTEGER NOT NULL,
    request            TEXT NOT NULL,    -- JSON: exactly what was sent (no credentials)
    probe              TEXT NOT NULL,    -- JSON: tags and answer keys used by detectors
    status             TEXT NOT NULL,    -- ok | error
    response_text      TEXT,
    finish_reason      TEXT,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    model_reported     TEXT,
    provider           TEXT,
    system_fingerprint TEXT,
    response           TEXT,             -- JSON: the provider's raw answer
    error              TEXT,
    tries              INTEGER NOT NULL DEFAULT 1,
    latency_s          REAL,
    completed_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_probe ON attempts(suite, probe_id);
CREATE TABLE IF NOT EXISTS run_attempts (
    run_id      TEXT NOT NULL REFERENCES runs(run_id),
    attempt_id  TEXT NOT NULL,
    PRIMARY KEY (run_id, attempt_id)
);
CREATE TABLE IF NOT EXISTS verdicts (
    attempt_id        TEXT NOT NULL REFERENCES attempts(attempt_id),
    detector          TEXT NOT NULL,
    detector_version  TEXT NOT NULL,
    label             TEXT NOT NULL,
    flagged           INTEGER NOT NULL,
    score             REAL,
    evidence          TEXT NOT NULL,     -- JSON
    probe_hash        TEXT NOT NULL,     -- hash of the answer key / tags it was judged with
    PRIMARY KEY (attempt_id, detector)
);
CREATE TABLE IF NOT EXISTS repros (
    repro_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_id     TEXT NOT NULL REFERENCES attempts(attempt_id),
    detector       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    recorded_label TEXT NOT NULL,
    labels         TEXT NOT NULL,        -- JSON list: the label of each new answer
    responses      TEXT NOT NULL         -- JSON list: each new answer's text
);
CREATE VIEW IF NOT EXISTS attempt_verdicts AS
    SELECT a.attempt_id, r.run_id, t.name AS target, a.suite, a.probe_id, a.sample_index,
           v.detector, v.label, v.flagged, a.response_text
    FROM attempts a
    JOIN run_attempts r ON r.attempt_id = a.attempt_id
    JOIN targets t ON t.target_id = a.target_id
    LEFT JOIN verdicts v ON v.attempt_id = a.attempt_id;
"""


def _stored_json(text: str, what: str, kind: type) -> Any:
    """A JSON column read back: a damaged or hand-edited database gets one clear error
    naming what is broken, not a JSONDecodeError or AttributeError traceback."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise StoreError(f"the results database is damaged: {what} is not valid JSON") from None
    if not isinstance(value, kind):
        raise StoreError(f"the results database is damaged: {what} is not a JSON {kind.__name__}")
    return value


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_SURROGATE = re.compile("[\ud800-\udfff]")
_HEX = re.compile("^[0-9a-f]+$")


def clean_text(text: str | None) -> str | None:
    """``text`` as SQLite can store it.

    JSON allows lone surrogate escapes (``"\\ud800"``), so a model's answer, a provider's
    error message or a detector's quote can hold a code point that has no UTF-8 encoding;
    SQLite would refuse the whole write and, in the middle of a run, abort the run. Each one
    becomes U+FFFD, the replacement character, so the answer is kept and visibly damaged.
    """
    if text is None or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


def dumps(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


@dataclass
class AttemptRecord:
    """One completed attempt (a success or a clear error) as the engine hands it over."""

    attempt_id: str
    target_id: str
    suite: str
    probe_id: str
    sample_index: int
    seed: int
    request: dict[str, Any]
    probe: dict[str, Any]
    status: str
    response_text: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model_reported: str | None = None
    provider: str | None = None
    system_fingerprint: str | None = None
    response: dict[str, Any] | None = None
    error: str | None = None
    tries: int = 1
    latency_s: float | None = None


@dataclass
class StoredAttempt:
    attempt_id: str
    target_id: str
    target_name: str
    suite: str
    probe_id: str
    sample_index: int
    seed: int
    request: dict[str, Any]
    probe: dict[str, Any]
    status: str
    response_text: str | None
    finish_reason: str | None
    model_reported: str | None
    provider: str | None
    error: str | None
    tries: int
    latency_s: float | None
    completed_at: str
    completion_tokens: int | None = None
    system_fingerprint: str | None = None

    @property
    def note(self) -> str | None:
        """What a reader must know about an empty answer: the provider's filter, not the
        model, withheld it (a moderation block is stored as such an answer)."""
        if (
            self.status == "ok"
            and not self.response_text
            and self.finish_reason == "content_filter"
        ):
            return "no answer: the provider's content filter withheld it (finish_reason content_filter)"
        return None


@dataclass
class StoredVerdict:
    attempt_id: str
    detector: str
    detector_version: str
    label: str
    flagged: bool
    score: float | None
    evidence: dict[str, Any]
    probe_hash: str = ""


class Store:
    """A results database. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, connection: sqlite3.Connection, path: str, *, copied: bool = False):
        self._db = connection
        self.path = path
        # True when the file could not be written and is read through an in-memory copy
        self.copied = copied

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> Store:
        """Open (and with ``create``, create) a results database.

        Commands that only read (report, show, runs, compare, repro) pass ``create=False``:
        a mistyped ``--db`` is then an error, not a new empty database beside the real one.
        An existing file is first looked at read-only, so another program's SQLite file
        (an MLflow ``runs`` table, a browser's history) is refused untouched instead of
        being given our tables and switched to WAL. A results database on read-only media
        is read through an in-memory copy: verdicts worked out now are then not saved.
        """
        target = Path(path)
        if target.exists() and target.is_dir():
            raise StoreError(f"{target} is a folder, not a database file")
        if str(path) != ":memory:":
            if not create and not target.exists():
                raise StoreError(
                    f"no results database at {target}; give --db (or $ALLEGIANCE_DB), "
                    "or create one with `allegiance run`"
                )
            if target.exists():
                version = _existing_schema_version(target)
                if version is None and not create:
                    raise StoreError(f"{target} is empty, not an allegiance results database")
                if version is not None and version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{path} uses schema version {version}, newer than this allegiance "
                        f"({SCHEMA_VERSION}); upgrade allegiance"
                    )
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"cannot create folder {target.parent} for results database {path}: "
                    f"{error.strerror or error}"
                ) from error
        copied = False
        try:
            db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
            try:
                _use_wal(db)
                db.execute("PRAGMA synchronous=NORMAL")
                if not _schema_complete(db):
                    # tables and schema version in one transaction: a second process opening
                    # the same new file must never see our tables without our version (it
                    # would take the file for another program's database). A complete schema
                    # is left alone, so reading commands take no write lock.
                    db.executescript(
                        "BEGIN IMMEDIATE;\n" + _SCHEMA + "\nINSERT OR IGNORE INTO meta(key, "
                        f"value) VALUES ('schema_version', '{SCHEMA_VERSION}');\nCOMMIT;"
                    )
            except sqlite3.OperationalError as error:
                db.close()
                if create or not re.search(r"readonly|unable to open", str(error)):
                    raise
                db = _in_memory_copy(target)
                copied = True
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot open results database {path}: {error}") from error
        if row is None:
            db.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        return cls(db, str(path), copied=copied)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------
    def begin_run(self, run_id: str, command: str, settings: dict[str, Any]) -> bool:
        """Create the run, or reopen it for resume. Returns True when it already existed."""
        now = utc_now()
        existing = self._db.execute("SELECT run_id FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if existing:
            runner = dumps(settings.get("runner"))
            claim = (
                "UPDATE runs SET status='running', updated_at=?, "
                "settings=json_set(settings, '$.runner', json(?)) WHERE run_id=?"
            )
            taken = self._db.execute(claim + " AND status != 'running'", (now, runner, run_id))
            if taken.rowcount == 0:
                # "running": another process asking it now, or one that died (kill -9)
                _refuse_if_alive(self.get_run(run_id)["settings"].get("runner"), run_id)
                self._db.execute(claim, (now, runner, run_id))
            return True
        self._db.execute(
            "INSERT INTO runs(run_id, created_at, updated_at, status, command, settings)"
            " VALUES (?,?,?,?,?,?)",
            (run_id, now, now, "running", command, dumps(settings)),
        )
        return False

    def set_settings(self, run_id: str, settings: dict[str, Any]) -> None:
        """Replace a run's recorded settings (a resumed run records what it added)."""
        self._db.execute(
            "UPDATE runs SET settings=?, updated_at=? WHERE run_id=?",
            (dumps(settings), utc_now(), run_id),
        )

    def finish_run(self, run_id: str, status: str) -> None:
        self._db.execute(
            "UPDATE runs SET status=?, updated_at=? WHERE run_id=?", (status, utc_now(), run_id)
        )

    def set_isolation(self, run_id: str, isolation: dict[str, Any]) -> None:
        self._db.execute("UPDATE runs SET isolation=? WHERE run_id=?", (dumps(isolation), run_id))

    def answered_ids(self) -> set[str]:
        """Every attempt id with an answer (status ok) in the store."""
        return {r[0] for r in self._db.execute("SELECT attempt_id FROM attempts WHERE status='ok'")}

    def answers_made_after(self, run_id: str, before: set[str]) -> tuple[int, int]:
        """(this run's answers that were not in ``before``, all its answers): which answers a
        pass made, by id (timestamps, whole seconds, could not tell a pass's own answers
        from ones stored the same second before it began)."""
        ids = [
            r[0]
            for r in self._db.execute(
                "SELECT a.attempt_id FROM run_attempts ra JOIN attempts a USING(attempt_id)"
                " WHERE ra.run_id=? AND a.status='ok'",
                (run_id,),
            )
        ]
        return sum(1 for i in ids if i not in before), len(ids)

    def list_runs(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT r.*, (SELECT count(*) FROM run_attempts ra WHERE ra.run_id=r.run_id) AS n,"
            " (SELECT count(*) FROM run_attempts ra JOIN attempts a USING(attempt_id)"
            "  WHERE ra.run_id=r.run_id) AS stored,"
            " (SELECT count(*) FROM run_attempts ra JOIN attempts a USING(attempt_id)"
            "  WHERE ra.run_id=r.run_id AND a.status='error') AS errors"
            " FROM runs r ORDER BY created_at, run_id"
        ).fetchall()
        return [self._run_dict(row) for row in rows]

    def get_run(self, run_id: str) -> dict[str, Any]:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            if run_id == "latest":
                latest = self._db.execute(
                    "SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ).fetchone()
                if latest is not None:
                    return self._run_dict(latest)
            known = [r["run_id"] for r in self.list_runs()][-5:]
            hint = f"; recent runs: {', '.join(known)}" if known else "; the database has no runs"
            raise StoreError(f"no run {run_id!r} in {self.path}{hint}")
        return self._run_dict(row)

    @staticmethod
    def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
        data = dict(row)
        data["settings"] = _stored_json(data["settings"], "a run's settings", dict)
        data["isolation"] = (
            _stored_json(data["isolation"], "a run's isolation record", dict)
            if data.get("isolation")
            else None
        )
        return data

    # -- targets ------------------------------------------------------------------------
    def register_target(
        self, target_id: str, name: str, kind: str, identity: dict[str, Any]
    ) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO targets(target_id, name, kind, identity, first_seen)"
            " VALUES (?,?,?,?,?)",
            (target_id, name, kind, dumps(identity), utc_now()),
        )

    def targets(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM targets ORDER BY first_seen").fetchall()
        return [
            {**dict(r), "identity": _stored_json(r["identity"], "a target's identity", dict)}
            for r in rows
        ]

    def get_target(self, target_id: str) -> dict[str, Any]:
        row = self._db.execute("SELECT * FROM targets WHERE target_id=?", (target_id,)).fetchone()
        if row is None:
            raise StoreError(f"no target {target_id!r} in {self.path}")
        return {**dict(row), "identity": _stored_json(row["identity"], "a target's identity", dict)}

    # -- attempts -----------------------------------------------------------------------
    def link(self, run_id: str, attempt_ids: Iterable[str]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO run_attempts(run_id, attempt_id) VALUES (?,?)",
                ((run_id, a) for a in attempt_ids),
            )

    def refresh_probes(self, records: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Update stored probe records (tags, answer keys) of cached attempts to the suite's
        current version. The attempt id covers what was *sent*; what it is judged against
        may be corrected later, and verdicts then follow (see ``probe_hash``)."""
        with self._transaction():
            self._db.executemany(
                "UPDATE attempts SET probe=?1 WHERE attempt_id=?2 AND probe != ?1",
                ((dumps(probe), attempt_id) for attempt_id, probe in records),
            )

    def completed_ids(self, attempt_ids: Sequence[str]) -> set[str]:
        """Which of these attempts already have a successful answer (cache and resume)."""
        rows = self._select_in(
            "SELECT attempt_id FROM attempts WHERE status='ok' AND attempt_id IN ({marks})",
            attempt_ids,
        )
        return {r[0] for r in rows}

    def record_attempt(self, record: AttemptRecord) -> None:
        """Write one attempt as it completes. A success is never overwritten by an error."""
        values = (
            record.attempt_id,
            record.target_id,
            record.suite,
            record.probe_id,
            record.sample_index,
            record.seed,
            dumps(record.request),
            dumps(record.probe),
            record.status,
            clean_text(record.response_text),
            clean_text(record.finish_reason),
            record.prompt_tokens,
            record.completion_tokens,
            clean_text(record.model_reported),
            clean_text(record.provider),
            clean_text(record.system_fingerprint),
            dumps(record.response) if record.response is not None else None,
            clean_text(record.error),
            record.tries,
            record.latency_s,
            utc_now(),
        )
        self._db.execute(
            "INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(attempt_id) DO UPDATE SET"
            " status=excluded.status, response_text=excluded.response_text,"
            " finish_reason=excluded.finish_reason, prompt_tokens=excluded.prompt_tokens,"
            " completion_tokens=excluded.completion_tokens,"
            " model_reported=excluded.model_reported, provider=excluded.provider,"
            " system_fingerprint=excluded.system_fingerprint, response=excluded.response,"
            " error=excluded.error, tries=attempts.tries + excluded.tries,"
            " latency_s=excluded.latency_s, completed_at=excluded.completed_at"
            " WHERE attempts.status != 'ok'",
            values,
        )

    def run_attempts(self, run_id: str) -> list[StoredAttempt]:
        rows = self._db.execute(
            "SELECT a.*, t.name AS target_name FROM run_attempts ra"
            " JOIN attempts a ON a.attempt_id = ra.attempt_id"
            " JOIN targets t ON t.target_id = a.target_id"
            " WHERE ra.run_id=? ORDER BY t.name, a.suite, a.probe_id, a.sample_index",
            (run_id,),
        ).fetchall()
        return [self._attempt(row) for row in rows]

    def runs_of_attempt(self, attempt_id: str) -> list[dict[str, Any]]:
        """The runs that asked this attempt, oldest first."""
        rows = self._db.execute(
            "SELECT r.* FROM runs r JOIN run_attempts ra ON ra.run_id = r.run_id"
            " WHERE ra.attempt_id=? ORDER BY r.created_at, r.rowid",
            (attempt_id,),
        ).fetchall()
        return [self._run_dict(row) for row in rows]

    def run_attempt_count(self, run_id: str) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM run_attempts WHERE run_id=?", (run_id,)
        ).fetchone()
        return int(row[0])

    def planned_attempt_count(self, run_ids: Sequence[str]) -> int:
        """Distinct attempts linked to any of these runs (an attempt two runs share, once)."""
        marks = ",".join("?" for _ in run_ids)
        row = self._db.execute(
            f"SELECT count(DISTINCT attempt_id) FROM run_attempts WHERE run_id IN ({marks})",  # noqa: S608
            tuple(run_ids),
        ).fetchone()
        return int(row[0])

    def get_attempt(self, attempt_id: str) -> StoredAttempt:
        """One attempt by id or unique id prefix (at least 6 hex characters)."""
        prefix = attempt_id.strip().lower()
        if len(prefix) < 6:
            raise StoreError("give at least 6 characters of the attempt id")
        if not _HEX.match(prefix):
            # also keeps LIKE/GLOB wildcards out of the query: '%%%%%%' is no prefix
            raise StoreError(f"{attempt_id!r} is not an attempt id (ids are hexadecimal)")
        rows = self._db.execute(
            "SELECT a.*, t.name AS target_name FROM attempts a"
            " JOIN targets t ON t.target_id = a.target_id"
            " WHERE substr(a.attempt_id, 1, ?) = ? LIMIT 2",
            (len(prefix), prefix),
        ).fetchall()
        if not rows:
            raise StoreError(f"no attempt {attempt_id!r} in {self.path}")
        if len(rows) > 1:
            raise StoreError(f"attempt id prefix {attempt_id!r} is ambiguous; give more of it")
        return self._attempt(rows[0])

    @staticmethod
    def _attempt(row: sqlite3.Row) -> StoredAttempt:
        return StoredAttempt(
            attempt_id=row["attempt_id"],
            target_id=row["target_id"],
            target_name=row["target_name"],
            suite=row["suite"],
            probe_id=row["probe_id"],
            sample_index=row["sample_index"],
            seed=row["seed"],
            request=_stored_json(row["request"], "an attempt's request", dict),
            probe=_stored_json(row["probe"], "an attempt's probe", dict),
            status=row["status"],
            response_text=row["response_text"],
            finish_reason=row["finish_reason"],
            model_reported=row["model_reported"],
            provider=row["provider"],
            error=row["error"],
            tries=row["tries"],
            latency_s=row["latency_s"],
            completed_at=row["completed_at"],
            completion_tokens=row["completion_tokens"],
            system_fingerprint=row["system_fingerprint"],
        )

    # -- verdicts -----------------------------------------------------------------------
    def record_verdicts(self, rows: Iterable[StoredVerdict]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?,?)",
                (
                    (
                        v.attempt_id,
                        v.detector,
                        v.detector_version,
                        clean_text(v.label),
                        int(v.flagged),
                        v.score,
                        dumps(v.evidence),
                        v.probe_hash,
                    )
                    for v in rows
                ),
            )

    def verdicts(self, attempt_ids: Sequence[str]) -> dict[str, dict[str, StoredVerdict]]:
        """attempt id -> detector -> verdict."""
        out: dict[str, dict[str, StoredVerdict]] = {}
        for r in self._select_in(
            "SELECT * FROM verdicts WHERE attempt_id IN ({marks})", attempt_ids
        ):
            out.setdefault(r["attempt_id"], {})[r["detector"]] = StoredVerdict(
                attempt_id=r["attempt_id"],
                detector=r["detector"],
                detector_version=r["detector_version"],
                label=r["label"],
                flagged=bool(r["flagged"]),
                score=r["score"],
                evidence=_stored_json(r["evidence"], "a verdict's evidence", dict),
                probe_hash=r["probe_hash"],
            )
        return out

    # -- repro --------------------------------------------------------------------------
    def record_repro(
        self,
        attempt_id: str,
        detector: str,
        recorded_label: str,
        labels: list[str],
        responses: list[str],
    ) -> None:
        self._db.execute(
            "INSERT INTO repros(attempt_id, detector, created_at, recorded_label, labels,"
            " responses) VALUES (?,?,?,?,?,?)",
            (
                attempt_id,
                detector,
                utc_now(),
                clean_text(recorded_label),
                dumps(labels),
                dumps(responses),
            ),
        )

    # -- helpers ------------------------------------------------------------------------
    def _select_in(self, query: str, ids: Sequence[str]) -> list[sqlite3.Row]:
        """``query`` with ``IN ({marks})`` over ``ids``, 500 at a time (SQLite limits the
        number of parameters in one statement)."""
        rows: list[sqlite3.Row] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self._db.execute(query.format(marks=marks), chunk).fetchall()
        return rows

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        for delay in (0.05, 0.1, 0.2, 0.4, 0.8, 0):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError:
                if not delay:
                    raise
                time.sleep(delay)

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _connect_read_only(target: Path) -> sqlite3.Connection:
    """A connection that cannot change the file. ``immutable`` is the fallback for a
    WAL database on read-only media, where even a read-only open needs to write ``-shm``."""
    uri = target.resolve().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30.0)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError as error:
        if "locked" in str(error):
            raise
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=30.0)


_SCHEMA_OBJECTS = frozenset(
    re.findall(r"CREATE (?:UNIQUE )?(?:TABLE|INDEX) IF NOT EXISTS (\w+)", _SCHEMA)
)


def _schema_complete(db: sqlite3.Connection) -> bool:
    """Has this database every table and index of our schema, and its version? (Read only.)"""
    names = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    if not _SCHEMA_OBJECTS.issubset(names):
        return False
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return row is not None


def _use_wal(db: sqlite3.Connection, wait: float = 30.0) -> None:
    """Switch to WAL, waiting out other processes doing the same to a new file: SQLite
    answers this pragma "database is locked" at once, without its busy timeout, when another
    connection holds the lock it needs (1 in 1,200 of six processes opening one new file)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _existing_schema_version(target: Path) -> int | None:
    """The schema version of an existing file, None if it holds no tables yet; StoreError
    if it is not SQLite or is some other program's database. Nothing is written."""
    try:
        db = _connect_read_only(target)
        try:
            tables = {
                name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables:
                return None
            row = None
            if "meta" in tables:  # ours has a schema version in `meta`; missing tables are made
                row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as error:
        raise StoreError(f"cannot open results database {target}: {error}") from error
    if row is None or not re.fullmatch(r"[0-9]{1,6}", str(row[0])):
        raise StoreError(
            f"{target} is an SQLite database, but not an allegiance results database "
            "(left untouched); give another --db"
        )
    return int(row[0])


def _in_memory_copy(target: Path) -> sqlite3.Connection:
    """The whole database copied into memory, for a file that cannot be written."""
    source = _connect_read_only(target)
    copy = sqlite3.connect(":memory:", isolation_level=None)
    try:
        source.backup(copy)
    finally:
        source.close()
    copy.executescript(_SCHEMA)
    return copy


def this_host() -> str:
    """This machine, as a run records who is asking it: a digest of the host name (reports
    show run settings, and a host name is not theirs to publish)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12]


def this_pid() -> int:
    """This process's pid as the host sees it: inside --isolate's PID namespace getpid() is
    a small namespace number (5) that names some other process on the host, while /proc is
    still the host's and /proc/self says the host pid."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def runner_gone(runner: Any) -> bool:
    """Whether the process that was asking a run (its ``settings["runner"]``) is known to
    have ended: on this machine, with no such pid. Another host's runner is not known."""
    if not isinstance(runner, dict) or runner.get("host") != this_host():
        return False
    pid = runner.get("pid")
    # /proc, not kill(pid, 0): inside --isolate's PID namespace kill() cannot see host pids,
    # while /proc there is still the host's
    return isinstance(pid, int) and pid != this_pid() and not Path(f"/proc/{pid}").exists()


def _refuse_if_alive(runner: Any, run_id: str) -> None:
    """Two processes asking one run at once would each send every missing request (the
    store keeps one row per attempt, the API bill doubles). A run marked running by a live
    process on this machine is refused; a dead runner's run is taken over."""
    if not isinstance(runner, dict) or runner.get("host") != this_host():
        return
    pid = runner.get("pid")
    if not isinstance(pid, int) or pid == this_pid() or runner_gone(runner):
        return
    raise StoreError(
        f"run {run_id!r} is being asked by another process (pid {pid}) right now; wait for "
        "it, or stop it and resume"
    )
