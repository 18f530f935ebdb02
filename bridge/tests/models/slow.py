"""Test model that takes far too long."""

import time


def predict(image):
    time.sleep(60)
    return {}
