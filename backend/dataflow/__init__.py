"""DataFlow: design flows of processors, run them on Arrow batches with backpressure."""

__version__ = "0.1.0"
