"""Storage for contextbot: SQLite (aiosqlite) or PostgreSQL (asyncpg, bot/storage/pg.py) behind the same
repositories; migrations, incident, settings and dashboard repositories."""

from .dashboard import SqliteDashboardRepository as SqliteDashboardRepository
from .db import Database, open_database
from .incidents import MAX_CONTENT_CHARS, SqliteIncidentRepository
from .migrator import (
    MigrationError,
    MigrationFileError,
    MigrationResult,
    SchemaTooNewError,
    migrate,
)
from .settings import CachingSettingsRepository, SqliteSettingsRepository

__all__ = [
    "CachingSettingsRepository",
    "Database",
    "MAX_CONTENT_CHARS",
    "MigrationError",
    "MigrationFileError",
    "MigrationResult",
    "SchemaTooNewError",
    "SqliteIncidentRepository",
    "SqliteSettingsRepository",
    "migrate",
    "open_database",
]
