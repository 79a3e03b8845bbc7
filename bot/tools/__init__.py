"""Maintenance tools for pack authors and operators (may use httpx; ``bot.core`` must not)."""
