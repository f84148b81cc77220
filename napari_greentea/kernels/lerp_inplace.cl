/* torch's lerp_ (p.lerp_(end, weight)), element-wise, in place:
 * p + weight * (end - p) for weight < 0.5, end - (end - p) * (1 - weight) otherwise.
 */
__kernel void lerp_inplace(__global float *p, __global const float *end, const float weight) {
    const size_t i = get_global_id(0);
    const float d = end[i] - p[i];
    p[i] = weight < 0.5f ? p[i] + weight * d : end[i] - d * (1.0f - weight);
}
