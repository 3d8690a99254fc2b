"""route: rows to named ports by SQL rules, first match or all matches."""

import msgspec
import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow_processors.route import Route

ROWS = [
    {"id": 1, "amount": 5, "country": "FR"},
    {"id": 2, "amount": 5000, "country": "FR"},
    {"id": 3, "amount": 7000, "country": "US"},
    {"id": 4, "amount": None, "country": "JP"},
]
RULES = [
    {"port": "big", "condition": "amount >= 1000"},
    {"port": "europe", "condition": "country IN ('FR', 'DE')"},
]


def ids(out):
    return {port: [r["id"] for r in rows] for port, rows in out.items()}


async def test_first_matching_rule_wins(h):
    out = await h.transform_rows(Route, {"rules": RULES}, ROWS)
    assert ids(out) == {"big": [2, 3], "europe": [1], "unmatched": [4]}


async def test_mode_all_sends_a_row_to_every_match(h):
    out = await h.transform_rows(Route, {"rules": RULES, "mode": "all"}, ROWS)
    assert ids(out) == {"big": [2, 3], "europe": [1, 2], "unmatched": [4]}


def test_ports_follow_the_rules():
    config = Route.parse_config({"rules": RULES})
    assert Route.output_ports(config) == ("big", "europe", "unmatched")
    routed = Route.parse_config({"rules": RULES, "on_error": "route"})
    assert Route.output_ports(routed) == ("big", "europe", "unmatched", "failure")


def test_output_schema_and_errors_name_the_rule(h):
    schema = pa.schema([("id", pa.int64()), ("amount", pa.int64()), ("country", pa.string())])
    assert h.make(Route, {"rules": RULES}).output_schema({"in": schema}) == {
        "big": schema,
        "europe": schema,
        "unmatched": schema,
    }
    bad = [RULES[0], {"port": "x", "condition": "contry = 'FR'"}]
    with pytest.raises(SchemaError) as err:
        h.make(Route, {"rules": bad}).output_schema({"in": schema})
    assert err.value.field == "rules[1].condition"
    assert '"contry" does not exist' in err.value.message


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([], "`$.rules`"),
        ([{"port": "Big Orders", "condition": "true"}], "`$.rules[0].port`"),
        ([{"port": "unmatched", "condition": "true"}], "port 'unmatched' is reserved"),
        ([{"port": "a", "condition": "x"}, {"port": "a", "condition": "y"}], "used by two rules"),
    ],
)
def test_bad_rules(rules, message):
    with pytest.raises(msgspec.ValidationError) as err:
        Route.parse_config({"rules": rules})
    assert message in str(err.value)
