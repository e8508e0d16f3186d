"""make bench-web: its verdicts, and anchors that exist only under the bench's settings."""

import io

import pytest
from django.test import Client

from bench.management.commands import bench_web
from bench.management.commands.bench_web import Target


def _target(name, kind, rate, p95=10.0):
    # One run of `rate` requests in one second, p50 half the p95.
    return Target(name, "/", kind, runs=[(int(rate), 1.0, p95 / 2, p95)])


def _report(*rows):
    command = bench_web.Command(stdout=io.StringIO())
    anchors = [_target("vacía", "bare", 1000), _target("tabla", "table", 400)]
    anchors.append(_target("insert", "insert", 900))
    failed = command.print_table([*anchors, *rows])
    lines = command.stdout.getvalue().splitlines()
    return failed, {r.name: next(line for line in lines if line.startswith(r.name)) for r in rows}


def test_each_kind_of_row_is_judged_against_its_own_anchor():
    failed, lines = _report(
        _target("lista buena", "page", 200),  # 0.5 x the table
        _target("piso", "floor", 800),  # 0.8 x the bare view
        _target("webhook", "webhook", 630),  # 0.7 x the insert
        _target("reporte", "report", 5, p95=299),
    )

    assert not failed
    assert all(line.endswith("OK") for line in lines.values())
    assert " 0.50 " in lines["lista buena"] and " 0.70 " in lines["webhook"]


@pytest.mark.parametrize(
    "row",
    [
        _target("lista lenta", "page", 199),
        _target("piso", "floor", 790),
        _target("webhook", "webhook", 620),
        _target("reporte", "report", 5, p95=300),
    ],
)
def test_a_row_below_its_target_fails_the_run(row):
    failed, lines = _report(row)

    assert failed
    assert lines[row.name].endswith("NO")


def test_the_anchors_exist_only_under_the_bench_settings(db):
    assert Client().get("/bench/bare/").status_code in (302, 404)
    assert Client().post("/bench/insert/").status_code in (403, 404, 405)


def test_templates_are_compiled_once_per_process_in_production():
    # The production settings name no loaders: django-template-partials puts Django's
    # cached loader under its own.
    from django.template import engines
    from django.template.loaders.cached import Loader

    (partials,) = engines["django"].engine.template_loaders
    assert [type(loader) for loader in partials.loaders] == [Loader]
