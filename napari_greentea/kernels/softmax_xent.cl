/* Softmax cross-entropy loss and its gradient w.r.t. the logits.
 *
 * labels: 0 = ignored, 1..C = class index + 1. Per pixel:
 *   loss = cw[l] * (logsumexp(z) - z_l),  grad_c = scale * cw[l] * (p_c - [c == l])
 * with scale = 1 / sum of cw over labelled pixels (torch's weighted mean), set
 * by the host, which also sums the per-pixel losses. Ignored pixels get zero loss and gradient.
 * Global (HW, N).
 */
__kernel void softmax_xent(__global const float *logits, __global const int *labels,
                           __global const float *cw, __global float *grad,
                           __global float *loss, const int C, const int HW,
                           const float scale) {
    const int i = get_global_id(0);
    const int n = get_global_id(1);
    const size_t base = (size_t)n * C * HW + i;
    const int lab = labels[(size_t)n * HW + i];
    if (lab <= 0) {
        for (int c = 0; c < C; ++c) grad[base + (size_t)c * HW] = 0.0f;
        loss[(size_t)n * HW + i] = 0.0f;
        return;
    }
    const int l = lab - 1;
    const float w = cw[l];
    float m = logits[base];
    for (int c = 1; c < C; ++c) m = fmax(m, logits[base + (size_t)c * HW]);
    float s = 0.0f;
    for (int c = 0; c < C; ++c) s += exp(logits[base + (size_t)c * HW] - m);
    const float lse = m + log(s);
    loss[(size_t)n * HW + i] = w * (lse - logits[base + (size_t)l * HW]);
    const float inv = 1.0f / s;
    for (int c = 0; c < C; ++c) {
        const float p = exp(logits[base + (size_t)c * HW] - m) * inv;
        grad[base + (size_t)c * HW] = scale * w * (p - (c == l ? 1.0f : 0.0f));
    }
}
