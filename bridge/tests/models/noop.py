"""Test model that does nothing: for timing what the bridge adds."""


def predict(image):
    return {}
