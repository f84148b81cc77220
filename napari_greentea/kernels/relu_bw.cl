/* ReLU gradient from the ReLU *output*: out > 0 exactly where input > 0. */
#include "common.h"

__kernel void relu_bw(__global const float *out, __global const float *gout,
                      __global float *gin, const int flags) {
    const size_t i = get_global_id(0);
    const float v = out[i] > 0.0f ? gout[i] : 0.0f;
    gin[i] = (flags & FLAG_ACCUM) ? gin[i] + v : v;
}
