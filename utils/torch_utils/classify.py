"""Placeholder: filled by the topic that owns it."""

__all__: list = []
