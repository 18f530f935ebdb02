def predict(image):
    while True:
        pass
