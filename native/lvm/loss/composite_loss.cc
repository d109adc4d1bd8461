// The fused composite loss: one autograd node (torch::autograd::Function) for the whole of
//   total = info*InfoNCE + moment*Moment + variance*Variance + mse*MSE + cosMse*CosMSE
// whose backward is written out by hand from what the forward saved (the two softmaxes folded into one matrix, the
// normalised rows and their norms, the batch means and stds), instead of ~40 autograd nodes of small ops.
//
// With P = pred_raw, T = target ([B, D]), p = P / max(|P|, eps) and t likewise (F.normalize, eps 1e-12),
// S = p t^T / tau, R = softmax(S, 1), C = softmax(S, 0):
//   InfoNCE  = CE(S, diag) + CE(S^T, diag) = -(tr log R + tr log C) / B       dS = (R + C - 2I) / B
//   Moment   = mean_d (mean0 P - mean0 T)^2 + mean_d (std0 P - std0 T)^2       (std unbiased, over the batch)
//   Variance = mean_d relu(1 - std0 p)
//   MSE      = mean (P - T)^2;  CosMSE = mean (p - t)^2;  cosine (a diagnostic) = mean_i p_i . t_i
//   Document = CE(p c^T / tau masked, positive)                               dS = (softmax - onehot) / B
// where c are the candidates (Candidates: the sentences of the batch's documents, data without a gradient) and
// the mask leaves out each row's context and every copy of its target but the target itself.
// and the chain rule through the normalisation, d/dx (x / max(|x|, eps)) g = (g - [|x| >= eps] (g . x^) x^) /
// max(|x|, eps). Each derivative follows PyTorch's own conventions at its corners, so this equals autograd through
// the unfused ops: std's gradient is 0 where the std is 0 (identical rows), relu's is 0 at 0, a zero row gets
// g / eps as through F.normalize's clamp_min.
//
// Everything is ATen ops, so the same code runs on CUDA tensors; a fused CUDA kernel (one pass over the [B, B]
// logits for both softmaxes) is left for when a GPU can test it.
#include "composite_loss.h"

#include <torch/csrc/autograd/custom_function.h>

#include "../../torch/normalize.h"
#include "../../torch/shape.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace lvm::loss {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// x / max(|x|, eps) row by row, and the norms (kept for the backward).
std::pair<at::Tensor, at::Tensor> normalizeRows(const at::Tensor& x) {
  at::Tensor norm = x.norm(2, 1, true);
  return {x / norm.clamp_min(kNormalizeEps), norm};
}

// The gradient through normalizeRows: (g - [|x| >= eps] (g . xh) xh) / max(|x|, eps), as autograd gives it through
// F.normalize (clamp_min passes the gradient where |x| >= eps, and nothing to the norm of a row below it).
at::Tensor normalizeBackward(const at::Tensor& norm, const at::Tensor& xh, const at::Tensor& g) {
  at::Tensor dot = (xh * g).sum(1, true).masked_fill_(norm < kNormalizeEps, 0);
  return at::addcmul(g, xh, dot, -1).div_(norm.clamp_min(kNormalizeEps));
}

// Column means, the centred rows and the unbiased std over the batch (B >= 2). at::std_mean over dim 0 of a [B, D]
// matrix takes ~40x longer here (libtorch 1.13 CPU, one thread) than these few passes. The rows are first shifted
// by row 0, so that a constant column centres to exact zeros and gets a std of exactly 0, as PyTorch's (Welford)
// std gives it: its gradient is then masked as PyTorch masks it. (A plain x - mean(x) can leave rounding crumbs.)
struct Moments {
  at::Tensor mean, centered, std;
};

Moments moments(const at::Tensor& x) {
  Moments m;
  at::Tensor first = x.select(0, 0);
  at::Tensor shifted = x - first;
  at::Tensor shiftedMean = shifted.mean(0);
  m.mean = shiftedMean + first;
  m.centered = shifted.sub_(shiftedMean);
  m.std = m.centered.square().sum(0).div_(static_cast<double>(x.size(0) - 1)).sqrt_();
  return m;
}

// d std0(x) / dx, applied: x's rows minus their mean, times coef / ((B - 1) std) per column; 0 where std is 0
// (PyTorch's std_backward masks those columns).
at::Tensor stdBackward(const at::Tensor& centered, const at::Tensor& std, const at::Tensor& coef) {
  const double bm1 = static_cast<double>(centered.size(0) - 1);
  return centered * (coef / (std * bm1)).masked_fill_(std == 0, 0);
}

// The symmetric InfoNCE over logits S = ph th^T / tau: CE(S, diag) + CE(S^T, diag) = mean_i (lse_row_i - S_ii) +
// mean_j (lse_col_j - S_jj), the mean cosine (tau * mean S_ii), and with `withG` dInfo/dS * B = R + C - 2I where R
// and C are the softmaxes of S along rows and columns. The softmaxes are taken as exp(S - shift) / sum: libtorch
// 1.13's CPU log_softmax of a [1024, 1024] matrix takes ~10 ms on one thread, these passes ~2 ms.
struct InfoNce {
  at::Tensor info, cosine, G;
};

InfoNce infoNce(const at::Tensor& ph, const at::Tensor& th, double tau, bool withG) {
  const double b = static_cast<double>(ph.size(0));
  InfoNce out;
  // Every |S_ij| <= 1 / tau (unit rows). While exp(-2 / tau) is a normal number of the dtype, one shift of 1/tau
  // serves every row and column: each exp(S - 1/tau) lies in [exp(-2/tau), 1], so no row or column loses its
  // largest entries to underflow. The GEMM subtracts the shift (beta 1 over a -1/tau scalar) and one exp serves
  // both softmaxes. Smaller tau takes the usual per-row and per-column maxima.
  const at::ScalarType type = ph.scalar_type();
  const double maxShift = type == at::kDouble ? 700 : type == at::kHalf ? 9 : 80;  // exp(-maxShift) stays normal
  if (2 / tau <= maxShift) {
    at::Tensor e = at::addmm(at::full({}, -1 / tau, ph.options()), ph, th.t(), 1, 1 / tau);  // S - 1/tau
    at::Tensor diagSum = e.diagonal().sum();                                                  // sum S_ii - B/tau
    e.exp_();
    at::Tensor rowSum = e.sum(1, true), colSum = e.sum(0, true);
    out.info = (rowSum.log().sum() + colSum.log().sum() - 2 * diagSum).div_(b);
    out.cosine = diagSum.mul(tau / b).add_(1);
    if (withG) {
      out.G = e * rowSum.reciprocal();
      out.G.addcmul_(e, colSum.reciprocal());
    }
  } else {
    at::Tensor logits = at::addmm(at::zeros({}, ph.options()), ph, th.t(), 0, 1 / tau);  // beta 0: 0-d never read
    at::Tensor diagSum = logits.diagonal().sum();
    at::Tensor rowMax = logits.amax(1, true), colMax = logits.amax(0, true);
    at::Tensor eR = (logits - rowMax).exp_(), eC = (logits - colMax).exp_();
    at::Tensor rowSum = eR.sum(1, true), colSum = eC.sum(0, true);
    out.info = (rowSum.log().add_(rowMax).sum() + colSum.log().add_(colMax).sum() - 2 * diagSum).div_(b);
    out.cosine = diagSum.mul(tau / b);
    if (withG) out.G = eR.div_(rowSum).add_(eC.div_(colSum));
  }
  if (withG) out.G.diagonal().sub_(2);
  return out;
}

// The document term: each row's prediction ranked by softmax against the candidates, its context and any other
// copy of its target (a sentence repeated in the document, cosine >= 1 - 1e-6) masked, so that the loss asks for
// what in-document retrieval scores: the true next sentence above the document's other sentences.
struct DocumentNce {
  at::Tensor loss, ch, G;  // G = softmax - onehot ([B, M]); dLoss/dS = G / B
};

DocumentNce documentNce(const at::Tensor& ph, const Candidates& c, double tau, bool withG) {
  const int64_t M = c.vectors.size(0);
  DocumentNce out;
  out.ch = normalizeRows(c.vectors).first;
  at::Tensor positive = c.positive.unsqueeze(1);
  at::Tensor logits = at::mm(ph, out.ch.t()).div_(tau);
  // A -1 context position lands in a spare column M, cut off after the scatter.
  at::Tensor mask = at::zeros({ph.size(0), M + 1}, ph.options().dtype(at::kBool));
  mask.scatter_(1, at::where(c.context >= 0, c.context, at::full({}, M, c.context.options())), true);
  mask = mask.narrow(1, 0, M);
  mask.logical_or_(at::mm(out.ch.index_select(0, c.positive), out.ch.t()) >= 1 - 1e-6);
  mask.scatter_(1, positive, false);
  logits.masked_fill_(mask, -std::numeric_limits<double>::infinity());
  at::Tensor lse = logits.logsumexp(1, true);
  out.loss = (lse - logits.gather(1, positive)).mean();
  if (withG) {
    out.G = logits.sub_(lse).exp_();
    out.G.scatter_add_(1, positive, at::full({positive.size(0), 1}, -1, out.G.options()));
  }
  return out;
}

void addTo(at::Tensor& acc, const at::Tensor& term) {
  if (acc.defined()) acc.add_(term);
  else acc = term;
}

double getDouble(AutogradContext* ctx, const char* key) { return ctx->saved_data[key].toDouble(); }
at::Tensor getTensor(AutogradContext* ctx, const char* key) { return ctx->saved_data[key].toTensor(); }

class CompositeLossFunction : public torch::autograd::Function<CompositeLossFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& pred, const at::Tensor& target,
                            const CompositeWeights& w, bool needGrad, std::array<double, kComponents>* values,
                            const Candidates* candidates) {
    const int64_t B = pred.size(0);
    auto [ph, normP] = normalizeRows(pred);
    auto [th, normT] = normalizeRows(target);

    InfoNce nce = infoNce(ph, th, w.tau, needGrad && w.info != 0);
    at::Tensor info = nce.info, cosine = nce.cosine;

    Moments mP, mT, mH;
    at::Tensor moment, variance;
    if (B >= 2) {
      mP = moments(pred);
      mT = moments(target);
      mH = moments(ph);
      moment = (mP.mean - mT.mean).square_().mean() + (mP.std - mT.std).square_().mean();
      variance = at::relu(1 - mH.std).mean();
    } else {  // one row: no std (PyTorch gives NaN); compositeLoss() refuses these terms weighted
      moment = at::full({}, kNaN, pred.options());
      variance = moment;
    }
    at::Tensor mse = at::mse_loss(pred, target);
    at::Tensor cosMse = at::mse_loss(ph, th);
    DocumentNce doc;
    at::Tensor document;
    if (candidates) {
      doc = documentNce(ph, *candidates, w.tau, needGrad && w.document != 0);
      document = doc.loss;
    } else {  // no candidates: compositeLoss() refuses the term weighted
      document = at::full({}, kNaN, pred.options());
    }

    at::Tensor total = at::zeros({}, pred.options());
    const std::pair<double, const at::Tensor*> terms[] = {
        {w.info, &info}, {w.moment, &moment}, {w.variance, &variance}, {w.mse, &mse}, {w.cosMse, &cosMse},
        {w.document, &document}};
    for (const auto& [weight, term] : terms) {
      if (weight != 0) total.add_(*term, weight);
    }

    at::Tensor all = at::stack({total, info, moment, variance, mse, cosMse, document, cosine}).to(at::kDouble).cpu();
    const double* v = all.data_ptr<double>();
    std::copy(v, v + kComponents, values->begin());

    if (needGrad) {
      ctx->save_for_backward({pred, target});
      auto& d = ctx->saved_data;
      d["tau"] = w.tau;
      d["info"] = w.info;
      d["moment"] = w.moment;
      d["variance"] = w.variance;
      d["mse"] = w.mse;
      d["cosMse"] = w.cosMse;
      d["document"] = w.document;
      d["ph"] = ph;
      d["th"] = th;
      d["normP"] = normP;
      d["normT"] = normT;
      if (w.info != 0) d["G"] = nce.G;
      if (w.document != 0) {
        d["docG"] = doc.G;
        d["docC"] = doc.ch;
      }
      if (w.moment != 0) {
        d["meanP"] = mP.mean;
        d["centeredP"] = mP.centered;
        d["stdP"] = mP.std;
        d["meanT"] = mT.mean;
        d["centeredT"] = mT.centered;
        d["stdT"] = mT.std;
      }
      if (w.variance != 0) {
        d["centeredH"] = mH.centered;
        d["stdH"] = mH.std;
      }
    }
    return total;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    variable_list out(6);  // one per forward argument: pred, target, weights, needGrad, values, candidates
    const at::Tensor& upstream = grads[0];
    if (!upstream.defined()) return out;
    variable_list saved = ctx->get_saved_variables();
    const at::Tensor& pred = saved[0];
    const at::Tensor& target = saved[1];
    const int64_t B = pred.size(0), D = pred.size(1);
    const double b = static_cast<double>(B), bd = b * static_cast<double>(D);
    const double tau = getDouble(ctx, "tau"), wInfo = getDouble(ctx, "info"), wMoment = getDouble(ctx, "moment"),
                 wVariance = getDouble(ctx, "variance"), wMse = getDouble(ctx, "mse"),
                 wCosMse = getDouble(ctx, "cosMse"), wDocument = getDouble(ctx, "document");
    at::Tensor ph = getTensor(ctx, "ph"), th = getTensor(ctx, "th");
    at::Tensor G = wInfo != 0 ? getTensor(ctx, "G") : at::Tensor();
    const double infoScale = wInfo / (b * tau);

    // Moment: d/dmean = 2 (meanP - meanT) / D spread over the rows (/B), d/dstd = 2 (stdP - stdT) / D.
    at::Tensor dMean, dStd;
    if (wMoment != 0) {
      dMean = (getTensor(ctx, "meanP") - getTensor(ctx, "meanT")).mul_(2 * wMoment / (static_cast<double>(D) * b));
      dStd = (getTensor(ctx, "stdP") - getTensor(ctx, "stdT")).mul_(2 * wMoment / static_cast<double>(D));
    }

    if (ctx->needs_input_grad(0)) {
      at::Tensor gh;  // d/d(pred_cos)
      if (wCosMse != 0) gh = (ph - th).mul_(2 * wCosMse / bd);
      if (wVariance != 0) {
        at::Tensor stdH = getTensor(ctx, "stdH");
        // relu(1 - std)' is -1 where 1 - std > 0, else 0 (PyTorch's threshold_backward).
        at::Tensor coef = at::full_like(stdH, -wVariance / static_cast<double>(D)).masked_fill_(stdH >= 1, 0);
        addTo(gh, stdBackward(getTensor(ctx, "centeredH"), stdH, coef));
      }
      if (wInfo != 0) gh = gh.defined() ? at::addmm(gh, G, th, 1, infoScale) : at::mm(G, th).mul_(infoScale);
      if (wDocument != 0) {
        at::Tensor docG = getTensor(ctx, "docG"), docC = getTensor(ctx, "docC");
        const double scale = wDocument / (b * tau);
        gh = gh.defined() ? at::addmm(gh, docG, docC, 1, scale) : at::mm(docG, docC).mul_(scale);
      }
      at::Tensor gp = gh.defined() ? normalizeBackward(getTensor(ctx, "normP"), ph, gh) : at::Tensor();
      if (wMoment != 0) {
        addTo(gp, stdBackward(getTensor(ctx, "centeredP"), getTensor(ctx, "stdP"), dStd).add_(dMean));
      }
      if (wMse != 0) addTo(gp, (pred - target).mul_(2 * wMse / bd));
      out[0] = gp.defined() ? gp.mul_(upstream) : at::zeros_like(pred);
    }

    if (ctx->needs_input_grad(1)) {
      at::Tensor gh;  // d/d(target_cos)
      if (wCosMse != 0) gh = (th - ph).mul_(2 * wCosMse / bd);
      if (wInfo != 0) gh = gh.defined() ? at::addmm(gh, G.t(), ph, 1, infoScale) : at::mm(G.t(), ph).mul_(infoScale);
      at::Tensor gt = gh.defined() ? normalizeBackward(getTensor(ctx, "normT"), th, gh) : at::Tensor();
      if (wMoment != 0) {
        addTo(gt, stdBackward(getTensor(ctx, "centeredT"), getTensor(ctx, "stdT"), dStd.neg()).sub_(dMean));
      }
      if (wMse != 0) addTo(gt, (target - pred).mul_(2 * wMse / bd));
      out[1] = gt.defined() ? gt.mul_(upstream) : at::zeros_like(target);
    }
    return out;
  }
};


void checkWeight(const char* name, double value) {
  if (!std::isfinite(value) || value < 0) {
    throw std::invalid_argument(std::string("compositeLoss: weight ") + name + " must be a finite number >= 0, got " +
                                std::to_string(value));
  }
}

// "pred_raw has 2 NaN and 1 infinite elements, the first at [3, 17]", or "" when all are finite.
std::string nonFinite(const at::Tensor& t, const char* name) {
  at::Tensor bad = at::logical_not(at::isfinite(t));
  int64_t count = bad.sum().item<int64_t>();
  if (count == 0) return "";
  int64_t nan = at::isnan(t).sum().item<int64_t>();
  at::Tensor first = at::nonzero(bad)[0].cpu();
  return std::string(name) + " has " + std::to_string(nan) + " NaN and " + std::to_string(count - nan) +
         " infinite elements, the first at [" + std::to_string(first[0].item<int64_t>()) + ", " +
         std::to_string(first[1].item<int64_t>()) + "]";
}

}  // namespace

// Candidates that fit pred ([B, D]): vectors [M, D] of pred's dtype and device, positive [B] and context [B, T]
// int64 rows of vectors (context -1 where absent).
void checkCandidates(const Candidates& c, const at::Tensor& pred) {
  const int64_t B = pred.size(0), D = pred.size(1);
  const at::Tensor& v = c.vectors;
  if (v.dim() != 2 || v.size(0) < 1 || v.size(1) != D) {
    throw std::invalid_argument("compositeLoss: the candidates must be [M, " + std::to_string(D) + "] with M >= 1, got " +
                                shapeOf(v));
  }
  if (v.scalar_type() != pred.scalar_type() || v.device() != pred.device()) {
    throw std::invalid_argument(std::string("compositeLoss: the candidates must be ") + c10::toString(pred.scalar_type()) +
                                " on " + pred.device().str() + " as pred_raw, got " + c10::toString(v.scalar_type()) +
                                " on " + v.device().str());
  }
  const int64_t M = v.size(0);
  auto checkIndex = [&](const at::Tensor& t, const char* name, bool is1d, int64_t lowest) {
    if (t.scalar_type() != at::kLong || t.device() != pred.device() || t.dim() != (is1d ? 1 : 2) || t.size(0) != B) {
      throw std::invalid_argument(std::string("compositeLoss: the candidates' ") + name + " must be int64 " +
                                  (is1d ? "[B]" : "[B, T]") + " with B = " + std::to_string(B) + " on " +
                                  pred.device().str() + ", got " + c10::toString(t.scalar_type()) + " " + shapeOf(t));
    }
    if (t.numel() > 0 && (t.min().item<int64_t>() < lowest || t.max().item<int64_t>() >= M)) {
      throw std::invalid_argument(std::string("compositeLoss: the candidates' ") + name + " must lie in [" +
                                  std::to_string(lowest) + ", " + std::to_string(M) + "), got [" +
                                  std::to_string(t.min().item<int64_t>()) + ", " + std::to_string(t.max().item<int64_t>()) + "]");
    }
  };
  checkIndex(c.positive, "positive", true, 0);
  checkIndex(c.context, "context", false, -1);
}

CompositeLoss compositeLoss(const at::Tensor& pred, const at::Tensor& target, const CompositeWeights& w,
                            bool checkFinite, const Candidates* candidates) {
  if (pred.dim() != 2 || pred.size(0) < 1 || pred.size(1) < 1) {
    throw std::invalid_argument("compositeLoss: pred_raw must be [B, D] with B, D >= 1, got " + shapeOf(pred));
  }
  if (!target.sizes().equals(pred.sizes())) {
    throw std::invalid_argument("compositeLoss: target must have pred_raw's shape " + shapeOf(pred) + ", got " +
                                shapeOf(target));
  }
  if (!at::isFloatingType(pred.scalar_type()) || target.scalar_type() != pred.scalar_type()) {
    throw std::invalid_argument(std::string("compositeLoss: pred_raw and target must share one floating dtype, got ") +
                                c10::toString(pred.scalar_type()) + " and " + c10::toString(target.scalar_type()));
  }
  if (target.device() != pred.device()) {
    throw std::invalid_argument("compositeLoss: pred_raw is on " + pred.device().str() + ", target on " +
                                target.device().str());
  }
  if (!std::isfinite(w.tau) || w.tau <= 0) {
    throw std::invalid_argument("compositeLoss: tau must be a finite number > 0, got " + std::to_string(w.tau));
  }
  checkWeight("info", w.info);
  checkWeight("moment", w.moment);
  checkWeight("variance", w.variance);
  checkWeight("mse", w.mse);
  checkWeight("cosMse", w.cosMse);
  checkWeight("document", w.document);
  if (w.document != 0 && !candidates) {
    throw std::invalid_argument("compositeLoss: the document term (weight " + std::to_string(w.document) +
                                ") ranks each row against candidates, and none were given");
  }
  if (candidates) checkCandidates(*candidates, pred);
  if (pred.size(0) == 1 && (w.moment != 0 || w.variance != 0)) {
    throw std::invalid_argument(
        "compositeLoss: the moment and variance terms need a batch of at least 2 rows (they use the unbiased std "
        "over the batch, undefined for one row: PyTorch gives NaN); got a batch of 1 with moment weight " +
        std::to_string(w.moment) + " and variance weight " + std::to_string(w.variance));
  }

  bool needGrad = at::GradMode::is_enabled() && (pred.requires_grad() || target.requires_grad());
  CompositeLoss out;
  out.total = CompositeLossFunction::apply(pred, target, w, needGrad, &out.values, candidates);

  if (checkFinite) {
    // mse reads every element of both inputs, so a NaN or an infinity in either makes it non-finite.
    if (!std::isfinite(out.values[kMse])) {
      std::string why = nonFinite(pred, "pred_raw");
      std::string whyT = nonFinite(target, "target");
      if (!whyT.empty()) why += (why.empty() ? "" : "; ") + whyT;
      if (!why.empty()) throw NonFiniteLoss("compositeLoss: the inputs are not finite: " + why);
    }
    if (!std::isfinite(out.values[kTotal])) {
      std::string parts;
      for (int i = kInfo; i < kComponents; ++i) {
        parts += std::string(i == kInfo ? "" : ", ") + kComponentNames[i] + " " + std::to_string(out.values[i]);
      }
      throw NonFiniteLoss("compositeLoss: the loss is not finite though its inputs are (" + parts +
                          "): values too large for " + c10::toString(pred.scalar_type()) + "?");
    }
  }
  return out;
}

}  // namespace lvm::loss
