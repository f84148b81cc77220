/* Valid dilated convolution, register blocked for CPU devices.
 *
 * Compile-time: C_IN, K (kernel edge), DIL (dilation), KB (output channels per
 * work-item), RB (output rows per work-item). Each work-item computes a
 * KB x RB block of float16 vectors along x, so every input vector loaded is
 * reused KB times and every weight RB * 16 times, which keeps CPU devices
 * compute- rather than load-bound.
 * Global (ceil(Wo/16), ceil(Ho/RB), N*O/KB); local (1, 1, L) keeps the output
 * channel blocks of the same pixels together so their input rows stay in cache.
 * flags: FLAG_BIAS adds bias, FLAG_RELU fuses a ReLU, FLAG_ACCUM adds to out.
 * Input outside rows [vy0, vy1) and columns [vx0, vx1) is known to be zero
 * (the padding of conv_bw_input): taps whose rows or whole 16-wide vector lie
 * there are skipped, which removes most of the work of a full convolution
 * with a wide dilated kernel. The forward pass passes the whole input.
 * Only input channels [c0, c1) are summed: the host splits a long channel sum
 * into launches that accumulate, so the weights a work-group streams per
 * launch stay in cache.
 */
#include "common.h"

__kernel void conv_fw(__global const float *in, __global const float *w,
                      __global const float *bias, __global float *out,
                      const int Hi, const int Wi, const int Ho, const int Wo,
                      const int O, const int flags, const int vy0, const int vy1,
                      const int vx0, const int vx1, const int c0, const int c1) {
    const int x0 = get_global_id(0) * 16;
    const int y0 = get_global_id(1) * RB;
    const int z = get_global_id(2);
    const int nob = O / KB;
    const int n = z / nob;
    const int o0 = (z % nob) * KB;
    const size_t plane = (size_t)Hi * Wi;
    const int CKK = C_IN * K * K;

    float16 acc[KB][RB];
#pragma unroll
    for (int kb = 0; kb < KB; ++kb) {
        const float b0 = (flags & FLAG_BIAS) ? bias[o0 + kb] : 0.0f;
#pragma unroll
        for (int r = 0; r < RB; ++r) acc[kb][r] = (float16)(b0);
    }
    int yr[RB];
    for (int r = 0; r < RB; ++r) yr[r] = min(y0 + r, Ho - 1);

    __global const float *inb = in + (size_t)n * C_IN * plane + x0;
    __global const float *wb = w + (size_t)o0 * CKK;
    for (int c = c0; c < c1; ++c) {
        __global const float *inc = inb + c * plane;
        __global const float *wc = wb + c * K * K;
        for (int ky = 0; ky < K; ++ky) {
            if (yr[RB - 1] + ky * DIL < vy0 || yr[0] + ky * DIL >= vy1) continue;
            __global const float *rows[RB];
#pragma unroll
            for (int r = 0; r < RB; ++r) rows[r] = inc + (size_t)(yr[r] + ky * DIL) * Wi;
#pragma unroll
            for (int kx = 0; kx < K; ++kx) {
                if (x0 + kx * DIL + 16 <= vx0 || x0 + kx * DIL >= vx1) continue;
                float16 v[RB];
#pragma unroll
                for (int r = 0; r < RB; ++r) v[r] = vload16(0, rows[r] + kx * DIL);
#pragma unroll
                for (int kb = 0; kb < KB; ++kb) {
                    const float16 wv = (float16)(wc[kb * CKK + ky * K + kx]);
#pragma unroll
                    for (int r = 0; r < RB; ++r) acc[kb][r] = fma(wv, v[r], acc[kb][r]);
                }
            }
        }
    }

    const int nvalid = min(16, Wo - x0);
#pragma unroll
    for (int kb = 0; kb < KB; ++kb) {
#pragma unroll
        for (int r = 0; r < RB; ++r) {
            if (y0 + r >= Ho) continue;
            __global float *dst = out + (((size_t)n * O + o0 + kb) * Ho + y0 + r) * Wo + x0;
            float16 val = acc[kb][r];
            if (nvalid == 16) {
                if (flags & FLAG_ACCUM) val += vload16(0, dst);
                if (flags & FLAG_RELU) val = fmax(val, (float16)(0.0f));
                vstore16(val, 0, dst);
            } else {
                float tmp[16];
                vstore16(val, 0, tmp);
                for (int i = 0; i < nvalid; ++i) {
                    float t = tmp[i];
                    if (flags & FLAG_ACCUM) t += dst[i];
                    if (flags & FLAG_RELU) t = fmax(t, 0.0f);
                    dst[i] = t;
                }
            }
        }
    }
}
