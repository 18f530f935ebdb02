"""Research code with telemetry: tries to reach a server on every frame."""
import os
import socket


def predict(image):
    try:
        socket.create_connection(("127.0.0.1", int(os.environ["PHONE_HOME_PORT"])), timeout=2).close()
        reached = True
        err = ""
    except OSError as e:
        reached, err = False, str(e)
    return {"plane": {"name": "none", "status": "unknown"}, "extra": {"reached": reached, "error": err}}
