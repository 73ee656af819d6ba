"""Talking to models: OpenAI-compatible HTTP APIs and in-process GGUF models."""
