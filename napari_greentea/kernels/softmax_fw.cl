/* Softmax over channels, one work-item per pixel. Global (HW, N). */
__kernel void softmax_fw(__global const float *in, __global float *out,
                         const int C, const int HW) {
    const int i = get_global_id(0);
    const size_t base = (size_t)get_global_id(1) * C * HW + i;
    float m = in[base];
    for (int c = 1; c < C; ++c) m = fmax(m, in[base + (size_t)c * HW]);
    float s = 0.0f;
    for (int c = 0; c < C; ++c) {
        const float e = exp(in[base + (size_t)c * HW] - m);
        out[base + (size_t)c * HW] = e;
        s += e;
    }
    const float inv = 1.0f / s;
    for (int c = 0; c < C; ++c) out[base + (size_t)c * HW] *= inv;
}
