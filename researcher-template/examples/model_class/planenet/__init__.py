"""PlaneNet: standard-plane classification (demonstration model for Bedside's phantom)."""

from .model import PlaneNet, load_checkpoint, save_checkpoint, softmax

__version__ = "1.0.0"
__all__ = ["PlaneNet", "load_checkpoint", "save_checkpoint", "softmax"]
