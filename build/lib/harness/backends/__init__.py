"""Backends: batched greedy generation and log-likelihoods behind one small interface."""

from __future__ import annotations

from .base import Backend, Generation

__all__ = ["Backend", "Generation"]
