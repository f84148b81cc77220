/* Weight gradient of conv_fw: partial sums over a slice of output rows.
 *
 * dW[o,c,ky,kx] = sum_{n,y,x} dY[n,o,y,x] * X[n,c,y+ky*DIL,x+kx*DIL]. The sum
 * over pixels is split into P partitions of (n, y) rows; each work-item
 * accumulates KB output channels x KX taps as float16 vectors along x and
 * writes its partial sums to partial[p][o][c][ky][kx]; reduce_sum adds the
 * partitions. Compile-time: C_IN, K, DIL, KB, KX.
 * Global (P, C_IN*K*NKX, O/KB) with NKX = ceil(K/KX). A 1x1 kernel has a
 * single tap, so there the KX vectors of a work-item are KX consecutive input
 * channels instead (global (P, ceil(C_IN/KX), O/KB)): one tap per work-item
 * would load KB + 1 vectors for only KB multiply-adds.
 */
#include "common.h"

#define NKX ((K + KX - 1) / KX)

__kernel void conv_bw_weight(__global const float *in, __global const float *gout,
                             __global float *partial, const int Hi, const int Wi,
                             const int Ho, const int Wo, const int O,
                             const int total_rows, const int rows_per_part) {
    const int p = get_global_id(0);
    const int t = get_global_id(1);
    const int o0 = get_global_id(2) * KB;
#if K == 1
    const int c = t * KX;
    const int ky = 0;
    const int kx0 = 0;
    const int nvalid = min(KX, C_IN - c);
    size_t kxs[KX];
    #pragma unroll
    for (int j = 0; j < KX; ++j) kxs[j] = (size_t)min(j, nvalid - 1) * Hi * Wi;
#else
    const int c = t / (K * NKX);
    const int ky = (t / NKX) % K;
    const int kx0 = (t % NKX) * KX;
    const int nvalid = K - kx0;
    int kxs[KX];
    #pragma unroll
    for (int j = 0; j < KX; ++j) kxs[j] = min(kx0 + j, K - 1) * DIL;
#endif

    float16 acc[KB][KX];
    #pragma unroll
    for (int kb = 0; kb < KB; ++kb)
        #pragma unroll
        for (int j = 0; j < KX; ++j) acc[kb][j] = (float16)(0.0f);

    const int r_end = min(total_rows, (p + 1) * rows_per_part);
    const int full = (Wo / 16) * 16;
    for (int row = p * rows_per_part; row < r_end; ++row) {
        const int n = row / Ho;
        const int y = row % Ho;
        __global const float *ip = in + (((size_t)n * C_IN + c) * Hi + y + ky * DIL) * Wi;
        __global const float *gp = gout + (((size_t)n * O + o0) * Ho + y) * Wo;
        const size_t gstride = (size_t)Ho * Wo;
        for (int x0 = 0; x0 < full; x0 += 16) {
            float16 v[KX];
            #pragma unroll
            for (int j = 0; j < KX; ++j) v[j] = vload16(0, ip + x0 + kxs[j]);
            #pragma unroll
            for (int kb = 0; kb < KB; ++kb) {
                const float16 g = vload16(0, gp + kb * gstride + x0);
                #pragma unroll
                for (int j = 0; j < KX; ++j) acc[kb][j] = fma(g, v[j], acc[kb][j]);
            }
        }
        if (full < Wo) {
            const int16 m = lane_mask(Wo - full);
            float16 v[KX];
            #pragma unroll
            for (int j = 0; j < KX; ++j)
                v[j] = select((float16)(0.0f), vload16(0, ip + full + kxs[j]), m);
            #pragma unroll
            for (int kb = 0; kb < KB; ++kb) {
                const float16 g = select((float16)(0.0f),
                                         vload16(0, gp + kb * gstride + full), m);
                #pragma unroll
                for (int j = 0; j < KX; ++j) acc[kb][j] = fma(g, v[j], acc[kb][j]);
            }
        }
    }

    const size_t M = (size_t)O * C_IN * K * K;
    #pragma unroll
    for (int kb = 0; kb < KB; ++kb)
        #pragma unroll
        for (int j = 0; j < KX; ++j)
            if (j < nvalid)
                partial[p * M + (((size_t)(o0 + kb) * C_IN + c) * K + ky) * K + kx0 + j] =
                    hsum16(acc[kb][j]);
}
