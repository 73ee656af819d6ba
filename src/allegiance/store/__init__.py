"""Persistence. The store is the single source of truth: reports, comparisons and repro
bundles are pure functions of it."""

from allegiance.store.sqlite import AttemptRecord, Store, StoredAttempt

__all__ = ["AttemptRecord", "Store", "StoredAttempt"]
