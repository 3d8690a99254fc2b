"""Write docs/processors/*.md from the processors themselves: specs, config schemas, examples.

Run `python docs/gen_processor_docs.py` after changing a processor; `--check` (run by the
test suite) fails when a committed page differs from what the code says. Worked examples
are run while generating, so the outputs shown are what the processor really produces.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import logging
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from dataflow.processor import Context, Processor, Sink, Source
from dataflow.processor.catalog import describe
from dataflow.processor.registry import Registry

OUT = Path(__file__).parent / "processors"
ORDERS = [
    {"order_id": 1, "status": "paid", "amount": 250.0, "country": "FR"},
    {"order_id": 2, "status": "open", "amount": 80.5, "country": "US"},
    {"order_id": 3, "status": "paid", "amount": 1200.0, "country": "DE"},
]

#: Per processor: a config, and the rows it receives (or the files it reads).
WORKED: dict[str, dict[str, Any]] = {
    "filter": {"config": {"condition": "status = 'paid' AND amount > 100"}, "rows": ORDERS},
    "sql": {
        "config": {
            "query": "SELECT status, count(*) AS n, sum(amount) AS total FROM input"
            " GROUP BY status ORDER BY status"
        },
        "rows": ORDERS,
    },
    "select": {
        "config": {
            "columns": [
                {"name": "id", "expr": "order_id"},
                {"name": "amount", "cast": "DECIMAL(10,2)"},
                {"name": "gross", "expr": "round(amount * 1.2, 2)"},
            ]
        },
        "rows": ORDERS,
    },
    "route": {
        "config": {
            "rules": [
                {"port": "big", "condition": "amount >= 1000"},
                {"port": "europe", "condition": "country IN ('FR', 'DE', 'IT')"},
            ]
        },
        "rows": ORDERS,
    },
    "template": {
        "config": {"template": "Order {{ order_id }}: {{ '%.2f' | format(amount) }} EUR"},
        "rows": ORDERS[:2],
    },
    "python": {
        "config": {
            "code": "def transform(table):\n"
            "    cents = pc.multiply(table['amount'], 100)\n"
            "    return table.append_column('cents', pc.cast(cents, pa.int64()))\n"
        },
        "rows": ORDERS[:2],
    },
    "generate": {
        "config": {
            "count": 4,
            "seed": 7,
            "columns": [
                {"name": "order_id", "kind": "sequence"},
                {"name": "amount", "kind": "float", "min": 1, "max": 500, "decimals": 2},
                {"name": "status", "kind": "choice", "choices": ["paid", "open"]},
                {"name": "ref", "kind": "uuid"},
            ],
        }
    },
    "read_file": {
        "config": {"path": "data/orders-*.csv", "on_error": "route"},
        "files": {
            "data/orders-1.csv": "order_id,status,amount\n1,paid,250\n2,open\n3,paid,12.5\n",
            "data/orders-2.csv": "order_id,status,amount\n4,paid,oops\n5,open,7\n",
        },
    },
    "write_file": {
        "config": {"directory": "out", "format": "jsonl", "roll_rows": 2},
        "rows": ORDERS,
    },
    "console": {"config": {"rows": 1, "label": "orders"}, "rows": ORDERS},
}


# -- running a worked example ------------------------------------------------------------
async def run(cls: type[Processor], example: dict[str, Any], work: Path) -> dict[str, Any]:
    """{port: rows} for sources and transforms; {file name: text} or log lines for sinks."""
    logger = logging.getLogger(f"docs.{cls.spec.name}")
    context = Context(
        node_id=cls.spec.name, run_id="run1", data_dir=work, allow_python=True, logger=logger
    )
    processor = cls(cls.parse_config(example["config"]), context)
    for name, text in example.get("files", {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    out: dict[str, list[Any]] = {}
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    await processor.open()
    try:
        batch = pa.RecordBatch.from_pylist(example.get("rows", []))
        if isinstance(processor, Source):
            async for item in processor.batches():
                port, data = item if isinstance(item, tuple) else ("out", item)
                out.setdefault(port, []).extend(data.to_pylist())
        elif isinstance(processor, Sink):
            processor.write(batch)
            processor.flush()
        else:
            for port, data in processor.transform(batch).items():
                out.setdefault(port, []).extend(data.to_pylist())
    finally:
        await processor.close()
    if isinstance(processor, Sink):
        files = sorted(p for p in work.rglob("*") if p.is_file())
        return {"files": {str(p.relative_to(work)): p.read_text() for p in files}, "log": lines}
    return out


def cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return value.isoformat()
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text.replace("|", "\\|").replace("\n", "\\n")


def rows_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_(no rows)_\n"
    names = list(rows[0])
    lines = ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]
    lines += ["| " + " | ".join(cell(r.get(n)) for n in names) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def worked(cls: type[Processor]) -> str:
    example = WORKED.get(cls.spec.name)
    if example is None:
        return ""
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        result = asyncio.run(run(cls, example, Path(tmp)))
    parts = ["## Worked example\n", "Config:\n", fenced(example["config"])]
    if "rows" in example:
        parts += ["Input:\n", rows_table(example["rows"])]
    for name, text in example.get("files", {}).items():
        parts += [f"File `{name}`:\n", f"```\n{text}```\n"]
    if "files" in result:
        for name, text in result["files"].items():
            parts += [f"Writes `{name}`:\n", f"```\n{text}```\n"]
        if result["log"]:
            parts += ["Logs:\n", "```\n" + "\n".join(result["log"]) + "\n```\n"]
    else:
        for port, rows in result.items():
            parts += [f"Output on `{port}`:\n", rows_table(rows)]
    return "\n".join(parts)


# -- reference tables from the JSON Schema -----------------------------------------------
def fenced(config: dict[str, Any]) -> str:
    return "```json\n" + json.dumps(config, indent=2, ensure_ascii=False) + "\n```\n"


def type_text(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        return " or ".join(type_text(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {type_text(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of name to {type_text(prop['additionalProperties'])}"
    return f"{kind} ({prop['format']})" if "format" in prop else kind


LIMITS = {
    "minimum": ">=",
    "exclusiveMinimum": ">",
    "maximum": "<=",
    "exclusiveMaximum": "<",
    "minLength": "length >=",
    "maxLength": "length <=",
    "minItems": "items >=",
    "pattern": "matches",
}


def fields_table(schema: dict[str, Any], ui_schema: dict[str, Any] | None = None) -> str:
    required = set(schema.get("required", []))
    lines = ["| Field | Type | Default | Description |", "| --- | --- | --- | --- |"]
    props = schema.get("properties", {}).items()
    # The processor's own fields first, the advanced ones (error policy...) after.
    advanced = {n for n, p in props if {**(ui_schema or {}).get(n, {}), **p}.get("x-advanced")}
    for name, prop in sorted(props, key=lambda item: item[0] in advanced):
        if name == "kind" and "enum" in prop and len(prop["enum"]) == 1:
            continue  # the tag of a tagged union: in the section title
        default = "required" if name in required else f"`{json.dumps(prop.get('default'))}`"
        title = f"**{prop['title']}.**" if "title" in prop else ""
        text = " ".join(filter(None, [title, prop.get("description", "")]))
        limits = [f"{word} `{prop[key]}`" for key, word in LIMITS.items() if key in prop]
        if limits:
            text += f" ({', '.join(limits)})"
        if name in advanced:
            text += " _Advanced._"
        text = text.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{name}` | {type_text(prop)} | {default} | {text} |")
    return "\n".join(lines) + "\n"


def render(cls: type[Processor]) -> str:
    info = describe(cls)
    schema = info.config_schema
    config = cls.parse_config(info.examples[0]) if info.examples else None
    outputs = list(cls.output_ports(config)) if config else info.outputs
    parts = [
        f"# {info.title}\n",
        "<!-- Generated by docs/gen_processor_docs.py from the processor's code: edit the code,"
        " then run `python docs/gen_processor_docs.py`. -->\n",
        f"{info.summary}\n",
        f"Type `{info.type}` · {info.category} · {info.status}\n",
        f"{inspect.cleandoc(info.description)}\n",
        "## Ports\n",
        f"- Inputs: {', '.join(f'`{p}`' for p in info.inputs) or 'none'}",
        f"- Outputs: {', '.join(f'`{p}`' for p in info.outputs) or 'none'}",
    ]
    if [p for p in outputs if p != "failure"] != info.outputs:
        parts.append(f"- Outputs with the first example below: {', '.join(outputs)}")
    parts.append(
        f"- `{info.failure_port}`, with `on_error: route`: what failed, with an `error` column\n"
    )
    parts += ["## Configuration\n", fields_table(schema, info.ui_schema)]
    for name, definition in schema.get("$defs", {}).items():
        tag = definition.get("properties", {}).get("kind", {}).get("enum")
        title = f"`kind: {tag[0]}`" if tag and len(tag) == 1 else "Fields"
        about = inspect.cleandoc(definition.get("description", ""))
        parts += [f"### {name}\n", f"{title}. {about}\n"]
        parts.append(fields_table(definition))
    parts.append("## Examples\n")
    parts += [fenced(example) for example in info.examples]
    parts.append(worked(cls))
    return "\n".join(parts).rstrip() + "\n"


def pages(registry: Registry | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """File name -> content for every processor and the index; processor -> render error."""
    registry = registry or Registry.from_entry_points()
    out, errors = {}, dict(registry.load_errors)
    for cls in registry:
        try:
            out[f"{cls.spec.name}.md"] = render(cls)
        except Exception as exc:  # one broken processor must not hide the others' pages
            errors[cls.spec.name] = f"{type(exc).__name__}: {exc}"
    index = ["# Processors\n", "Generated from the processors' code (see each page).\n"]
    for category in ("source", "transform", "sink"):
        index.append(f"## {category.capitalize()}s\n")
        for cls in registry:
            if f"{cls.spec.name}.md" in out and cls.spec.category == category:
                index.append(
                    f"- [{cls.spec.display_title}]({cls.spec.name}.md): {cls.spec.summary}"
                )
        index.append("")
    out["README.md"] = "\n".join(index).rstrip() + "\n"
    return out, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a page is out of date")
    args = parser.parse_args()
    stale = []
    written, errors = pages()
    for name, error in errors.items():
        print(f"cannot document {name}: {error}", file=sys.stderr)
    for name, text in written.items():
        path = OUT / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        verb = "out of date" if args.check else "written"
        print(f"{verb}: {', '.join(stale)}", file=sys.stderr)
    return 1 if errors or (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
