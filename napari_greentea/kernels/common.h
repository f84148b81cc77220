/* Shared helpers for the napari-greentea kernels.
 *
 * Layout: activations are N,C,Y,X float32, contiguous. Every buffer is
 * allocated with SLACK floats beyond its logical end so that 16-wide vector
 * loads may overrun a row: the extra lanes are computed but never stored.
 */
#ifndef GT_COMMON_H
#define GT_COMMON_H

#define FLAG_RELU 1
#define FLAG_ACCUM 2
#define FLAG_BIAS 4

inline float hsum16(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

/* Lane mask (all bits set where lane < n) for a partial 16-wide block. */
inline int16 lane_mask(int n) {
    const int16 lanes = (int16)(0, 1, 2, 3, 4, 5, 6, 7,
                                8, 9, 10, 11, 12, 13, 14, 15);
    return lanes < (int16)(n);
}

#endif
