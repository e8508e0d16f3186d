"""Charts read as people count: a count axis steps by whole units, and a money axis with
only small figures keeps its decimals (a first day's charts read "1 1 1 0 0" and "1.8
gestiones")."""

import json

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.django_db(transaction=True)


def y_ticks(page: Page, live_server, spec: dict) -> list[str]:
    page.goto(f"{live_server.url}/healthz")  # any page of ours: the scripts' origin
    page.set_content(
        f"""<html><body style="width:600px">
        <div style="height:300px"><canvas data-chart="spec"></canvas></div>
        <script type="application/json" id="spec">{json.dumps(spec)}</script>
        <script src="{live_server.url}/static/vendor/chart.js/chart.umd.min.js"></script>
        <script src="{live_server.url}/static/js/charts.js"></script>
        </body></html>"""
    )
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas'))")
    return page.evaluate(
        "() => Chart.getChart(document.querySelector('canvas')).scales.y.ticks.map(t => t.label)"
    )


def test_a_count_axis_steps_by_whole_units(page: Page, live_server):
    spec = {"type": "bar", "labels": ["a", "b"], "datasets": [{"label": "n", "data": [1, 2]}]}

    labels = y_ticks(page, live_server, spec)

    assert labels and all("." not in label and "," not in label for label in labels), labels


def test_a_money_axis_of_small_figures_keeps_its_decimals(page: Page, live_server):
    spec = {
        "type": "line",
        "labels": ["a", "b"],
        "options": {"money": True},
        "datasets": [{"label": "S/", "data": ["0.40", "1.20"]}],
    }

    labels = y_ticks(page, live_server, spec)

    assert len(set(labels)) == len(labels), labels  # no "1 1 1 0 0"
