/* Bias gradient: db[o] = sum_{n,y,x} dY[n,o,y,x]; one work-item per channel. */
#include "common.h"

__kernel void conv_bw_bias(__global const float *gout, __global float *gb,
                           const int N, const int O, const int HW) {
    const int o = get_global_id(0);
    float16 acc = (float16)(0.0f);
    const int full = (HW / 16) * 16;
    for (int n = 0; n < N; ++n) {
        __global const float *gp = gout + ((size_t)n * O + o) * HW;
        for (int i = 0; i < full; i += 16) acc += vload16(0, gp + i);
        if (full < HW)
            acc += select((float16)(0.0f), vload16(0, gp + full), lane_mask(HW - full));
    }
    gb[o] = hsum16(acc);
}
