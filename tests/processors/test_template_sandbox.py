"""template: the sandbox holds (known escapes fail on the row), renders stay bounded, and a
stop or a failure of the run ends a stuck render instead of leaving a core busy."""

from __future__ import annotations

import asyncio
import time

import pytest

from dataflow.runtime import FlowRun
from dataflow.testing import as_flow, registry_with
from dataflow_processors.template import Template

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ ''.format.__self__ }}",
    "{{ request.application.__globals__ }}",
    "{{ config.__class__.__init__.__globals__ }}",
    "{{ range.__init__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ ''|attr('__class__') }}",
    "{{ range|attr('__init__')|attr('__globals__') }}",
    "{{ '{0.__class__}'|attr('format')(1) }}",
    "{{ '{0.__class__.__base__}'.format(name) }}",
    "{{ '{x.__class__}'.format_map({'x': 1}) }}",
    "{{ row.__class__ }}",
    "{{ row.items.__self__.__class__ }}",
    "{{ name.upper.__globals__ }}",
    "{% set x = [].__class__ %}{{ x }}",
    "{{ [1, 2].append(3) }}",
    "{{ row.update({'n': 1}) }}",
]
#: What a leak of Python internals looks like in text (type names in messages are fine).
LEAKS = (
    "<class",
    "<function",
    "<module",
    "<built-in",
    "<bound",
    "object at 0x",
    "builtins",
    "jinja2",
    "subprocess",
    "posix",
)


@pytest.mark.parametrize("template", ESCAPES)
async def test_known_sandbox_escapes_fail_on_the_row(h, template):
    config = {"template": template, "on_error": "route"}
    out = await h.transform_rows(Template, config, [{"name": "ann", "n": 1}])
    assert out.get("out", []) == []
    [failed] = out["failure"]
    error = failed["error"]
    assert error.startswith(("SecurityError", "UndefinedError")), error
    for leak in LEAKS:
        assert leak not in error


LIMITS = [
    ("{{ 'x' * 10**9 }}", "max_output_chars"),
    ("{{ 10 ** (10**9) }}", "bits"),
    ("{{ 'x'|center(10**9) }}", "max_output_chars"),
    ("{{ 'x'.ljust(10**9) }}", "max_output_chars"),
    ("{{ '{:>1000000000}'.format(1) }}", "max_output_chars"),
    ("{{ '%*d' % (10**9, 1) }}", "max_output_chars"),
    ("{{ ('x' * 1000)|replace('x', 'y' * 1000) }}", "max_output_chars"),
    ("{{ range(100000)|join('x' * 100) }}", "max_output_chars"),
    (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
        "max_output_chars",
    ),
    (
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}"
        "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
        "max_output_chars",
    ),
    ("{% for i in range(100000) %}{% for j in range(100) %}x{% endfor %}{% endfor %}", "output"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "took"),
]


@pytest.mark.parametrize(("template", "says"), LIMITS)
async def test_renders_stay_within_time_and_size(h, template, says):
    config = {
        "template": template,
        "on_error": "route",
        "render_timeout_seconds": 0.5,
        "max_output_chars": 200_000,
    }
    started = time.monotonic()
    out = await h.transform_rows(Template, config, [{"n": 1}, {"n": 2}])
    assert time.monotonic() - started < 10
    assert len(out["failure"]) == 2
    assert out["failure"][0]["error"].startswith("RenderLimit: ")
    assert says in out["failure"][0]["error"]


async def test_ordinary_templates_still_render(h):
    template = (
        "{{ 'Hi ' ~ name ~ '!' }} {{ '%.2f' | format(n) }} {{ '{:,}'.format(1234567) }} "
        "{% for x in [1, 2] %}{{ loop.index }}{{ x }}{% endfor %} {{ range(3) | list }} "
        "{% set ns = namespace(t=0) %}{% for i in range(4) %}{% set ns.t = ns.t + i %}"
        "{% endfor %}{{ ns.t }} {{ dict(a=1) }} {{ ('ab' * 2) | upper }}"
    )
    out = await h.transform_rows(Template, {"template": template}, [{"name": "ann", "n": 2}])
    assert out["out"][0]["text"] == "Hi ann! 2.00 1,234,567 1122 [0, 1, 2] 6 {'a': 1} ABAB"


STUCK = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def stuck_flow(*, failing: bool) -> FlowRun:
    nodes = [
        {"id": "src", "type": "list_source", "config": {"rows": [{"n": 0}]}},
        {
            "id": "stuck",
            "type": "template",
            "config": {"template": STUCK, "render_timeout_seconds": 600},
        },
        {"id": "out", "type": "list_sink"},
    ]
    edges = [
        {"id": "e1", "source": "src", "target": "stuck"},
        {"id": "e2", "source": "stuck", "target": "out"},
    ]
    if failing:  # a second branch whose render fails: the run fails while `stuck` renders
        bad = {"template": STUCK, "render_timeout_seconds": 0.5}  # fails after 0.5 s
        nodes.append({"id": "bad", "type": "template", "config": bad})
        nodes.append({"id": "out2", "type": "list_sink"})
        edges.append({"id": "e3", "source": "src", "target": "bad"})
        edges.append({"id": "e4", "source": "bad", "target": "out2"})
    flow = as_flow({"name": "stuck", "nodes": nodes, "edges": edges})
    return FlowRun.of(flow, registry_with(Template))


async def cpu_seconds_over(seconds: float) -> float:
    """CPU time this process (every thread) spent while the event loop slept `seconds`."""
    before = time.process_time()
    await asyncio.sleep(seconds)
    return time.process_time() - before


async def test_forced_stop_ends_a_stuck_render():
    run = stuck_flow(failing=False)
    await run.start()
    assert await cpu_seconds_over(0.5) > 0.3  # the render is burning a core
    started = time.monotonic()
    outcome = await asyncio.wait_for(run.stop(force=True), 10)
    assert time.monotonic() - started < 2
    assert outcome.state == "stopped"
    assert await cpu_seconds_over(1.0) < 0.3  # and it no longer is


async def test_a_failing_run_ends_a_stuck_render():
    run = stuck_flow(failing=True)
    await run.start()
    started = time.monotonic()
    outcome = await asyncio.wait_for(run.wait(), 10)
    assert time.monotonic() - started < 3
    assert outcome.state == "failed"
    assert outcome.error_node == "bad"
    assert "render_timeout_seconds" in (outcome.error or "")
    assert await cpu_seconds_over(1.0) < 0.3


async def test_an_interruption_ends_a_stuck_render_when_its_checkpoint_times_out():
    run = stuck_flow(failing=False)
    await run.start()
    await asyncio.sleep(0.2)
    started = time.monotonic()
    outcome = await asyncio.wait_for(run.interrupt(timeout=0.5), 10)
    assert time.monotonic() - started < 3
    assert outcome.state == "stopped" and outcome.interrupted
    assert await cpu_seconds_over(1.0) < 0.3
