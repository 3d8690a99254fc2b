"""docs/writing-processors.md cannot rot: its example file is the one shown, and its snippets run.

The page shows docs/examples/mask_column.py in full after an `<!-- include: PATH -->`
marker, and marks with `<!-- run -->` the Python blocks that are tests of that example;
this module checks the first and runs the second, in page order and one namespace (as a
reader would paste them), plus tests of its own on the example processor.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pytest

from dataflow.processor import SchemaError, Transform
from dataflow.processor.catalog import describe
from dataflow.processor.registry import ENTRY_POINT_GROUP
from dataflow.testing import ListSink, ListSource, registry_with, run_flow, run_transform

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "writing-processors.md"
EXAMPLE = ROOT / "docs" / "examples" / "mask_column.py"
BLOCK = re.compile(r"<!-- (\S+)(?: (\S+))? -->\n```(\w+)\n(.*?)```", re.DOTALL)


def load_example() -> ModuleType:
    """docs/examples/mask_column.py as the module `mask_column` (what the snippets import)."""
    spec = importlib.util.spec_from_file_location("mask_column", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mask_column"] = module
    spec.loader.exec_module(module)
    return module


mask_column = load_example()
MaskColumn = mask_column.MaskColumn


def marked_blocks(marker: str) -> list[tuple[str | None, str, str]]:
    """(argument, language, code) of each fenced block right after `<!-- marker ... -->`."""
    return [
        (arg, lang, code)
        for name, arg, lang, code in BLOCK.findall(PAGE.read_text())
        if name == f"{marker}:" or name == marker
    ]


# -- the page and the example agree ----------------------------------------------------
def test_the_page_shows_the_example_files_as_they_are():
    included = marked_blocks("include")
    assert [arg for arg, _, _ in included] == [
        "docs/examples/mask_column.py",
        "docs/examples/line_push.py",  # run by tests/api/test_ingest_protocol.py
    ]
    for path, lang, code in included:
        assert lang == "python"
        assert code == (ROOT / path).read_text(), (
            f"docs/writing-processors.md: paste {path} again after its include marker"
        )


def test_the_entry_point_snippet_names_the_group_the_registry_reads():
    [(_, lang, code)] = marked_blocks("entry-point")
    assert lang == "toml"
    group = tomllib.loads(code)["project"]["entry-points"]
    assert list(group) == [ENTRY_POINT_GROUP]
    assert group[ENTRY_POINT_GROUP] == {"mask_column": "my_plugin.mask_column:MaskColumn"}


def test_sdk_names_on_the_page_exist():
    """Method names the page explains are the SDK's, so renaming one fails here."""
    from dataflow.processor import Sink, Source

    text = PAGE.read_text()
    for cls, names in {
        Source: ["batches", "offset", "restore", "commit", "open", "close"],
        Transform: [
            "transform",
            "process",
            "finish",
            "snapshot_state",
            "restore_state",
            "output_schema",
            "output_ports",
        ],
        Sink: ["write", "flush"],
    }.items():
        for name in names:
            assert f"`{name}(" in text or f"`async {name}(" in text, name
            assert callable(getattr(cls, name)), f"{cls.__name__}.{name}"
    assert "stateless = False" in text and Transform.stateless is True


@pytest.mark.parametrize("index", range(len(marked_blocks("run"))))
def test_the_page_snippets_run(index):
    """Run snippets 0..index in one namespace, then the test functions snippet `index`
    defines (async ones on an event loop)."""
    snippets = [code for _, lang, code in marked_blocks("run") if lang == "python"]
    namespace: dict[str, object] = {"__name__": f"writing_processors_snippet_{index}"}
    for code in snippets[:index]:
        exec(compile(code, f"{PAGE.name} snippet", "exec"), namespace)
    before = set(namespace)
    exec(compile(snippets[index], f"{PAGE.name} snippet {index}", "exec"), namespace)
    tests = [v for k, v in namespace.items() if k.startswith("test_") and k not in before]
    assert tests, f"snippet {index} defines no test_ function"
    for test in tests:
        result = test()
        if inspect.iscoroutine(result):
            asyncio.run(result)


# -- the example processor itself ------------------------------------------------------
def test_masks_every_character_but_the_last_ones():
    rows = [{"card": "4111111111111111"}, {"card": "12"}, {"card": "é€123"}, {"card": None}]
    out = run_transform(MaskColumn, {"column": "card"}, rows)
    assert [r["card"] for r in out["out"]] == ["************1111", "12", "*€123", None]
    out = run_transform(MaskColumn, {"column": "card", "keep": 0, "mask": "#"}, rows)
    assert [r["card"] for r in out["out"]] == ["################", "##", "#####", None]


def test_other_columns_pass_unchanged_batch_by_batch():
    rows = [{"id": i, "card": f"{i:08d}", "note": "x" * i} for i in range(10)]
    out = run_transform(MaskColumn, {"column": "card"}, rows, batch_size=3)
    assert [r["id"] for r in out["out"]] == list(range(10))
    assert [r["note"] for r in out["out"]] == [r["note"] for r in rows]
    assert all(r["card"] == "****" + f"{r['id']:08d}"[-4:] for r in out["out"])


def test_output_schema_checks_the_column_at_design_time():
    mask = MaskColumn(MaskColumn.parse_config({"column": "card"}))
    schema = pa.schema([("id", pa.int64()), ("card", pa.string())])
    assert mask.output_schema({"in": schema}) == {"out": schema}
    assert mask.output_schema({}) is None
    with pytest.raises(SchemaError, match="column 'card' is int64, not string") as err:
        mask.output_schema({"in": pa.schema([("card", pa.int64())])})
    assert err.value.field == "column"


def test_flow_validation_reports_config_and_schema_errors_on_the_field(tmp_path):
    from dataflow.graph import validate_document
    from dataflow_processors.read_file import ReadFile

    (tmp_path / "people.csv").write_text("id,email\n1,ann@example.com\n")
    flow = {
        "name": "masking",
        "nodes": [
            {"id": "people", "type": "read_file", "config": {"path": str(tmp_path / "*.csv")}},
            {"id": "mask", "type": "mask_column", "config": {"column": "card", "keep": 65}},
        ],
        "edges": [{"id": "e1", "source": "people", "target": "mask"}],
    }
    registry = registry_with(MaskColumn, ReadFile)
    _, report = validate_document(json.dumps(flow).encode(), registry)
    assert [(e.path, e.message) for e in report.errors] == [
        ("nodes[1].config.keep", "mask_column in node 'mask': Expected `int` <= 64")
    ]
    flow["nodes"][1]["config"]["keep"] = 4
    _, report = validate_document(json.dumps(flow).encode(), registry)
    assert [(e.path, e.message) for e in report.errors] == [
        (
            "nodes[1].config.column",
            "mask_column in node 'mask': no column 'card' (upstream columns: id, email)",
        )
    ]


def test_config_is_validated_and_documented():
    info = describe(MaskColumn)
    assert info.category == "transform"
    assert set(info.config_schema["required"]) == {"column"}
    assert info.ui_schema["column"] == {"ui:placeholder": "card_number"}
    for example in MaskColumn.spec.examples:
        MaskColumn(MaskColumn.parse_config(example))
    with pytest.raises(Exception, match="keep"):
        MaskColumn.parse_config({"column": "card", "keep": 65})


@pytest.mark.parametrize("capacity", [1, 64])
async def test_runs_in_a_flow_between_list_source_and_list_sink(capacity):
    rows = [{"id": i, "card": f"4000{i:012d}"} for i in range(50)]
    flow = {
        "nodes": [
            {"id": "in", "type": ListSource.spec.name, "config": {"rows": rows, "batch_size": 7}},
            {"id": "mask", "type": "mask_column", "config": {"column": "card", "concurrency": 3}},
            {"id": "out", "type": ListSink.spec.name},
        ],
        "edges": [
            {"id": "e1", "source": "in", "target": "mask"},
            {"id": "e2", "source": "mask", "target": "out"},
        ],
    }
    result = await run_flow(flow, registry_with(MaskColumn), queue_capacity=capacity)
    assert result.state == "completed", result.error
    assert result.outputs["out"] == [
        {"id": i, "card": "*" * 12 + f"{i:012d}"[-4:]} for i in range(50)
    ]
