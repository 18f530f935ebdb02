import ctypes

n = 0


def predict(image):
    global n
    n += 1
    if n == 2:
        ctypes.string_at(0)  # segmentation fault, as a broken C extension would
    return {"plane": {"name": "none", "status": "unknown"}}
