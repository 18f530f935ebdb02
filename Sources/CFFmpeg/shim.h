#ifndef BEDSIDE_CFFMPEG_SHIM_H
#define BEDSIDE_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libavutil/dict.h>
#include <libavutil/sha.h>
#include <libswscale/swscale.h>

// AVERROR(e) and AVERROR_EOF are function-like / compound macros: not imported by Swift.
static inline int bedside_averror(int e) { return AVERROR(e); }
static const int bedside_averror_eof = AVERROR_EOF;
static const int bedside_averror_eagain = AVERROR(EAGAIN);
// AV_NOPTS_VALUE is a cast expression Swift does not import.
static const int64_t bedside_av_nopts_value = AV_NOPTS_VALUE;
// av_log_set_level takes macro values; wrap for a fixed quiet level.
static inline void bedside_av_quiet(void) { av_log_set_level(AV_LOG_ERROR); }
#endif
