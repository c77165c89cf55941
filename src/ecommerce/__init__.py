"""An online shop made of ten small services."""

__version__ = "1.0.0"
