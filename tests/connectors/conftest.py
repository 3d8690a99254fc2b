"""Fixtures for connector tests, which talk to real services (a Kafka-protocol broker)."""

from tests.kafka_broker import kafka_broker  # noqa: F401  (a fixture: importing registers it)
