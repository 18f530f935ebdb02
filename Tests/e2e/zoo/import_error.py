import numpy_that_does_not_exist  # noqa: F401  (a missing package in the researcher's env)


def predict(image):
    return {}
