"""Event sourcing: the journal (with its backends), aggregates and projections."""
