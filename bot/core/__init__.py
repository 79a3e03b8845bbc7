"""Platform-neutral core of contextbot (no discord, nio or aiosqlite imports here)."""
