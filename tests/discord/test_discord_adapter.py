"""Adapter behaviour with a scripted detector (deterministic decisions) but the real discord.py client, the
real IncidentService and real SQLite storage: permissions, modes, threads, commands, restarts."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import discord
import pytest

from bot.config import DiscordConfig
from bot.discord_adapter import ShardedContextBot, create_bot
from bot.storage.alerts import SqliteAlertRepository
from discord_fakes import ASSERT, QUESTION, REVIEW, TP
from discord_helpers import rows, say, start_bot, stop_bot
from fake_discord import CommandNotAvailable, group, opt, sub


@pytest.fixture
def detector(scripted_detector):
    return scripted_detector


async def command(world, name, options, user, *, channel=None, **kw):
    interaction = await world.fake.slash_command(name, options, user=user, channel=channel or world.general, **kw)
    return await world.fake.wait_for_answer(interaction)


# ------------------------------------------------------------------------------------------ watching


async def test_bots_webhooks_and_itself_are_ignored(bot, world, scripted_detector):
    robot = world.fake.make_user("robot", bot=True)
    for author, extra in ((robot, {}), (world.alice, {"webhook_id": "123"}), (world.fake.bot_user, {})):
        _, outcome = await say(bot, world, world.general, ASSERT, author, **extra)
        assert outcome is None
    assert scripted_detector.calls == []
    assert world.fake.posted() == []


async def test_missing_permission_degrades_to_a_note_for_moderators(bot, world, db):
    _, outcome = await say(bot, world, world.locked, ASSERT, world.alice)
    assert outcome is not None and outcome.card is not None  # the service wanted a card; Discord said 403
    assert [c.status for c in world.fake.calls if c.path.endswith(f"{world.locked['id']}/messages")] == [403]
    [note] = world.fake.posted(world.modlog)
    assert "could not post a context card" in note["embeds"][0]["description"]
    assert await rows(db, "SELECT id FROM card_posts") == []  # nothing pretends a card was posted
    assert len(await rows(db, "SELECT id FROM incidents")) == 1

    await say(bot, world, world.locked, ASSERT + " again", world.bob)  # no second note within the hour
    assert len(world.fake.posted(world.modlog)) == 1


async def test_missing_embed_links_is_noticed_before_posting(bot, world, db):
    _, outcome = await say(bot, world, world.noembeds, ASSERT, world.alice)
    assert outcome is not None and outcome.card is not None
    assert [c for c in world.fake.calls if world.noembeds["id"] in c.path] == []  # did not even try
    [note] = world.fake.posted(world.modlog)
    assert "Embed Links" in note["embeds"][0]["description"]
    assert await rows(db, "SELECT id FROM card_posts") == []


async def test_thread_follows_parent_mode_and_gets_one_card(bot, world, db):
    thread = world.fake.add_thread(world.general, "discussion")
    await world.fake.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
    msg, outcome = await say(bot, world, thread, ASSERT, world.alice)
    assert outcome is not None and outcome.mode.value == "reply" and outcome.card is not None
    [card] = world.fake.posted(thread)
    assert card["message_reference"]["message_id"] == int(msg["id"])
    assert await rows(db, "SELECT channel_id, thread_id FROM card_posts") == [(world.general["id"], thread["id"])]


async def test_question_gets_an_answer_card_but_no_incident(bot, world, db):
    _, outcome = await say(bot, world, world.general, QUESTION)
    assert outcome is not None and outcome.card is not None and outcome.is_answer
    assert len(world.fake.posted(world.general)) == 1
    assert await rows(db, "SELECT id FROM incidents") == []


async def test_reply_channel_sends_uncertain_assertions_to_review(bot, world):
    _, outcome = await say(bot, world, world.general, REVIEW)
    assert outcome is not None and outcome.card is None and outcome.alert
    assert world.fake.posted(world.general) == []
    assert len(world.fake.bot_messages(world.modlog)) == 1


async def test_alert_cannot_ping_and_links_back(bot, world):
    text = "@everyone <@&1> <@1> " + ASSERT + " @here"
    msg, outcome = await say(bot, world, world.review, text, world.bob)
    assert outcome is not None and outcome.alert
    [payload] = world.fake.posted(world.modlog)
    assert payload["allowed_mentions"] == {"parse": []}
    dumped = json.dumps(payload, ensure_ascii=False)
    for raw in ("@everyone", "@here", "<@&1>", "<@1>"):
        assert raw not in dumped
    [embed] = payload["embeds"]
    assert embed["title"].startswith(f"Review: incident #{outcome.incident.id}")
    link = [c for row in payload["components"] for c in row["components"] if c.get("style") == 5]
    assert link[0]["url"].endswith(f"/{world.review['id']}/{msg['id']}")


async def test_review_without_modlog_only_logs(bot, world, db, service):
    from dataclasses import replace

    settings = await service.settings.get_server_settings("discord", world.guild_id)
    await service.settings.save_server_settings(replace(settings, modlog_channel_id=None))
    _, outcome = await say(bot, world, world.review, ASSERT)
    assert outcome is not None and outcome.alert
    assert world.fake.posted() == []
    assert len(await rows(db, "SELECT id FROM incidents")) == 1


async def test_bulk_delete_purges_every_message(bot, world, db):
    first, _ = await say(bot, world, world.review, ASSERT, world.alice)
    second, _ = await say(bot, world, world.review, ASSERT, world.bob)
    ids = {first["id"], second["id"]}
    done = [bot.wait_for("message_delete_handled", check=lambda mid, i=i: str(mid) == i, timeout=10) for i in ids]
    await world.fake.dispatch("MESSAGE_DELETE_BULK", {"ids": sorted(ids), "channel_id": world.review["id"],
                                                      "guild_id": world.guild_id})
    for waiter in done:
        await waiter
    assert await rows(db, "SELECT content FROM incidents") == [(None,), (None,)]


# ------------------------------------------------------------------------------------------ admin


async def test_admin_commands_are_refused_without_manage_server(bot, world, db):
    with pytest.raises(CommandNotAvailable):  # default_member_permissions: Discord does not show it to them
        await command(world, "contextbot", [sub("channel", opt("mode", "off"))], world.mod)
    # an admin made it visible to Staff in Server Settings > Integrations: the bot still checks Manage Server
    world.fake.command_overrides["contextbot"] = {world.fake.role_id(world.guild, "Staff")}
    answer = await command(world, "contextbot", [sub("channel", opt("mode", "off"))], world.mod)
    assert answer.ephemeral() and "Manage Server" in answer.answer()["content"]
    assert await rows(db, "SELECT mode FROM channel_settings WHERE channel_id = ?", world.general["id"]) == [("reply",)]


async def test_admin_commands_change_settings(bot, world, db, service, scripted_detector):
    gid = world.guild_id
    answer = await command(world, "contextbot", [sub("channel", opt("mode", "log"))], world.admin,
                           channel=world.review)
    assert answer.ephemeral() and "log" in answer.answer()["content"]
    assert await service.settings.get_channel_mode("discord", gid, world.review["id"]) == "log"

    await command(world, "contextbot", [sub("cooldown", opt("minutes", 5))], world.admin)
    assert (await service.settings.get_server_settings("discord", gid)).cooldown.total_seconds() == 300

    answer = await command(world, "contextbot", [sub("modlog", opt("channel", world.review["id"], 7))], world.admin, resolved=world.fake.resolved(channels=(world.review,)))
    assert answer.ephemeral(), answer.answer()
    assert (await service.settings.get_server_settings("discord", gid)).modlog_channel_id == world.review["id"]

    await command(world, "contextbot", [group("packs", sub("disable", opt("pack", "ukraine-war")))], world.admin)
    assert (await service.settings.get_server_settings("discord", gid)).disabled_packs == ("ukraine-war",)
    _, outcome = await say(bot, world, world.general, ASSERT)
    assert scripted_detector.calls[-1][3] == ("ukraine-war",) and outcome.card is None
    answer = await command(world, "contextbot", [group("packs", sub("enable", opt("pack", "nope")))], world.admin)
    assert "Unknown pack" in answer.answer()["content"]

    status = await command(world, "contextbot", [sub("status")], world.admin)
    assert status.ephemeral()
    text = json.dumps(status.answer()["embeds"])
    assert "ukraine-war" in text and "disabled here" in text and "5 min" in text


async def test_pack_autocomplete(bot, world):
    interaction = await world.fake.slash_command(
        "contextbot", [group("packs", sub("enable", opt("pack", "ukr", focused=True)))], user=world.admin,
        channel=world.general, focused=True)
    await world.fake.wait_until(lambda: interaction.callback is not None)
    assert interaction.callback_type == 8
    assert interaction.response_data["choices"] == [{"name": "ukraine-war", "value": "ukraine-war"}]


# ------------------------------------------------------------------------------------------ moderators


async def test_moderator_and_admin_commands_are_hidden_from_members(bot, world):
    manage_messages, manage_guild = discord.Permissions(manage_messages=True), discord.Permissions(manage_guild=True)
    assert world.fake.command("incidents")["default_member_permissions"] == str(manage_messages.value)
    assert world.fake.command("contextbot")["default_member_permissions"] == str(manage_guild.value)
    for name in ("incidents", "contextbot"):
        with pytest.raises(CommandNotAvailable):
            await command(world, name, [sub("status" if name == "contextbot" else "list")], world.bob)
    answer = await command(world, "check", [opt("text", "hello")], world.bob)  # member commands stay visible
    assert answer.ephemeral()


async def test_manage_messages_in_one_channel_does_not_open_the_servers_incidents(bot, world):
    """Helpers manage messages in #review only (an overwrite): Discord shows them /incidents there, but the
    incidents of the whole server (private channels too) need Manage Messages server-wide."""
    _, outcome = await say(bot, world, world.review, ASSERT)
    helper = world.fake.make_user("helper")
    world.fake.add_member(world.guild, helper, "Helpers")
    for sub_command in (sub("list"), sub("show", opt("id", outcome.incident.id)), sub("export")):
        answer = await command(world, "incidents", [sub_command], helper, channel=world.review)
        assert answer.ephemeral() and "Manage Messages" in answer.answer()["content"], sub_command
        assert not answer.answer().get("embeds") and not answer.files
    with pytest.raises(CommandNotAvailable):  # elsewhere Discord does not even show the command
        await command(world, "incidents", [sub("list")], helper, channel=world.general)
    mod = await command(world, "incidents", [sub("list")], world.mod, channel=world.general)
    assert str(outcome.incident.id) in json.dumps(mod.answer()["embeds"])


async def test_moderator_role_from_settings_grants_access(bot, world, service):
    mod_role = world.fake.role_id(world.guild, "Moderators")
    _, outcome = await say(bot, world, world.review, ASSERT)
    show = [sub("show", opt("id", outcome.incident.id))]
    world.fake.command_overrides["incidents"] = {mod_role}  # an admin allowed the role in Integrations
    refused = await command(world, "incidents", show, world.bob, roles=[mod_role])
    assert "Manage Messages" in refused.answer()["content"]  # but it is not contextbot's moderator role yet

    set_role = await command(world, "contextbot", [sub("modrole", opt("role", mod_role, 8))], world.admin,
                             resolved=world.fake.resolved(roles=(next(r for r in world.guild["roles"] if r["id"] == mod_role),)))
    assert "Integrations" in set_role.answer()["content"]  # the admin learns the role must see /incidents too
    answer = await command(world, "incidents", show, world.bob, roles=[mod_role])
    assert answer.ephemeral()
    [embed] = answer.answer()["embeds"]
    assert embed["title"].startswith(f"Incident #{outcome.incident.id}")


async def test_moderator_role_from_config_by_name(fake_discord, setup_world, service, db):
    world = setup_world
    bot, task = await start_bot(fake_discord, service, db, DiscordConfig(token=fake_discord.token, moderator_role="moderators"))
    world.fake.command_overrides["incidents"] = {world.fake.role_id(world.guild, "Moderators")}
    try:
        _, outcome = await say(bot, world, world.review, ASSERT)
        answer = await command(world, "incidents", [sub("show", opt("id", outcome.incident.id))], world.bob,
                               roles=[world.fake.role_id(world.guild, "Moderators")])
        assert answer.answer()["embeds"], answer.answer()
    finally:
        await stop_bot(bot, task)


async def test_incidents_list_show_and_export(bot, world, db):
    _, first = await say(bot, world, world.review, ASSERT, world.alice)
    _, second = await say(bot, world, world.review, "=HYPERLINK(\"http://x\") " + ASSERT + " <@&1> @everyone", world.bob)

    listing = await command(world, "incidents", [sub("list")], world.mod)
    [embed] = listing.answer()["embeds"]
    assert embed["title"] == "Incidents (2)" and f"#{first.incident.id}" in embed["description"]
    assert "@everyone" not in embed["description"] and "<@&1>" not in embed["description"]

    await command(world, "incidents", [sub("resolve", opt("id", first.incident.id), opt("verdict", "dismissed"),
                                           opt("note", "ok"))], world.mod)
    listing = await command(world, "incidents", [sub("list", opt("status", "open"))], world.mod)
    assert listing.answer()["embeds"][0]["title"] == "Incidents (1)"

    export = await command(world, "incidents", [sub("export", opt("format", "json"))], world.mod)
    assert export.ephemeral()
    [(name, data)] = export.files
    records = json.loads(data)
    assert name.endswith(".json") and [r["id"] for r in records] == [first.incident.id, second.incident.id]
    assert records[0]["status"] == "dismissed" and records[0]["note"] == "ok"

    export = await command(world, "incidents", [sub("export")], world.mod)
    [(name, data)] = export.files
    assert name.endswith(".csv")
    table = list(csv.DictReader(io.StringIO(data.decode())))
    assert [int(r["id"]) for r in table] == [first.incident.id, second.incident.id]
    assert table[1]["content"].startswith("'=HYPERLINK")  # no formula injection into spreadsheets

    missing = await command(world, "incidents", [sub("show", opt("id", 9999))], world.mod)
    assert "no incident #9999" in missing.answer()["content"]


async def test_incidents_list_pages(bot, world, service):
    for i in range(12):
        author = world.fake.make_user(f"user{i}")
        await say(bot, world, world.review, ASSERT, author)
    listing = await command(world, "incidents", [sub("list")], world.mod)
    answer = listing.answer()
    assert answer["embeds"][0]["footer"]["text"].startswith("Page 1/2")
    labels = [c["label"] for row in answer["components"] for c in row["components"]]
    assert labels == ["Previous", "Next"]


# ------------------------------------------------------------------------------------------ members


async def test_context_command_posts_the_card_and_autocompletes(bot, world):
    answer = await command(world, "context", [opt("topic", TP)], world.alice)
    assert answer.callback_type == 4 and not answer.ephemeral()
    assert answer.answer()["embeds"][0]["title"] == "ℹ️ Did NATO expansion force Russia to invade Ukraine?"
    assert answer.answer()["allowed_mentions"]["parse"] == []

    private = await command(world, "context", [opt("topic", "zelensky"), opt("private", True)], world.alice)
    assert private.ephemeral() and "Zelensky" in private.answer()["embeds"][0]["title"]

    unknown = await command(world, "context", [opt("topic", "qwertyuiop")], world.alice)
    assert unknown.ephemeral() and "No known talking point" in unknown.answer()["content"]

    auto = await world.fake.slash_command("context", [opt("topic", "nato", focused=True)], user=world.alice,
                                          channel=world.general, focused=True)
    await world.fake.wait_until(lambda: auto.callback is not None)
    values = [c["value"] for c in auto.response_data["choices"]]
    assert TP in values and len(values) <= 25

    auto = await world.fake.slash_command("context", [opt("topic", "біологічної зброї", focused=True)], user=world.alice,
                                          channel=world.general, focused=True, locale="uk")
    await world.fake.wait_until(lambda: auto.callback is not None)
    [choice] = auto.response_data["choices"]  # found by its Ukrainian title, and shown in Ukrainian
    assert choice == {"name": "Чи тримали США в Україні лабораторії біологічної зброї?", "value": "us-biolabs"}


async def test_message_context_menu_checks_privately(bot, world, db):
    msg, _ = await say(bot, world, world.review, ASSERT)
    interaction = await world.fake.message_command("Check for known talking points", msg, user=world.bob,
                                                   channel=world.review)
    answer = await world.fake.wait_for_answer(interaction)
    assert answer.ephemeral() and TP in json.dumps(answer.answer()["embeds"])
    assert len(await rows(db, "SELECT id FROM incidents")) == 1  # the check itself logged nothing


# ------------------------------------------------------------------------------------------ lifecycle


async def test_buttons_survive_a_restart_and_commands_are_not_resynced(fake_discord, setup_world, service, db):
    world = setup_world
    bot, task = await start_bot(fake_discord, service, db)
    try:
        await say(bot, world, world.general, ASSERT)
        _, review = await say(bot, world, world.review, ASSERT, world.bob)
    finally:
        await stop_bot(bot, task)
    [card] = world.fake.bot_messages(world.general)
    [alert] = world.fake.bot_messages(world.modlog)

    bot, task = await start_bot(fake_discord, service, db)  # a new process would look exactly like this
    try:
        puts = [c for c in fake_discord.calls if c.method == "PUT"]
        assert len(puts) == 1  # unchanged commands are not uploaded again
        vote = await fake_discord.wait_for_answer(await fake_discord.click_button(card, "cb:fb:n", user=world.bob))
        assert vote.ephemeral()
        assert await rows(db, "SELECT user_id, helpful FROM card_feedback") == [(world.bob["id"], 0)]
        custom_id = alert["components"][0]["components"][0]["custom_id"]
        verdict = await fake_discord.wait_for_answer(
            await fake_discord.click_button(alert, custom_id, user=world.mod))
        assert verdict.callback_type == 6 and verdict.answer()["components"] == []  # acknowledged, then edited
        assert await rows(db, "SELECT status FROM incidents WHERE id = ?", review.incident.id) == [("confirmed",)]
    finally:
        await stop_bot(bot, task)
    assert fake_discord.identifies == 2


async def test_sharded_bot_connects_and_replies(fake_discord, setup_world, service, db):
    world = setup_world
    config = DiscordConfig(token=fake_discord.token, sharded=True)
    bot = create_bot(service, config, alerts=SqliteAlertRepository(db), guild_ready_timeout=0.05)
    assert isinstance(bot, ShardedContextBot)
    await bot.login(fake_discord.token)
    task = asyncio.create_task(bot.connect())
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 15)
        _, outcome = await say(bot, world, world.general, ASSERT)
        assert outcome is not None and outcome.card is not None
        assert len(world.fake.posted(world.general)) == 1
    finally:
        await stop_bot(bot, task)


class BlockingLearner:
    """A recording fake of the service's VerdictHook whose ``learn`` waits until the test releases it (a learner
    re-embedding exemplars under load)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.learned: list[tuple[int, str]] = []

    async def learn(self, incident, status, actor):
        self.started.set()
        await self.release.wait()
        self.learned.append((incident.id, str(status)))


@pytest.mark.parametrize("via", ["button", "command"])
async def test_verdicts_are_acknowledged_before_the_learner_runs(bot, world, service, db, via):
    learner = service.learner = BlockingLearner()
    _, outcome = await say(bot, world, world.review, ASSERT)
    if via == "button":
        [alert] = world.fake.bot_messages(world.modlog)
        click = await world.fake.click_button(alert, alert["components"][0]["components"][0]["custom_id"], user=world.mod)
    else:
        click = await world.fake.slash_command("incidents", [sub("resolve", opt("id", outcome.incident.id),
                                               opt("verdict", "confirmed"))], user=world.mod, channel=world.modlog)
    await asyncio.wait_for(learner.started.wait(), 10)
    # the learner is still busy, yet Discord already has its first answer (within the 3-second window)
    await world.fake.wait_until(lambda: click.callback is not None or click.late)
    assert click.deferred and not click.late and learner.learned == []
    learner.release.set()
    answer = await world.fake.wait_for_answer(click)
    assert learner.learned == [(outcome.incident.id, "confirmed")]
    assert await rows(db, "SELECT status FROM incidents") == [("confirmed",)]
    if via == "button":
        assert alert["components"] == [] and "Confirmed" in json.dumps(alert["embeds"])
    else:
        assert answer.ephemeral() and answer.answer()["content"].startswith(f"Incident #{outcome.incident.id}: ")
