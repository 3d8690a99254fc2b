"""The editor as a user drives it: palette drags, handle-to-handle drags, forms, save.

Every locator is a `data-testid`; positions are only used where the gesture itself is
positional (where a processor is dropped, where a drag starts and ends).
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

FLOW_URL = re.compile(r"/flows/([^/?#]+)$")


def create_flow(page: Page, name: str) -> str:
    """New flow from the list page; returns its id once the empty editor is open."""
    page.goto("/")
    page.get_by_test_id("new-flow").click()
    page.get_by_test_id("prompt-input").fill(name)
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("canvas-empty")).to_be_visible()
    flow_id = page.get_by_test_id("editor").get_attribute("data-flow-id")
    assert flow_id
    return flow_id


def open_flow(page: Page, flow_id: str) -> Editor:
    page.goto(f"/flows/{flow_id}")
    editor = Editor(page)
    expect(page.get_by_test_id("editor")).to_have_attribute("data-flow-id", flow_id)
    return editor


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.title() for part in rest)


class Editor:
    def __init__(self, page: Page):
        self.page = page

    def testid(self, testid: str) -> Locator:
        return self.page.get_by_test_id(testid)

    # ------------------------------------------------------------------ canvas

    def node_ids(self) -> list[str]:
        return self.page.locator(".react-flow__node").evaluate_all(
            "els => els.map(e => e.getAttribute('data-id'))"
        )

    def drop(self, processor: str, x: float, y: float) -> str:
        """Drag a processor from the palette and drop it at (x, y) of the canvas.

        Returns the new node's id (the one node that was not there before)."""
        before = set(self.node_ids())
        self.testid("palette-search").fill(processor)
        item = self.testid(f"palette-item-{processor}")
        item.drag_to(self.testid("canvas"), target_position={"x": x, "y": y})
        self.testid("palette-search").fill("")
        nodes = self.page.locator(".react-flow__node")
        expect(nodes).to_have_count(len(before) + 1)
        (node_id,) = set(self.node_ids()) - before
        expect(self.testid(f"node-{node_id}")).to_be_visible()
        return node_id

    def handle(self, node_id: str, direction: str, port: str) -> Locator:
        return self.testid(f"handle-{node_id}-{direction}-{port}")

    def connect(self, source: str, source_port: str, target: str, target_port: str) -> str:
        """Drag with the mouse from an output handle to an input handle; returns the edge id."""
        start = self._centre(self.handle(source, "out", source_port))
        end = self._centre(self.handle(target, "in", target_port))
        mouse = self.page.mouse
        mouse.move(*start)
        mouse.down()
        # Several intermediate moves: React Flow starts a connection only after the pointer
        # has moved, and snaps to the handle under it while the drag goes on.
        mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=8)
        mouse.move(*end, steps=8)
        mouse.up()
        label = self.page.get_by_label(
            f"Connection {source}.{source_port} to {target}.{target_port}", exact=True
        )
        expect(label).to_have_count(1)
        testid = label.get_attribute("data-testid")
        assert testid and testid.startswith("edge-")
        return testid.removeprefix("edge-")

    def select(self, node_id: str) -> Locator:
        """Click the node's header; returns its inspector."""
        self.testid(f"node-{node_id}").locator(".df-node-header").click()
        inspector = self.testid(f"inspector-node-{node_id}")
        expect(inspector).to_be_visible()
        return inspector

    @staticmethod
    def _centre(locator: Locator) -> tuple[float, float]:
        locator.scroll_into_view_if_needed()
        box = locator.bounding_box()
        assert box, f"{locator} is not on screen"
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    # ------------------------------------------------------------------ run

    def metric(self, node_id: str, name: str) -> int:
        """records-in, records-out or rate as the node's runtime strip shows it right now."""
        value = self.testid(f"node-metrics-{node_id}").get_attribute(f"data-{name}")
        return int(value or 0)

    def wait_metric_above(self, node_id: str, name: str, floor: int, timeout: float = 15_000):
        """Wait until the node shows `name` above `floor` (live updates); returns the value."""
        self.page.wait_for_function(
            """([id, name, floor]) => {
                const el = document.querySelector(`[data-testid='node-metrics-${id}']`);
                return el !== null && Number(el.dataset[name]) > floor;
            }""",
            arg=[node_id, _camel(name), floor],
            timeout=timeout,
        )
        return self.metric(node_id, name)

    # ------------------------------------------------------------------ form

    def field(self, path: str) -> Locator:
        return self.testid(f"field-{path}")

    def fill(self, path: str, value: str | float) -> None:
        self.field(path).fill(str(value))

    def pick(self, path: str, label: str) -> None:
        self.field(path).select_option(label=label)

    def add_item(self, path: str) -> None:
        self.testid(f"field-add-{path}").click()

    def open_advanced(self) -> None:
        toggle = self.testid("advanced-toggle-config")
        if toggle.locator("xpath=..").get_attribute("open") is None:
            toggle.click()

    # ------------------------------------------------------------------ save, versions

    def version(self) -> int:
        return int(self.testid("flow-version").inner_text().removeprefix("v"))

    def save(self) -> int:
        """Save and wait until the editor is clean again; returns the saved version."""
        before = self.version()
        expect(self.testid("dirty-marker")).to_be_visible()
        self.testid("save-flow").click()
        expect(self.testid("dirty-marker")).to_be_hidden()
        expect(self.testid("flow-version")).not_to_have_text(f"v{before}")
        return self.version()
