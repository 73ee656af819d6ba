"""Statistics and findings: pure functions of the store."""
