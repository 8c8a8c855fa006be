"""Anju (安居): smart community safety platform."""

__version__ = "0.1.0"
