# Mirrors csrc/cmlp.h line for line (see the contracts there); all nogil.
from libc.stdint cimport int64_t

cdef extern from "cmlp.h" nogil:
    enum:
        CMLP_IDENTITY
        CMLP_SIGMOID
        CMLP_TANH
        CMLP_RELU
        CMLP_LEAKY_RELU
        CMLP_ELU
        CMLP_SOFTMAX
        CMLP_N_ACT
    enum:
        CMLP_TSE
        CMLP_MSE
        CMLP_CROSS_ENTROPY
        CMLP_N_LOSS
    enum:
        CMLP_OK
        CMLP_NONFINITE
    enum:
        CMLP_BLOCK

    ctypedef struct cmlp_arch:
        Py_ssize_t n_layers
        const Py_ssize_t *sizes
        const int *acts
        int loss

    int cmlp_isa_available(int isa)
    int cmlp_get_isa()
    int cmlp_set_isa(int isa)
    const char *cmlp_isa_name(int isa)

    Py_ssize_t cmlp_param_count(const cmlp_arch *arch)
    Py_ssize_t cmlp_max_width(const cmlp_arch *arch)
    Py_ssize_t cmlp_sgd_work_size(const cmlp_arch *arch)
    Py_ssize_t cmlp_forward_work_size(const cmlp_arch *arch)
    Py_ssize_t cmlp_gradient_work_size(const cmlp_arch *arch)

    void act_forward_f64(double *a, Py_ssize_t B, Py_ssize_t O, int act)
    void act_forward_f32(float *a, Py_ssize_t B, Py_ssize_t O, int act)
    void act_backward_f64(double *d, const double *a, Py_ssize_t n, int act)
    void act_backward_f32(float *d, const float *a, Py_ssize_t n, int act)

    void dense_forward_f64(double *a, const double *x, const double *W, const double *b,
                           Py_ssize_t B, Py_ssize_t I, Py_ssize_t O, int act)
    void dense_forward_f32(float *a, const float *x, const float *W, const float *b,
                           Py_ssize_t B, Py_ssize_t I, Py_ssize_t O, int act)
    void dense_backward_f64(double *dx, double *dW, double *db, const double *dz, const double *x,
                            const double *W, Py_ssize_t B, Py_ssize_t I, Py_ssize_t O, int act_x)
    void dense_backward_f32(float *dx, float *dW, float *db, const float *dz, const float *x,
                            const float *W, Py_ssize_t B, Py_ssize_t I, Py_ssize_t O, int act_x)
    void dense_backward_sgd_f64(double *dx, double *W, double *b, const double *s, const double *x,
                                double lr, Py_ssize_t I, Py_ssize_t O, int act_x)
    void dense_backward_sgd_f32(float *dx, float *W, float *b, const float *s, const float *x,
                                float lr, Py_ssize_t I, Py_ssize_t O, int act_x)

    double loss_forward_f64(const double *y, const double *t, Py_ssize_t B, Py_ssize_t K,
                            int loss, int out_act)
    double loss_forward_f32(const float *y, const float *t, Py_ssize_t B, Py_ssize_t K,
                            int loss, int out_act)
    void output_delta_f64(double *S, const double *y, const double *t, Py_ssize_t B,
                          Py_ssize_t K, int loss, int out_act)
    void output_delta_f32(float *S, const float *y, const float *t, Py_ssize_t B,
                          Py_ssize_t K, int loss, int out_act)

    void sgd_update_f64(double *p, const double *g, double lr, Py_ssize_t P)
    void sgd_update_f32(float *p, const float *g, float lr, Py_ssize_t P)

    void net_forward_f64(double *Y, double *work, const double *params, const double *X,
                         Py_ssize_t N, const cmlp_arch *arch)
    void net_forward_f32(float *Y, float *work, const float *params, const float *X,
                         Py_ssize_t N, const cmlp_arch *arch)
    double net_loss_f64(double *work, const double *params, const double *X, const double *T,
                        Py_ssize_t N, const cmlp_arch *arch)
    double net_loss_f32(float *work, const float *params, const float *X, const float *T,
                        Py_ssize_t N, const cmlp_arch *arch)
    double net_gradients_f64(double *grad, double *work, const double *params, const double *X,
                             const double *T, Py_ssize_t N, const cmlp_arch *arch)
    double net_gradients_f32(float *grad, float *work, const float *params, const float *X,
                             const float *T, Py_ssize_t N, const cmlp_arch *arch)
    int sgd_epoch_f64(double *params, double *work, const double *X, const double *T,
                      const int64_t *perm, Py_ssize_t n, const cmlp_arch *arch, double lr,
                      int stop_nonfinite, Py_ssize_t *done, double *loss_sum)
    int sgd_epoch_f32(float *params, float *work, const float *X, const float *T,
                      const int64_t *perm, Py_ssize_t n, const cmlp_arch *arch, float lr,
                      int stop_nonfinite, Py_ssize_t *done, double *loss_sum)
