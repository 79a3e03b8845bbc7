"""The cosmetic points of issue #14 (point 20), each as a moderator would notice it on the page."""

from __future__ import annotations

import re

from dashboard_helpers import login


async def test_point_page_shows_approximate_source_dates_without_not_shown(client):
    await login(client, "alice")
    html = await (await client.get("/points/zelensky-illegitimate")).text()
    assert "(May 2024)" in html  # the pack says "not shown (May 2024)"
    assert "not shown" not in html  # was "(not shown (May 2024))"


async def test_queue_date_filters_are_iso_text_in_utc(client):
    await login(client, "alice")
    html = await (await client.get("/incidents?since=2026-01-02")).text()
    assert 'type="date"' not in html  # a date picker shows the browser's locale (12/04/2026)
    since = re.search(r'<label>From \(UTC\) <input name="since"[^>]*>', html).group(0)
    assert 'value="2026-01-02"' in since and 'placeholder="YYYY-MM-DD"' in since
    assert 'pattern="\\d{4}-\\d{2}-\\d{2}"' in since


async def test_an_empty_queue_has_no_table_and_no_select_all(client):
    await login(client, "alice")
    html = await (await client.get("/incidents?until=2000-01-01")).text()
    assert "No incidents match." in html
    assert 'id="select-all"' not in html and "<table" not in html and 'action="/incidents/bulk"' not in html
    html = await (await client.get("/incidents")).text()  # the control: a queue with rows has both
    assert 'id="select-all"' in html and 'action="/incidents/bulk"' in html


# The per-day chart's legend ("other talking points (4) (29)") is tested in test_dashboard_units.py.
