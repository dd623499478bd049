"""A clock for the unit tests of a module that waits: sleeping moves it forward, so a
wait's timeout passes at once (``monkeypatch.setattr(module, "time", Clock())``)."""


class Clock:
    """A clock that sleeping moves forward."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
