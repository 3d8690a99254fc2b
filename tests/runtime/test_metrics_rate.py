"""The records/s figure: exact for a steady rate, from the first whole second on."""

from dataflow.runtime.metrics import Rate


def steady(rate: Rate, per_second: int, start: float, seconds: int) -> None:
    # 10 batches a second, as a rate-limited source sends them.
    for tick in range(seconds * 10):
        rate.add(per_second // 10, start + tick / 10)


def test_steady_rate_reads_exactly():
    rate = Rate(window_seconds=5)
    rate._started = 100.0
    steady(rate, 4000, 100.0, 8)
    assert rate.per_second(108.0) == 4000.0
    assert rate.per_second(108.5) == 4000.0


def test_young_run_divides_by_the_time_it_ran():
    rate = Rate(window_seconds=5)
    rate._started = 100.5
    steady(rate, 4000, 100.5, 2)  # 100.5 .. 102.5
    # Whole seconds up to 102: 100.5..102.0 = 1.5 s at 4000/s
    assert rate.per_second(102.4) == 4000.0


def test_under_a_second_reads_zero():
    rate = Rate(window_seconds=5)
    rate._started = 100.2
    rate.add(500, 100.5)
    assert rate.per_second(100.9) == 0.0
