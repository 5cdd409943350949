from __future__ import annotations

import io

from harness.common.progress import Progress


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_about_every_interval_with_rate_and_time_left():
    clock, out = FakeClock(), io.StringIO()  # StringIO is not a terminal: plain lines
    with Progress("generate", 100, stream=out, clock=clock, interval=30) as p:
        clock.now += 10
        p.update(items=10, tokens=200)
        assert out.getvalue() == ""  # less than the interval since the start
        clock.now += 20
        p.update(items=20, tokens=400)
        clock.now += 5
        p.update(items=5)  # 5 s after the last line: quiet
    lines = out.getvalue().splitlines()
    assert lines[0] == "[adaptbench] generate: 30/100 items (30%), 20.0 tokens/s, about 1m10s left"
    assert lines[1].startswith("[adaptbench] generate: 35/100 items (35%)")
    assert len(lines) == 2


def test_a_short_phase_prints_nothing_and_a_finished_one_says_done():
    clock, out = FakeClock(), io.StringIO()
    with Progress("embed", 4, stream=out, clock=clock) as p:
        p.update(items=4)
    assert out.getvalue() == ""
    with Progress("index", 2, unit="chunks", stream=out, clock=clock, interval=30) as p:
        clock.now += 31
        p.update(items=1)
        clock.now += 31
        p.update(items=1)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "[adaptbench] index: 2/2 chunks (100%), done in 1m02s"


def test_disabled_progress_writes_nothing():
    clock, out = FakeClock(), io.StringIO()
    with Progress("generate", 10, stream=out, clock=clock, enabled=False) as p:
        clock.now += 100
        p.update(items=5, tokens=50)
    assert out.getvalue() == "" and p.done == 5 and p.tokens == 50


def test_a_terminal_gets_a_bar_not_lines():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    clock, out = FakeClock(), Tty()
    with Progress("generate", 10, stream=out, clock=clock) as p:
        assert p.bar is not None
        clock.now += 100
        p.update(items=10)
    assert "[adaptbench]" not in out.getvalue()
