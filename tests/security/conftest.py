"""Access stores on every journal backend (the events suite's fixtures)."""

from tests.events.conftest import durable_store, journal, store  # noqa: F401 - fixtures
from tests.oidc_provider import provider  # noqa: F401 - fixture
