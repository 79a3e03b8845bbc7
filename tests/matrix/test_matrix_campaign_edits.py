"""Campaign notices on Matrix are replaced at most once per interval while a raid grows, always ending on the
latest state (bot.matrix_adapter.campaigns.MatrixCampaigns), with a small recording fake of the bot it needs."""

import asyncio
from types import SimpleNamespace

from bot.matrix_adapter.campaigns import MatrixCampaigns


class FakeRepository:
    def __init__(self) -> None:
        self.rec = SimpleNamespace(id=7, status="open", alert_message_id="", alert_channel_id="")
        self.size = 0  # how far the campaign has grown (shown in the notice)

    async def get_campaign(self, campaign_id):
        return self.rec if campaign_id == self.rec.id else None

    async def set_alert_post(self, campaign_id, room, event_id):
        self.rec.alert_channel_id, self.rec.alert_message_id = room, event_id


class RecordingBot:
    management_room = "!mgmt:test"

    def __init__(self) -> None:
        self.repo = FakeRepository()
        self.service = SimpleNamespace(campaigns=SimpleNamespace(repository=self.repo))
        self.sent: list[tuple[str, dict]] = []

    async def send(self, room, content):
        self.sent.append((room, content))
        return f"$event{len(self.sent)}"


class Notices(MatrixCampaigns):
    async def content(self, campaign_id):  # the notice's text is tested elsewhere: here only its growth
        return {"msgtype": "m.notice", "body": f"{self.bot.repo.size} messages"}



async def grow(ui: Notices, bot: RecordingBot, times: int) -> None:
    for _ in range(times):
        bot.repo.size += 1
        await ui.on_event(EVENT)


def edits(bot: RecordingBot) -> list[str]:
    return [c["m.new_content"]["body"] for _, c in bot.sent if "m.new_content" in c]


EVENT = SimpleNamespace(campaign_id=7)


async def test_a_growing_campaign_is_posted_once_then_replaced_at_most_once_per_interval():
    bot = RecordingBot()
    ui = Notices(bot, edit_interval=0.2)
    await grow(ui, bot, 1)
    assert [c["body"] for _, c in bot.sent] == ["1 messages"] and bot.repo.rec.alert_message_id == "$event1"
    await grow(ui, bot, 1)  # the first growth is shown at once
    await asyncio.sleep(0.05)
    assert edits(bot) == ["2 messages"]
    await grow(ui, bot, 10)  # a burst within the interval: one more edit, showing the end of the burst
    await asyncio.sleep(0.05)
    assert edits(bot) == ["2 messages"]
    await asyncio.sleep(0.3)
    assert edits(bot) == ["2 messages", "12 messages"]
    assert all(c["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$event1"} for _, c in bot.sent[1:])


async def test_stopping_makes_the_edit_still_waiting_and_a_resolved_campaign_is_not_edited():
    bot = RecordingBot()
    ui = Notices(bot, edit_interval=60.0)
    await grow(ui, bot, 2)
    await asyncio.sleep(0.05)
    await grow(ui, bot, 3)  # waits for the interval
    await ui.flush()  # MatrixBot.stop: nothing is left behind
    assert edits(bot) == ["2 messages", "5 messages"] and not ui._pending

    await grow(ui, bot, 1)  # due in a minute
    bot.repo.rec.status = "confirmed"  # the moderators ruled meanwhile
    await ui.flush()
    assert edits(bot) == ["2 messages", "5 messages"]
