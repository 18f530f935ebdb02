def predict(image):
    return {"plane": {"name": "head", "status": "standard"}, "model": object()}
