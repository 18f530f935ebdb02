import sys


def predict(image):
    sys.exit("the researcher's code calls sys.exit")
