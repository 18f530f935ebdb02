#ifndef BEDSIDE_CZEROMQ_SHIM_H
#define BEDSIDE_CZEROMQ_SHIM_H
// libzmq, no pkg-config: its .pc adds -isystem flags SwiftPM warns about on every build.
#include <zmq.h>

// ZMQ_VERSION is a function-like macro expansion Swift cannot import.
static const int bedside_zmq_version = ZMQ_VERSION;
#endif
