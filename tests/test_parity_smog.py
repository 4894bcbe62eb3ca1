"""SMoG's training step against the paper's equations, restated here.

Pang et al., *Unsupervised Visual Representation Learning by Synchronous
Momentum Grouping*, ECCV 2022 (https://arxiv.org/abs/2207.06167). The
reference below is plain float64 PyTorch written from the paper (no cld_mm
loss, k-means or grouping function is called); the networks are deep copies
of the model's own backbone, neck and predictor, moved by their own SGD.
Three steps per case (two views; two views + two local crops; with the
instance term) compare every logged value, the gradient of every parameter
and every state change to 1e-6 relative.

Where the paper and the only public re-implementation (lightly's) differ,
the default follows the paper; docs/smog.md ("Paper vs lightly") says the
same:

* the groups are moved by the *online* unit projections of both global
  views, with gradient (the paper's "contrastive group": gradients propagate
  through the group features); lightly moves them without gradient, from
  one view;
* both directions every step (a predicts the group of b, b the group of a);
  lightly computes one direction and swaps the views every other step;
* the feature cache holds the momentum embeddings of view a (the features
  the targets are assigned from); lightly caches online projections.
"""
import copy

import pytest
import torch
import torch.nn as nn
from tiny_smog import (
    BETA_END,
    BETA_START,
    CACHE_SIZE,
    INSTANCE_TEMPERATURE,
    NUM_GROUPS,
    TARGET_MOMENTUM,
    TEMPERATURE,
    build_tiny_smog,
    tiny_views,
)

STEPS, LR = 3, 0.5
RTOL, GRAD_ATOL = 1e-6, 1e-10


def _unit(x):
    return x / x.norm(dim=1, keepdim=True)


def _ce(logits, target):
    """Mean of -log softmax(logits)[target]."""
    picked = logits.gather(1, target[:, None])[:, 0]
    return (torch.logsumexp(logits, dim=1) - picked).mean()


def _beta(t, total, fixed=None):
    """beta of iteration t (0-based): the fixed value, or linear from
    BETA_START at the first iteration to BETA_END at the last (the SMoG
    slides' Table 7a rows are beta values: '1.0 -> 0.99')."""
    if fixed is not None:
        return fixed
    return BETA_START + (BETA_END - BETA_START) * min(t, total - 1) / (
        total - 1)


class Reference:
    """One SMoG model restated from the paper, with its own networks.

    Args:
        model: the cld_mm model at step 0 (networks and groups are copied).
        variant (dict): alternatives the paper rules out, to show the test
            tells them apart: ``target_encoder`` ('momentum' | 'online'),
            ``target_groups`` ('old' | 'new'), ``logit_groups``
            ('new' | 'old'), ``group_source`` ('online' | 'momentum').
    """

    def __init__(self, model, total_iters, instance_weight=0.0,
                 fixed_beta=None, **variant):
        self.online = copy.deepcopy(nn.Sequential(model.backbone,
                                                  model.neck))
        self.predictor = copy.deepcopy(model.predictor)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.groups = model.groups.detach().clone()
        self.cache = torch.zeros(CACHE_SIZE, self.groups.shape[1],
                                 dtype=self.groups.dtype)
        self.ptr = self.filled = self.t = 0
        self.total, self.instance_weight = total_iters, instance_weight
        self.fixed_beta = fixed_beta
        self.variant = dict(target_encoder='momentum', target_groups='old',
                            logit_groups='new', group_source='online')
        self.variant.update(variant)

    def parameters(self):
        return list(self.online.parameters()) + list(
            self.predictor.parameters())

    @torch.no_grad()
    def _momentum_update(self):
        # target <- (1 - m) target + m online (m the online weight); the
        # first step copies; BN statistics follow the online network
        for t, s in zip(self.target.parameters(), self.online.parameters()):
            t.copy_(s if self.t == 0 else
                    (1 - TARGET_MOMENTUM) * t + TARGET_MOMENTUM * s)
        for t, s in zip(self.target.buffers(), self.online.buffers()):
            t.copy_(s)

    def step(self, views):
        v = self.variant
        beta = _beta(self.t, self.total, self.fixed_beta)
        self._momentum_update()
        old = self.groups
        with torch.no_grad():
            enc = self.target if v['target_encoder'] == 'momentum' \
                else self.online
            emb = [_unit(enc(x)[0]) for x in views[:2]]
        # online projections (local crops of one size: one forward)
        proj = [self.online(x)[0] for x in views[:2]]
        if len(views) > 2:
            proj += list(self.online(torch.cat(views[2:]))[0].chunk(
                len(views) - 2))
        z = [self.predictor((p, ))[0] for p in proj]
        # synchronous momentum grouping:
        #   c_t = argmax_k sim(f(x_t), g_k)
        #   g_k <- normalize(beta g_k + (1 - beta) mean_{c_t = k} f(x_t))
        if v['group_source'] == 'online':
            f = _unit(torch.cat(proj[:2]))
        else:
            f = torch.cat(emb)
        member = (f.detach() @ old.t()).argmax(dim=1)
        rows = []
        for k in range(old.shape[0]):
            if (member == k).any():
                g = beta * old[k] + (1 - beta) * f[member == k].mean(dim=0)
                rows.append(g / g.norm())
            else:
                rows.append(old[k])
        new = torch.stack(rows)
        # targets c^a, c^b: groups of the momentum embeddings
        tg = old if v['target_groups'] == 'old' else new.detach()
        c = [(e @ tg.t()).argmax(dim=1) for e in emb]
        lg = new if v['logit_groups'] == 'new' else old

        def term(zv, target):
            return _ce(_unit(zv) @ lg.t() / TEMPERATURE, target)

        # view a predicts c^b, view b c^a, a local crop both; mean over views
        per_view = [term(z[0], c[1]), term(z[1], c[0])]
        per_view += [0.5 * (term(zl, c[0]) + term(zl, c[1]))
                     for zl in z[2:]]
        out = dict(loss_group=sum(per_view) / len(per_view))
        if self.instance_weight > 0:
            pos = torch.arange(z[0].shape[0])

            def nce(q, keys):
                return _ce(_unit(q) @ keys.t() / INSTANCE_TEMPERATURE, pos)

            out['loss_instance'] = self.instance_weight * 0.5 * (
                nce(z[0], emb[1]) + nce(z[1], emb[0]))
        with torch.no_grad():
            out['group_acc'] = ((_unit(z[0]) @ new.t()).argmax(dim=1)
                                == c[1]).double().mean()
            out['beta'] = torch.tensor(beta, dtype=torch.float64)
            out['groups_used'] = torch.tensor(
                float(len(set(torch.cat(c).tolist()))), dtype=torch.float64)
            self.groups = new.detach().clone()
            for row in emb[0]:  # FIFO of the momentum embeddings of view a
                self.cache[self.ptr] = row
                self.ptr = (self.ptr + 1) % CACHE_SIZE
                self.filled = min(CACHE_SIZE, self.filled + 1)
        self.t += 1
        return out


def _sgd(params):
    with torch.no_grad():
        for p in params:
            p -= LR * p.grad
            p.grad = None


def _online_params(model):
    return [(f'backbone.{n}', p) for n, p in model.backbone.named_parameters()
            ] + [(f'neck.{n}', p) for n, p in model.neck.named_parameters()
                 ] + [(f'predictor.{n}', p)
                      for n, p in model.predictor.named_parameters()]


def _close(got, want, what, atol=0.0):
    torch.testing.assert_close(got.double(), want.double(), rtol=RTOL,
                               atol=atol, msg=lambda m: f'{what}: {m}')


CASES = dict(two_views=dict(n_local=0, instance_weight=0.0),
             multi_crop=dict(n_local=2, instance_weight=0.0),
             instance=dict(n_local=0, instance_weight=0.5),
             fixed_beta=dict(n_local=0, instance_weight=0.0,
                             fixed_beta=0.7))


@pytest.mark.parametrize('case', list(CASES))
def test_train_step_matches_the_paper(case):
    n_local, inst = CASES[case]['n_local'], CASES[case]['instance_weight']
    fixed = CASES[case].get('fixed_beta')
    model = build_tiny_smog(total_iters=STEPS, instance_weight=inst,
                            fixed_beta=fixed)
    ref = Reference(model, STEPS, instance_weight=inst, fixed_beta=fixed)
    named = _online_params(model)
    assert len(named) == len(ref.parameters())
    for step in range(STEPS):
        views = tiny_views(n_local=n_local, seed=10 + step)
        assert model.current_beta() == pytest.approx(
            _beta(step, STEPS, fixed), rel=1e-12)
        got = model.loss([v.clone() for v in views], None)
        want = ref.step(views)
        # every logged value, summed terms and diagnostics
        assert set(got) == set(want), (set(got), set(want))
        for key in want:
            _close(got[key], want[key], f'step {step} {key}')
        # gradients of every online parameter
        sum(v for k, v in got.items() if 'loss' in k).backward()
        sum(v for k, v in want.items() if 'loss' in k).backward()
        for (name, p), q in zip(named, ref.parameters()):
            assert p.grad is not None and q.grad is not None, name
            _close(p.grad, q.grad, f'step {step} grad {name}', GRAD_ATOL)
        assert any(float(p.grad.abs().max()) > 1e-6 for _, p in named)
        # state: groups, cache, pointer, fill, position, momentum encoder
        _close(model.groups, ref.groups, f'step {step} groups')
        _close(model.feature_cache, ref.cache, f'step {step} cache')
        assert int(model.cache_ptr) == ref.ptr
        assert int(model.cache_filled) == ref.filled
        assert int(model.group_step) == ref.t == step + 1
        for (name, p), q in zip(model.target.module.named_parameters(),
                                ref.target.parameters()):
            _close(p, q, f'step {step} momentum encoder {name}')
        _sgd([p for _, p in named])
        _sgd(ref.parameters())
    # three steps of 8 into a FIFO of 12: wrapped, pointer at 24 mod 12
    assert ref.ptr == 0 and ref.filled == CACHE_SIZE
    # the first and last iterations ran at the schedule's ends
    assert model.current_beta() == (BETA_END if fixed is None else fixed)
    torch.testing.assert_close(model.groups.norm(dim=1),
                               torch.ones(NUM_GROUPS, dtype=torch.float64))


@pytest.mark.parametrize('variant', [
    dict(target_encoder='online'), dict(target_groups='new'),
    dict(logit_groups='old'), dict(group_source='momentum')])
def test_the_comparison_tells_the_alternatives_apart(variant):
    """Each alternative reading of the paper changes a compared value.

    Run to the third step (the momentum encoder differs from the online one
    only after an optimizer step), the alternative's loss, gradients or
    groups differ from the model's by far more than the tolerance.
    """
    model = build_tiny_smog(total_iters=STEPS)
    ref = Reference(model, STEPS, **variant)
    named = _online_params(model)
    differs = []
    for step in range(STEPS):
        views = tiny_views(seed=10 + step)
        got = model.loss([v.clone() for v in views], None)
        want = ref.step(views)
        got['loss_group'].backward()
        want['loss_group'].backward()
        gap = max(
            abs(float(got['loss_group'] - want['loss_group'])),
            float((model.groups - ref.groups).abs().max()),
            max(float((p.grad - q.grad).abs().max())
                for (_, p), q in zip(named, ref.parameters())))
        differs.append(gap)
        _sgd([p for _, p in named])
        _sgd(ref.parameters())
    assert max(differs) > 1e-4, (variant, differs)
