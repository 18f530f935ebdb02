"""Test model whose import fails."""

import definitely_not_a_module_for_bedside  # noqa: F401


def predict(image):
    return {}
