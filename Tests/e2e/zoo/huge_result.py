def predict(image):
    return {"extra": {"blob": "x" * (50 * 1024 * 1024)}}
