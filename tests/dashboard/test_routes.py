"""The dashboard pages: what staff see, the links behind each number, bad filters, the JSON."""

from __future__ import annotations

import re

from app.extensions import db


def _numbers(page: str) -> dict[str, tuple[str, int]]:
    """data-count name → (link, number) of the count tiles."""
    found = re.findall(r'<a class="count[^"]*" href="([^"]+)" data-count="(\w+)"><span class="n">(\d+)</span>', page)
    return {name: (href.replace("&amp;", "&"), int(n)) for href, name, n in found}


def _list_length(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return int(re.search(r'data-count="list">(\d+)<', response.text).group(1))


def test_staff_see_the_accepted_total_and_every_count_links_to_its_items(app, world, login):
    client = login(app.test_client(), "staff")
    slug, october = world["plan"].slug, world["october"].id
    page = client.get(f"/plans/{slug}/dashboard?period={october}")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'data-total="t2-jobs">8\.5<', html)
    assert "<svg class=\"bullet\"" in html and "<svg class=\"trend\"" in html
    assert "style=" not in html and "<script" not in html  # CSP: nothing inline
    numbers = _numbers(html)
    assert set(numbers) == {"items", "overdue", "escalated", "flagged", "on_time", "accepted"}
    for name, (href, n) in numbers.items():
        assert f"period={october}" in href
        assert _list_length(client, href) == n, name
    # the indicator total links to the items whose figures make it
    href = re.search(r'<a class="total" href="([^"]+)" data-total="t2-jobs">', html).group(1).replace("&amp;", "&")
    listing = client.get(href)
    assert _list_length(client, href) == 1 and "自治区工业和信息化厅" in listing.text
    # the light legend links
    legend = re.findall(r'data-light="(\w+)" href="[^"]+">[^<]* (\d+)</a>', html)
    assert len(legend) == 4
    for colour, n in legend:
        url = f"/plans/{slug}/dashboard/items?what=light&light={colour}&period={october}"
        assert _list_length(client, url) == int(n), colour


def test_bad_filters_are_ignored_with_a_visible_note(app, world, login):
    client = login(app.test_client(), "staff")
    response = client.get(f"/plans/{world['plan'].slug}/dashboard?unit=abc&light=purple&period=999999")
    assert response.status_code == 200
    assert response.text.count("无效，已忽略") == 3
    odd = client.get(f"/plans/{world['plan'].slug}/dashboard?task=%C2%B2&section={'9' * 5000}&kind=-1")
    assert odd.status_code == 200 and odd.text.count("无效，已忽略") == 3


def test_unknown_item_list_is_a_400_in_chinese(app, world, login):
    client = login(app.test_client(), "auditor")
    slug = world["plan"].slug
    for query in ("what=nope", "what=indicator", "what=indicator&indicator=999999", "what=light",
                  "what=indicator&indicator=%C2%B2", f"what=indicator&indicator={'9' * 5000}"):
        response = client.get(f"/plans/{slug}/dashboard/items?{query}")
        assert response.status_code == 400, query
        assert re.search(r'class="flash danger" role="alert">[^<]*[\u4e00-\u9fff]', response.text), query


def test_json_is_the_same_result(app, world, login):
    client = login(app.test_client(), "staff")
    october = world["october"].id
    data = client.get(f"/plans/{world['plan'].slug}/dashboard.json?period={october}").get_json()
    jobs = next(i for i in data["indicators"] if i["key"] == "t2-jobs")
    assert jobs["total"] == 8.5 and jobs["basis"] == "whole" and jobs["target"] == 15
    assert data["period"]["id"] == october
    assert data["counts"]["items"] == len(data["matrix"])
    trend = {p["id"]: p for p in data["trend"]["periods"]}
    assert trend[october]["accepted"] == data["counts"]["accepted"] == 2
    assert data["trend"]["indicator_totals"][str(world["jobs"].id)][str(october)] == 8.5


def test_index_redirects_to_the_only_plan_and_lists_several(app, world, login):
    client = login(app.test_client(), "staff")
    response = client.get("/dashboard")
    assert response.status_code == 302 and response.location.endswith(f"/plans/{world['plan'].slug}/dashboard")
    from app.plans.services import import_plan_file
    from tests.conftest import NMG_PLAN

    import_plan_file(NMG_PLAN)
    db.session.commit()
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "/plans/nmg-2025-employment/dashboard" in page.text and f"/plans/{world['plan'].slug}/dashboard" in page.text


def test_the_default_period_is_the_current_month(app, world, login):
    client = login(app.test_client(), "staff")
    data = client.get(f"/plans/{world['plan'].slug}/dashboard.json").get_json()
    assert data["period"]["label"].endswith("11月")  # the frozen today is 2025-11-20
