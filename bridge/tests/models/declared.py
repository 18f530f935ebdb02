"""A model that declares its version, classes and concepts, and reads an upstream model's result."""

__version__ = "2.1.0"
CLASSES = ["background", "skull", "midline"]
CONCEPTS = ["midline visible", "skull symmetric"]


def predict(image, upstream=None):
    return {"extra": {"upstream": upstream}}
