"""The whole registry: every processor documented, its examples valid, its docs page current."""

import importlib.util
import inspect
from pathlib import Path

import pytest

from dataflow.processor import Sink, Source, Transform
from dataflow.processor.catalog import SECRET_REF_SCHEMA, describe
from dataflow.processor.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = Registry.from_entry_points()
NAMES = REGISTRY.names()
BUILT_INS = [
    "console",
    "filter",
    "generate",
    "python",
    "read_file",
    "route",
    "select",
    "sql",
    "template",
    "write_file",
]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "docs/gen_processor_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_built_ins_are_registered():
    assert set(BUILT_INS) <= set(NAMES)


def test_every_entry_point_loads():
    assert REGISTRY.load_errors == {}


def tags(schema) -> set[str]:
    """The tag fields of the tagged unions anywhere in a schema."""
    if isinstance(schema, dict):
        found = {schema["discriminator"]["propertyName"]} if "discriminator" in schema else set()
        return found.union(*(tags(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(tags(v) for v in schema))
    return set()


def fields(schema):
    """(path, property) of every field, nested structs included."""
    for name, prop in schema.get("properties", {}).items():
        yield name, prop
    tag_fields = tags(schema)
    for struct, definition in schema.get("$defs", {}).items():
        for name, prop in definition.get("properties", {}).items():
            if name not in tag_fields:  # a tagged union's tag: its values say it all
                yield f"{struct}.{name}", prop


@pytest.mark.parametrize("name", NAMES)
def test_spec_and_config_are_documented(name):
    cls = REGISTRY.get(name)
    info = describe(cls)
    assert info.summary.strip() and info.summary.endswith(".")
    assert cls.config_type.__doc__, "the config docstring is the processor's description"
    undocumented = [path for path, prop in fields(info.config_schema) if "title" not in prop]
    assert not undocumented, f"fields without ui(title=...): {undocumented}"
    for struct, definition in info.config_schema.get("$defs", {}).items():
        assert definition.get("description"), f"{struct} has no docstring"
    kind = {"source": Source, "transform": Transform, "sink": Sink}[info.category]
    assert issubclass(cls, kind)
    assert (not info.inputs) == (info.category == "source")


@pytest.mark.parametrize("name", NAMES)
def test_examples_are_valid_configs(name):
    cls = REGISTRY.get(name)
    assert cls.spec.examples, "at least one worked example"
    for example in cls.spec.examples:
        config = cls.parse_config(example)
        cls(config)  # builds without resources: open() is where they are taken
        assert isinstance(cls.output_ports(config), tuple)


@pytest.mark.parametrize("name", NAMES)
def test_code_widgets(name):
    """SQL, Python and template fields get their editor on the canvas."""
    info = describe(REGISTRY.get(name))
    widgets = {"query": "sql", "condition": "sql", "code": "python", "template": "template"}
    for field, widget in widgets.items():
        if field in info.config_schema.get("properties", {}):
            assert info.ui_schema.get(field, {}).get("ui:widget") == widget, field


def test_struct_names_are_unique_across_processors():
    # The catalog inlines each config schema, but $defs of different processors must not
    # collide when a client merges them.
    # (SecretRef is the SDK's own definition, the same in every processor that uses it.)
    owners = {}
    for name in NAMES:
        for struct, schema in describe(REGISTRY.get(name)).config_schema.get("$defs", {}).items():
            if struct == "SecretRef":
                assert schema == SECRET_REF_SCHEMA
                continue
            assert owners.setdefault(struct, name) == name, f"{struct} in {owners[struct]}, {name}"


@pytest.mark.parametrize("name", NAMES)
def test_docs_page_is_current(name):
    page = ROOT / "docs" / "processors" / f"{name}.md"
    assert page.exists(), f"run python docs/gen_processor_docs.py to write {page.name}"
    expected = load_generator().render(REGISTRY.get(name))
    assert page.read_text() == expected, "stale page: run python docs/gen_processor_docs.py"


def test_built_in_modules_open_with_a_one_line_docstring():
    for name in BUILT_INS:
        module = inspect.getmodule(REGISTRY.get(name))
        assert module.__doc__ and "\n" not in module.__doc__.strip(), name
