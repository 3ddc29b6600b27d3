#pragma once
// Parameter updates (plain gradient descent, momentum, Adam), L2 weight decay and learning-rate
// schedules. Math only: no I/O beyond turning optimizer state into named tensors and back.
#include <cstdint>
#include <map>
#include <string>

#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"

namespace mnistnn {

enum class OptimizerKind { GD, Momentum, Adam };

std::string to_string(OptimizerKind kind);
// Throws UsageError for anything but "gd" / "momentum" / "adam".
OptimizerKind optimizer_from_string(const std::string& name);

struct OptimizerSettings {
    OptimizerKind kind = OptimizerKind::GD;
    double momentum = 0.9;  // μ, momentum only; 0 ≤ μ < 1
    double beta1 = 0.9;     // Adam only; 0 ≤ β1 < 1
    double beta2 = 0.999;   // Adam only; 0 ≤ β2 < 1
    double eps = 1e-8;      // Adam only; finite, > 0
    double l2 = 0.0;        // λ ≥ 0, finite: weight decay on W1 and W2 (never on biases)
};

// Throws UsageError naming the first out-of-range setting.
void validate(const OptimizerSettings& settings);

// Everything an optimizer carries from one update to the next (what --resume saves).
// The moments have the parameters' shapes (Gradients' fields, same names).
struct OptimizerState {
    std::int64_t t = 0;  // updates applied so far
    Gradients m = Gradients(0);  // momentum: the velocity v;  Adam: the first moment m;  GD: empty
    Gradients v = Gradients(0);  // Adam: the second moment v;  otherwise empty
};

// Applies one update per step() call. With g the gradient of the mean cross-entropy (from
// BatchEngine::gradients) and λ = l2, every weight matrix W ∈ {W1, W2} first gets the L2 term
//     g_W ← g_W + λ·W            (biases: g_b unchanged)
// — the gradient of CE + (λ/2)(‖W1‖² + ‖W2‖²); with Adam this is coupled L2, not AdamW — then,
// for every parameter P with (modified) gradient g, elementwise, at learning rate α:
//   gd:        P ← P − α·g
//   momentum:  v ← μ·v + g;  P ← P − α·v          (the "heavy ball" form PyTorch's SGD uses:
//                                                   v accumulates raw gradients, α applied after)
//   adam:      t ← t + 1;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
//              m̂ = m/(1−β1^t);  v̂ = v/(1−β2^t);  P ← P − α·m̂/(√v̂ + ε)
// (t counts updates for every kind.) Arithmetic is float per element; the bias-correction factors
// are computed in double once per step. No allocation after construction.
class Optimizer {
public:
    // Zero state (t = 0, moments 0) for parameters with `hidden` units. Validates `settings`.
    Optimizer(const OptimizerSettings& settings, int hidden);

    // One update with learning rate `lr` > 0. `grads` must have the parameters' shapes; it is
    // left as the gradient actually used (with the L2 term when λ > 0).
    void step(Params& params, Gradients& grads, float lr);

    const OptimizerSettings& settings() const { return settings_; }
    const OptimizerState& state() const { return state_; }
    // Replaces the state (e.g. from a saved model). Throws UsageError if the moments' presence or
    // shapes do not fit this optimizer's kind and hidden size, or t < 0.
    void set_state(OptimizerState state);

private:
    OptimizerSettings settings_;
    int hidden_ = 0;
    OptimizerState state_;
};

// The state as named F32 tensors, each with its parameter's file shape ([H,784], [H], [10,H], [10],
// row-major as in the model file): momentum → "opt.v.W1", "opt.v.b1", "opt.v.W2", "opt.v.b2";
// Adam → those of the second moment plus "opt.m.W1" … for the first; GD → none. t is not a tensor
// (the trainer records it in the metadata).
std::map<std::string, Tensor> optimizer_state_tensors(OptimizerKind kind, const OptimizerState& state);

// The inverse: reads exactly the tensors `kind` needs from `tensors` (other names are ignored) and
// sets t. Throws ModelFormatError when one is missing, misshapen or not finite.
OptimizerState optimizer_state_from_tensors(OptimizerKind kind, int hidden,
                                            const std::map<std::string, Tensor>& tensors, std::int64_t t);

// ---- learning-rate schedules -----------------------------------------------------------------

enum class LrDecay { None, Step, Cosine };

std::string to_string(LrDecay decay);
// Throws UsageError for anything but "none" / "step" / "cosine".
LrDecay lr_decay_from_string(const std::string& name);

// The learning rate at (0-based) update s, for base rate α:
//   none:    α
//   step:    α·γ^⌊s/N⌋                       (N = step_every ≥ 1, 0 < γ ≤ 1)
//   cosine:  α·½·(1 + cos(π·min(s, T)/T))     (T = total_steps ≥ 1: α at s = 0, → 0 at s = T)
struct LrSchedule {
    double alpha = 0.1;
    LrDecay decay = LrDecay::None;
    std::int64_t step_every = 0;   // step only
    double gamma = 0.1;            // step only
    std::int64_t total_steps = 0;  // cosine only

    // Throws UsageError when a field the decay uses is out of range.
    void validate() const;
    double rate(std::int64_t step) const;
};

}  // namespace mnistnn
