"""Runtime tests: queues, engine lifecycle, error policies, metrics, samples, dataflow.testing."""
