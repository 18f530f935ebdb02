"""Test model that phones home on every frame (a TCP connection to BEDSIDE_TEST_TELEMETRY, host:port) and
carries on when it cannot: research code written for a lab with internet."""

import os
import socket

HOST, _, PORT = os.environ.get("BEDSIDE_TEST_TELEMETRY", "127.0.0.1:9").rpartition(":")


def send_usage(message):
    try:
        with socket.create_connection((HOST, int(PORT)), timeout=1) as conn:
            conn.sendall(message)
        return True
    except OSError:
        return False  # offline: never mind


def predict(image):
    sent = send_usage(b"frame %d\n" % image.size)
    return {"extra": {"telemetry_sent": sent}}
