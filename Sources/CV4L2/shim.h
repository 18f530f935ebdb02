#ifndef BEDSIDE_CV4L2_SHIM_H
#define BEDSIDE_CV4L2_SHIM_H
#include <linux/videodev2.h>
#include <libv4l2.h>
#include <fcntl.h>
#include <sys/mman.h>

// v4l2_open and v4l2_ioctl are variadic: Swift cannot call them; fixed-signature wrappers.
static inline int bedside_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }
static inline int bedside_v4l2_ioctl(int fd, unsigned long request, void *arg) { return v4l2_ioctl(fd, request, arg); }

// VIDIOC_* request numbers are built with _IOWR() macros; they do not fit an int, so unsigned long.
static const unsigned long bedside_VIDIOC_QUERYCAP = VIDIOC_QUERYCAP;
static const unsigned long bedside_VIDIOC_ENUM_FMT = VIDIOC_ENUM_FMT;
static const unsigned long bedside_VIDIOC_G_FMT = VIDIOC_G_FMT;
static const unsigned long bedside_VIDIOC_S_FMT = VIDIOC_S_FMT;
static const unsigned long bedside_VIDIOC_ENUM_FRAMESIZES = VIDIOC_ENUM_FRAMESIZES;
static const unsigned long bedside_VIDIOC_REQBUFS = VIDIOC_REQBUFS;
static const unsigned long bedside_VIDIOC_QUERYBUF = VIDIOC_QUERYBUF;
static const unsigned long bedside_VIDIOC_QBUF = VIDIOC_QBUF;
static const unsigned long bedside_VIDIOC_DQBUF = VIDIOC_DQBUF;
static const unsigned long bedside_VIDIOC_STREAMON = VIDIOC_STREAMON;
static const unsigned long bedside_VIDIOC_STREAMOFF = VIDIOC_STREAMOFF;
static const unsigned long bedside_VIDIOC_QUERY_DV_TIMINGS = VIDIOC_QUERY_DV_TIMINGS;
static const unsigned long bedside_VIDIOC_S_DV_TIMINGS = VIDIOC_S_DV_TIMINGS;
static const unsigned long bedside_VIDIOC_G_INPUT = VIDIOC_G_INPUT;
static const unsigned long bedside_VIDIOC_ENUMINPUT = VIDIOC_ENUMINPUT;
static const unsigned long bedside_VIDIOC_S_INPUT = VIDIOC_S_INPUT;
static const unsigned long bedside_VIDIOC_G_DV_TIMINGS = VIDIOC_G_DV_TIMINGS;
static const unsigned long bedside_VIDIOC_SUBSCRIBE_EVENT = VIDIOC_SUBSCRIBE_EVENT;
static const unsigned long bedside_VIDIOC_DQEVENT = VIDIOC_DQEVENT;
static const unsigned long bedside_VIDIOC_ENUM_FRAMEINTERVALS = VIDIOC_ENUM_FRAMEINTERVALS;
static const unsigned long bedside_VIDIOC_S_PARM = VIDIOC_S_PARM;
static const unsigned long bedside_VIDIOC_G_PARM = VIDIOC_G_PARM;

// v4l2_mmap/v4l2_munmap are plain functions but keep the libv4l2 pairing visible here.
static inline void *bedside_v4l2_mmap(int fd, size_t length, long offset) {
    return v4l2_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
}

// V4L2_PIX_FMT_* are built with the v4l2_fourcc() macro.
static const unsigned int bedside_V4L2_PIX_FMT_YUYV = V4L2_PIX_FMT_YUYV;
static const unsigned int bedside_V4L2_PIX_FMT_UYVY = V4L2_PIX_FMT_UYVY;
static const unsigned int bedside_V4L2_PIX_FMT_NV12 = V4L2_PIX_FMT_NV12;
static const unsigned int bedside_V4L2_PIX_FMT_RGB24 = V4L2_PIX_FMT_RGB24;
static const unsigned int bedside_V4L2_PIX_FMT_BGR24 = V4L2_PIX_FMT_BGR24;
static const unsigned int bedside_V4L2_PIX_FMT_GREY = V4L2_PIX_FMT_GREY;
static const unsigned int bedside_V4L2_PIX_FMT_MJPEG = V4L2_PIX_FMT_MJPEG;
#endif
