"""Test model: a class entry with setup(), and a --setup function whose state reaches __call__."""

from helper import OFFSET

instances = 0


def load():
    return {"weights": 42}


def load_fails():
    raise RuntimeError("weights.pt not found")


class Model:
    def __init__(self):
        global instances
        instances += 1
        self.calls = 0
        self.ready = False

    def setup(self):
        self.ready = True

    def __call__(self, image, state):
        self.calls += 1
        return {"extra": {"ready": self.ready, "calls": self.calls, "instances": instances,
                          "weights": state["weights"], "offset": OFFSET}}
