import os


def predict(image):
    return {"extra": {"launcher": os.environ.get("BEDSIDE_TEST_LAUNCHER")}}
