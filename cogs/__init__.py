"""discord.py extensions for contextbot, one feature per module (loaded by bot.discord_adapter.client)."""
