/* torch.optim.SGD with momentum (dampening 0, no Nesterov), in place.
 *
 * g += wd * p; buf = first ? g : momentum * buf + g; p -= lr * buf.
 */
__kernel void sgd_update(__global float *p, __global const float *grad,
                         __global float *buf, const float lr, const float momentum,
                         const float wd, const int first) {
    const size_t i = get_global_id(0);
    float g = grad[i];
    if (wd != 0.0f) g += wd * p[i];
    float b = g;
    if (momentum != 0.0f) {
        b = first ? g : momentum * buf[i] + g;
        buf[i] = b;
    }
    p[i] -= lr * b;
}
