#ifndef BEDSIDE_CTURBOJPEG_SHIM_H
#define BEDSIDE_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
