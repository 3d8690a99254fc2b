"""Flow documents the tests arrange through the API when drawing is not what they test."""

from __future__ import annotations


def orders_flow(name: str = "orders") -> dict:
    """generate -> filter -> console: small, valid, and quick to run."""
    return {
        "id": "",
        "name": name,
        "description": "",
        "format_version": 1,
        "nodes": [
            {
                "id": "orders",
                "type": "generate",
                "name": "Orders",
                "config": {
                    "count": 100,
                    "columns": [
                        {"kind": "sequence", "name": "order_id"},
                        {"kind": "choice", "name": "status", "choices": ["paid", "open"]},
                        {"kind": "float", "name": "amount", "min": 1, "max": 500},
                    ],
                },
                "position": {"x": 0, "y": 80},
            },
            {
                "id": "paid",
                "type": "filter",
                "name": "Paid",
                "config": {"condition": "status = 'paid'"},
                "position": {"x": 320, "y": 80},
            },
            {
                "id": "show",
                "type": "console",
                "name": "Show",
                "config": {},
                "position": {"x": 640, "y": 80},
            },
        ],
        "edges": [
            {
                "id": "e-orders-paid",
                "source": "orders",
                "source_port": "out",
                "target": "paid",
                "target_port": "in",
            },
            {
                "id": "e-paid-show",
                "source": "paid",
                "source_port": "matched",
                "target": "show",
                "target_port": "in",
            },
        ],
    }


def live_orders_flow(out_dir: str) -> dict:
    """An endless, rate-limited order stream: paid orders routed by region to three sinks,
    the others to a fourth. Runs until stopped; made to be looked at while it runs."""

    def node(id_, type_, name, config, x, y):
        return {
            "id": id_,
            "type": type_,
            "name": name,
            "config": config,
            "position": {"x": x, "y": y},
        }

    def edge(source, source_port, target):
        return {
            "id": f"e-{source}-{target}",
            "source": source,
            "source_port": source_port,
            "target": target,
            "target_port": "in",
        }

    countries = ["de", "fr", "nl", "us", "us", "gb", "jp"]
    return {
        "id": "",
        "name": "Orders by region (live)",
        "description": "Synthetic orders: paid ones routed by region, the rest kept apart.",
        "format_version": 1,
        "nodes": [
            node(
                "orders",
                "generate",
                "Order stream",
                {
                    "rate": 4000,
                    "batch_size": 200,
                    "seed": 7,
                    "columns": [
                        {"kind": "sequence", "name": "order_id"},
                        {"kind": "choice", "name": "country", "choices": countries},
                        {
                            "kind": "choice",
                            "name": "status",
                            "choices": ["paid", "open", "refunded"],
                            "weights": [8, 3, 1],
                        },
                        {"kind": "float", "name": "amount", "min": 1, "max": 500, "decimals": 2},
                    ],
                },
                0,
                140,
            ),
            node("paid", "filter", "Paid only", {"condition": "status = 'paid'"}, 280, 140),
            node(
                "region",
                "route",
                "By region",
                {
                    "rules": [
                        {"port": "eu", "condition": "country IN ('de', 'fr', 'nl')"},
                        {"port": "us", "condition": "country = 'us'"},
                    ]
                },
                560,
                60,
            ),
            node(
                "eu_out",
                "write_file",
                "EU orders",
                {"directory": f"{out_dir}/eu", "format": "jsonl"},
                860,
                -60,
            ),
            node(
                "us_out",
                "write_file",
                "US orders",
                {"directory": f"{out_dir}/us", "format": "parquet"},
                860,
                80,
            ),
            node(
                "rest_out",
                "write_file",
                "Other regions",
                {"directory": f"{out_dir}/rest", "format": "csv"},
                860,
                220,
            ),
            node(
                "unpaid_out",
                "write_file",
                "Unpaid orders",
                {"directory": f"{out_dir}/unpaid", "format": "csv"},
                860,
                360,
            ),
        ],
        "edges": [
            edge("orders", "out", "paid"),
            edge("paid", "matched", "region"),
            edge("paid", "unmatched", "unpaid_out"),
            edge("region", "eu", "eu_out"),
            edge("region", "us", "us_out"),
            edge("region", "unmatched", "rest_out"),
        ],
    }
