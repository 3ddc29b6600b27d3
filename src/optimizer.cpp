#include "mnistnn/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/format.hpp"

namespace mnistnn {
namespace {

constexpr double kPi = 3.14159265358979323846;

bool in_unit_interval(double value) { return value >= 0.0 && value < 1.0; }  // [0, 1); false for NaN

// ---- fused elementwise updates over n floats (one pass over memory each) ----
// The L2 term is added to the gradient in place so callers see the gradient that was used.

// g ← g + λ·w (weights only; λ > 0).
void add_l2(float* g, const float* w, std::size_t n, float l2) {
    for (std::size_t i = 0; i < n; ++i) g[i] += l2 * w[i];
}

// v ← μ·v + g;  w ← w − α·v.
void momentum_update(float* w, const float* g, float* v, std::size_t n, float lr, float mu) {
    for (std::size_t i = 0; i < n; ++i) {
        const float vi = mu * v[i] + g[i];
        v[i] = vi;
        w[i] -= lr * vi;
    }
}

// m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w − α·(m·c1)/(√(v·c2) + ε)
// with c1 = 1/(1−β1^t), c2 = 1/(1−β2^t) (so m·c1 = m̂, v·c2 = v̂).
struct AdamScalars {
    float lr, beta1, one_minus_beta1, beta2, one_minus_beta2, c1, c2, eps;
};

// Chunked so the four arrays of a chunk stay in L1 across the three Eigen expressions (one pass over
// memory), and vectorised through Eigen's packet sqrt (std::sqrt in a plain loop is not, because of
// errno).
void adam_update(float* w, const float* g, float* m, float* v, std::size_t n, const AdamScalars& s) {
    constexpr std::size_t kChunk = 1024;
    for (std::size_t i = 0; i < n; i += kChunk) {
        const auto len = static_cast<Eigen::Index>(std::min(kChunk, n - i));
        Eigen::Map<const Eigen::ArrayXf> G(g + i, len);
        Eigen::Map<Eigen::ArrayXf> W(w + i, len), M(m + i, len), V(v + i, len);
        M = s.beta1 * M + s.one_minus_beta1 * G;
        V = s.beta2 * V + s.one_minus_beta2 * G.square();
        W -= s.lr * (M * s.c1) / ((V * s.c2).sqrt() + s.eps);
    }
}

template <class Dense>
std::size_t size_of(const Dense& x) {
    return static_cast<std::size_t>(x.size());
}

bool has_shape(const Gradients& g, int hidden) {
    const auto h = static_cast<Eigen::Index>(hidden);
    return g.dW1.rows() == h && g.dW1.cols() == kPixels && g.db1.size() == h && g.dW2.rows() == kClasses &&
           g.dW2.cols() == h && g.db2.size() == kClasses;
}

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Tensor matrix_tensor(const Eigen::MatrixXf& m) {
    Tensor t;
    t.shape = {m.rows(), m.cols()};
    t.values.resize(size_of(m));
    Eigen::Map<RowMajorMatrix>(t.values.data(), m.rows(), m.cols()) = m;
    return t;
}

Tensor vector_tensor(const Eigen::VectorXf& v) {
    Tensor t;
    t.shape = {v.size()};
    t.values.assign(v.data(), v.data() + v.size());
    return t;
}

void put_moments(std::map<std::string, Tensor>& out, const std::string& prefix, const Gradients& g) {
    out[prefix + "W1"] = matrix_tensor(g.dW1);
    out[prefix + "b1"] = vector_tensor(g.db1);
    out[prefix + "W2"] = matrix_tensor(g.dW2);
    out[prefix + "b2"] = vector_tensor(g.db2);
}

const Tensor& require(const std::map<std::string, Tensor>& tensors, const std::string& name,
                      const std::vector<std::int64_t>& shape) {
    const auto it = tensors.find(name);
    if (it == tensors.end())
        throw ModelFormatError("the model has no optimizer state tensor '" + name + "' (needed to resume)");
    if (it->second.shape != shape)
        throw ModelFormatError("optimizer state tensor '" + name + "' has the wrong shape for this model");
    for (const float value : it->second.values)
        if (!std::isfinite(value)) throw ModelFormatError("optimizer state tensor '" + name + "' is not finite");
    return it->second;
}

Gradients get_moments(const std::map<std::string, Tensor>& tensors, const std::string& prefix, int hidden) {
    const auto h = static_cast<std::int64_t>(hidden);
    const auto rows = static_cast<Eigen::Index>(hidden);
    Gradients g(hidden);
    g.dW1 = Eigen::Map<const RowMajorMatrix>(require(tensors, prefix + "W1", {h, kPixels}).values.data(), rows,
                                             kPixels);
    const Tensor& b1 = require(tensors, prefix + "b1", {h});
    g.db1 = Eigen::Map<const Eigen::VectorXf>(b1.values.data(), rows);
    g.dW2 = Eigen::Map<const RowMajorMatrix>(require(tensors, prefix + "W2", {kClasses, h}).values.data(),
                                             kClasses, rows);
    const Tensor& b2 = require(tensors, prefix + "b2", {kClasses});
    g.db2 = Eigen::Map<const Eigen::VectorXf>(b2.values.data(), kClasses);
    return g;
}

}  // namespace

std::string to_string(OptimizerKind kind) {
    switch (kind) {
        case OptimizerKind::GD: return "gd";
        case OptimizerKind::Momentum: return "momentum";
        case OptimizerKind::Adam: return "adam";
    }
    return "?";
}

OptimizerKind optimizer_from_string(const std::string& name) {
    if (name == "gd") return OptimizerKind::GD;
    if (name == "momentum") return OptimizerKind::Momentum;
    if (name == "adam") return OptimizerKind::Adam;
    throw UsageError("unknown optimizer '" + name + "' (expected gd, momentum or adam)");
}

void validate(const OptimizerSettings& s) {
    if (!in_unit_interval(s.momentum))
        throw UsageError("momentum must be in [0, 1), got " + format_number(s.momentum));
    if (!in_unit_interval(s.beta1)) throw UsageError("beta1 must be in [0, 1), got " + format_number(s.beta1));
    if (!in_unit_interval(s.beta2)) throw UsageError("beta2 must be in [0, 1), got " + format_number(s.beta2));
    if (!(s.eps > 0.0) || !std::isfinite(s.eps))
        throw UsageError("eps must be a finite number > 0, got " + format_number(s.eps));
    if (!(s.l2 >= 0.0) || !std::isfinite(s.l2))
        throw UsageError("l2 must be a finite number ≥ 0, got " + format_number(s.l2));
}

Optimizer::Optimizer(const OptimizerSettings& settings, int hidden) : settings_(settings), hidden_(hidden) {
    validate(settings_);
    if (hidden < 1) throw UsageError("hidden size must be at least 1, got " + std::to_string(hidden));
    if (settings_.kind != OptimizerKind::GD) state_.m = Gradients(hidden);
    if (settings_.kind == OptimizerKind::Adam) state_.v = Gradients(hidden);
}

void Optimizer::set_state(OptimizerState state) {
    if (state.t < 0) throw UsageError("optimizer step count must be ≥ 0, got " + std::to_string(state.t));
    const bool needs_m = settings_.kind != OptimizerKind::GD;
    const bool needs_v = settings_.kind == OptimizerKind::Adam;
    if (needs_m && !has_shape(state.m, hidden_))
        throw UsageError(to_string(settings_.kind) + " state has no moment of the parameters' shape");
    if (needs_v && !has_shape(state.v, hidden_))
        throw UsageError("adam state has no second moment of the parameters' shape");
    if (!needs_m) state.m = Gradients(0);
    if (!needs_v) state.v = Gradients(0);
    state_ = std::move(state);
}

void Optimizer::step(Params& params, Gradients& grads, float lr) {
    if (!has_shape(grads, hidden_) || params.hidden() != hidden_)
        throw UsageError("optimizer built for " + std::to_string(hidden_) + " hidden units got other shapes");
    const auto l2 = static_cast<float>(settings_.l2);
    if (settings_.l2 > 0.0) {
        add_l2(grads.dW1.data(), params.W1.data(), size_of(params.W1), l2);
        add_l2(grads.dW2.data(), params.W2.data(), size_of(params.W2), l2);
    }
    ++state_.t;
    switch (settings_.kind) {
        case OptimizerKind::GD:
            // Exactly the original full-batch update (same Eigen expressions, same rounding).
            params.W1.noalias() -= lr * grads.dW1;
            params.b1.noalias() -= lr * grads.db1;
            params.W2.noalias() -= lr * grads.dW2;
            params.b2.noalias() -= lr * grads.db2;
            break;
        case OptimizerKind::Momentum: {
            const auto mu = static_cast<float>(settings_.momentum);
            Gradients& v = state_.m;
            momentum_update(params.W1.data(), grads.dW1.data(), v.dW1.data(), size_of(params.W1), lr, mu);
            momentum_update(params.b1.data(), grads.db1.data(), v.db1.data(), size_of(params.b1), lr, mu);
            momentum_update(params.W2.data(), grads.dW2.data(), v.dW2.data(), size_of(params.W2), lr, mu);
            momentum_update(params.b2.data(), grads.db2.data(), v.db2.data(), size_of(params.b2), lr, mu);
            break;
        }
        case OptimizerKind::Adam: {
            const double t = static_cast<double>(state_.t);
            const AdamScalars s{lr,
                                static_cast<float>(settings_.beta1),
                                static_cast<float>(1.0 - settings_.beta1),
                                static_cast<float>(settings_.beta2),
                                static_cast<float>(1.0 - settings_.beta2),
                                static_cast<float>(1.0 / (1.0 - std::pow(settings_.beta1, t))),
                                static_cast<float>(1.0 / (1.0 - std::pow(settings_.beta2, t))),
                                static_cast<float>(settings_.eps)};
            Gradients& m = state_.m;
            Gradients& v = state_.v;
            adam_update(params.W1.data(), grads.dW1.data(), m.dW1.data(), v.dW1.data(), size_of(params.W1), s);
            adam_update(params.b1.data(), grads.db1.data(), m.db1.data(), v.db1.data(), size_of(params.b1), s);
            adam_update(params.W2.data(), grads.dW2.data(), m.dW2.data(), v.dW2.data(), size_of(params.W2), s);
            adam_update(params.b2.data(), grads.db2.data(), m.db2.data(), v.db2.data(), size_of(params.b2), s);
            break;
        }
    }
}

std::map<std::string, Tensor> optimizer_state_tensors(OptimizerKind kind, const OptimizerState& state) {
    std::map<std::string, Tensor> out;
    if (kind == OptimizerKind::Momentum) put_moments(out, "opt.v.", state.m);
    if (kind == OptimizerKind::Adam) {
        put_moments(out, "opt.m.", state.m);
        put_moments(out, "opt.v.", state.v);
    }
    return out;
}

OptimizerState optimizer_state_from_tensors(OptimizerKind kind, int hidden,
                                            const std::map<std::string, Tensor>& tensors, std::int64_t t) {
    if (t < 0) throw ModelFormatError("the model's optimizer step count is negative");
    OptimizerState state;
    state.t = t;
    state.m = Gradients(0);
    state.v = Gradients(0);
    if (kind == OptimizerKind::Momentum) state.m = get_moments(tensors, "opt.v.", hidden);
    if (kind == OptimizerKind::Adam) {
        state.m = get_moments(tensors, "opt.m.", hidden);
        state.v = get_moments(tensors, "opt.v.", hidden);
    }
    return state;
}

// ---- learning-rate schedules ----

std::string to_string(LrDecay decay) {
    switch (decay) {
        case LrDecay::None: return "none";
        case LrDecay::Step: return "step";
        case LrDecay::Cosine: return "cosine";
    }
    return "?";
}

LrDecay lr_decay_from_string(const std::string& name) {
    if (name == "none") return LrDecay::None;
    if (name == "step") return LrDecay::Step;
    if (name == "cosine") return LrDecay::Cosine;
    throw UsageError("unknown learning-rate decay '" + name + "' (expected none, step or cosine)");
}

void LrSchedule::validate() const {
    if (!(alpha > 0.0) || !std::isfinite(alpha))
        throw UsageError("alpha must be a positive finite number, got " + format_number(alpha));
    if (decay == LrDecay::Step) {
        if (step_every < 1)
            throw UsageError("step decay needs the number of steps between decays (≥ 1), got " +
                             std::to_string(step_every));
        if (!(gamma > 0.0 && gamma <= 1.0))
            throw UsageError("the step-decay factor must be in (0, 1], got " + format_number(gamma));
    }
    if (decay == LrDecay::Cosine && total_steps < 1)
        throw UsageError("cosine decay needs a total step count ≥ 1, got " + std::to_string(total_steps));
}

double LrSchedule::rate(std::int64_t step) const {
    switch (decay) {
        case LrDecay::None: return alpha;
        case LrDecay::Step: return alpha * std::pow(gamma, static_cast<double>(step / step_every));
        case LrDecay::Cosine: {
            const double s = static_cast<double>(std::min(std::max<std::int64_t>(step, 0), total_steps));
            return alpha * 0.5 * (1.0 + std::cos(kPi * s / static_cast<double>(total_steps)));
        }
    }
    return alpha;
}

}  // namespace mnistnn
