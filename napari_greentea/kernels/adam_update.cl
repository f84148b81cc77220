/* torch.optim.Adam (no AMSGrad), element-wise, in place.
 *
 * g += wd * p; m = lerp(m, g, 1 - b1); v = b2 * v + (1 - b2) * g^2;
 * p -= step_size * m / (sqrt(v) / bc2_sqrt + eps), with step_size =
 * lr / (1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t) computed on the host.
 */
__kernel void adam_update(__global float *p, __global const float *grad,
                          __global float *m, __global float *v, const float b1,
                          const float b2, const float eps, const float wd,
                          const float step_size, const float bc2_sqrt) {
    const size_t i = get_global_id(0);
    float g = grad[i];
    if (wd != 0.0f) g += wd * p[i];
    const float w1 = 1.0f - b1;
    /* torch's lerp for weight < 0.5: self + weight * (end - self) */
    const float mi = w1 < 0.5f ? m[i] + w1 * (g - m[i]) : g - (g - m[i]) * (1.0f - w1);
    const float vi = v[i] * b2 + g * g * (1.0f - b2);
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrt(vi) / bc2_sqrt + eps;
    p[i] = p[i] - step_size * (mi / denom);
}
