"""contextbot: context cards for known disinformation talking points on Discord and Matrix."""

__version__ = "0.1.0"
