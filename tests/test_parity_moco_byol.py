"""One MoCoCLD / EvalMoCo / BYOLCLD step against the equations, by hand.

MoCo (`He et al., 2020 <https://arxiv.org/abs/1911.05722>`_), MoCo + CLD and
BYOL + CLD (`Wang, Liu, Yu, 2021 <https://arxiv.org/abs/2008.03813>`_),
BYOL (`Grill et al., 2020 <https://arxiv.org/abs/2006.07733>`_). A tiny
ResNet in float64, fixed weights, a fixed batch; compared to 1e-6 relative
with :mod:`parity_reference`: every logged term, the gradient of every
parameter, the queue and its pointer, and the key / target encoder after
its momentum update (parameters and batch-norm buffers).

Defaults and where they come from:

- MoCo + CLD follows the authors' scripts (the paper does not spell the
  three-crop form out): the instance loss is ``1/2 [InfoNCE(q, k) +
  InfoNCE(q2, k)]``, both against the queue as it was before the step; the
  queue then receives k once. CLD runs between q's and q2's group features.
- The key encoder is updated before the key forward (the authors' ImageNet
  code; their CIFAR code updates it after the optimizer step, which is the
  same sequence of values), with mmengine's convention ``(1 - m) key + m
  query`` (m = 1 - MoCo's 0.999).
- The MoCo v2 NormMLP variant shares the hidden layer between the instance
  and the group branch (``TwoBranchMLPNeck``, ``group_neck='neck'``), as the
  authors' MoCo v2 scripts.
- BYOL's instance term is mmpretrain's ``2 [l(p1, z2') + l(p2, z1')]`` with
  ``l = -cos`` (``LatentPredictHead`` + ``CosineSimilarityLoss``, batch
  mean): the paper's ``|p/|p| - z/|z||^2 = 2 - 2 cos`` summed over both
  directions, minus the constant 4 (same gradients).
- BYOL's target network follows the paper's cosine schedule of tau
  (mmpretrain's ``CosineEMA``, step k of ``max_iters``); its batch-norm
  buffers are copied from the online network before its forward passes
  (mmengine's ``update_buffers=False``), then advance with them.
"""
import parity_reference as ref
import pytest
import tiny_models
import torch

N, D, G, HID = 8, 8, 6, 12          # batch, instance / group / hidden dims
QUEUE, PTR, T_MOCO, EMA_M = 16, 8, 0.2, 0.25
K, T_G, LAMBDA = 3, 0.3, 0.7


def _views(n_views, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(N, 3, tiny_models.IMG, tiny_models.IMG, generator=g,
                        dtype=torch.float64) for _ in range(n_views)]


def _perturb_key_encoder(encoder, steps):
    """A momentum encoder that differs from the online one, past its first
    (copying) update, so that the EMA formula is observable."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in encoder.module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        encoder.steps.fill_(steps)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _neck_forward(variant, params, x):
    """(instance, group-or-None) outputs of the restated instance neck on the
    pooled (N, C) features."""
    if variant == 'v1':
        return ref.linear(x, params['fc.weight'], params['fc.bias']), None
    if variant == 'normlinear':
        return ref.norm_linear(x, params['fc.weight']), None
    hidden = torch.relu(ref.linear(x, params['mlp.0.weight'],
                                   params['mlp.0.bias']))
    return (ref.norm_linear(hidden, params['instance_fc.weight']),
            ref.norm_linear(hidden, params['group_fc.weight']))


def _group_forward(variant, params, x):
    if variant == 'v1':
        return ref.linear(x, params['fc.weight'], params['fc.bias'])
    return ref.norm_linear(x, params['fc.weight'])


MOCO_VARIANTS = {
    'v1': lambda: (tiny_models.linear_neck(D), tiny_models.linear_neck(G)),
    'normlinear': lambda: (tiny_models.norm_linear_neck(D),
                           tiny_models.norm_linear_neck(G)),
    'v2': lambda: (tiny_models.two_branch_neck(HID, D, G), 'neck'),
}


def _key_reference(online_backbone, model, backbone_leaves, neck_leaves,
                   variant, img):
    """EMA of the key encoder, its buffers copied from the online one, then
    the unit keys of ``img``; returns (keys, expected key-encoder state)."""
    old = _state(model.encoder_k.module)
    new = {}
    for prefix, leaves in (('0.', backbone_leaves), ('1.', neck_leaves)):
        for name, p in leaves.items():
            new[prefix + name] = ref.ema(old[prefix + name], p.detach(),
                                         EMA_M)
    key_backbone = ref.Backbone(online_backbone.module)  # online buffers
    with torch.no_grad():
        x = ref.pool(key_backbone(
            {n[2:]: v for n, v in new.items() if n.startswith('0.')}, img))
        k = ref.unit(_neck_forward(
            variant, {n[2:]: v for n, v in new.items()
                      if n.startswith('1.')}, x)[0])
    for name, buf in key_backbone.module.state_dict().items():
        if '0.' + name not in new:  # buffers
            new['0.' + name] = buf
    return k, new


def _check_key_encoder(model, expected):
    actual = model.encoder_k.module.state_dict()
    assert set(actual) == set(expected)
    for name, value in actual.items():
        ref.assert_close(value, expected[name], f'key encoder {name}')


@pytest.mark.parametrize('variant', sorted(MOCO_VARIANTS))
def test_moco_cld_step(variant):
    neck, group_neck = MOCO_VARIANTS[variant]()
    cfg = tiny_models.with_cld(
        tiny_models.moco(neck, QUEUE, D, EMA_M, T_MOCO), 'MoCoCLD',
        group_neck, num_clusters=K, temperature=T_G, weight=LAMBDA)
    model = tiny_models.build(cfg)
    group = tiny_models.group_branch(model)
    assert (group is None) == (variant == 'v2')
    _perturb_key_encoder(model.encoder_k, steps=3)
    model.queue_ptr.fill_(PTR)
    queue0 = model.queue.clone()
    im_q, im_k, im_q2 = _views(3, seed=3)

    backbone = ref.Backbone(model.backbone)
    leaves = dict(backbone=ref.leaves(model.backbone),
                  neck=ref.leaves(model.neck))
    if group is not None:
        leaves['group'] = ref.leaves(group)
    q, grp = [], []
    for img in (im_q, im_q2):
        x = ref.pool(backbone(leaves['backbone'], img))
        inst, from_neck = _neck_forward(variant, leaves['neck'], x)
        q.append(ref.unit(inst))
        grp.append(ref.unit(from_neck if group is None else
                            _group_forward(variant, leaves['group'], x)))
    k, key_state = _key_reference(backbone, model, leaves['backbone'],
                                  leaves['neck'], variant, im_k)
    loss_instance = 0.5 * (ref.info_nce(q[0], k, queue0, T_MOCO) +
                           ref.info_nce(q[1], k, queue0, T_MOCO))
    cld = ref.cross_level(grp[0], grp[1], K, T_G)
    total = loss_instance + LAMBDA * cld['loss']

    losses = model.loss([im_q, im_k, im_q2], [])
    assert set(losses) == {'loss_instance', 'loss_cld', 'cld_group_acc',
                           'cld_num_groups'}
    loss, _ = model.parse_losses(losses)
    loss.backward()

    ref.assert_close(losses['loss_instance'].detach(), loss_instance.detach(),
                     'loss_instance')
    ref.assert_close(losses['loss_cld'].detach(),
                     (LAMBDA * cld['loss']).detach(), 'loss_cld')
    ref.assert_close(losses['cld_group_acc'], cld['acc'], 'cld_group_acc')
    ref.assert_close(losses['cld_num_groups'], cld['groups'],
                     'cld_num_groups')
    assert 1 < float(cld['groups']) <= K
    parts = dict(backbone=model.backbone, neck=model.neck)
    if group is not None:
        parts['group'] = group
    ref.assert_grads(parts, leaves, total, model)
    # the queue: k enqueued once at the pointer (wrapping to 0), q and q2
    # both scored against the pre-step queue
    queue1, ptr1 = ref.enqueue(queue0, PTR, k)
    ref.assert_close(model.queue, queue1, 'queue')
    assert int(model.queue_ptr) == ptr1 == 0
    late = 0.5 * (ref.info_nce(q[0], k, queue0, T_MOCO) +
                  ref.info_nce(q[1], k, queue1, T_MOCO))
    assert abs(float(late - loss_instance)) > 1e-4
    _check_key_encoder(model, key_state)


def test_eval_moco_step():
    model = tiny_models.build(tiny_models.moco(tiny_models.linear_neck(D),
                                               QUEUE, D, EMA_M, T_MOCO))
    _perturb_key_encoder(model.encoder_k, steps=2)
    model.queue_ptr.fill_(PTR)
    queue0 = model.queue.clone()
    im_q, im_k = _views(2, seed=4)

    backbone = ref.Backbone(model.backbone)
    leaves = dict(backbone=ref.leaves(model.backbone),
                  neck=ref.leaves(model.neck))
    q = ref.unit(_neck_forward('v1', leaves['neck'], ref.pool(
        backbone(leaves['backbone'], im_q)))[0])
    k, key_state = _key_reference(backbone, model, leaves['backbone'],
                                  leaves['neck'], 'v1', im_k)
    expected = ref.info_nce(q, k, queue0, T_MOCO)

    losses = model.loss([im_q, im_k], [])
    assert set(losses) == {'loss'}
    losses['loss'].backward()
    ref.assert_close(losses['loss'].detach(), expected.detach(), 'loss')
    ref.assert_grads(dict(backbone=model.backbone, neck=model.neck), leaves,
                     expected, model)
    queue1, ptr1 = ref.enqueue(queue0, PTR, k)
    ref.assert_close(model.queue, queue1, 'queue')
    assert int(model.queue_ptr) == ptr1
    _check_key_encoder(model, key_state)


# ---------------------------------------------------------------- BYOL + CLD
BASE_M, MAX_ITERS, EMA_STEPS = 0.25, 10, 3   # target EMA: k = 3 of K = 10


def _mlp(params, state, x):
    """mmpretrain's NonLinearNeck as BYOL uses it (num_layers=2, bias on
    the first layer only, no last BN): ``W1 relu(BN(W0 x + b0))``; ``state``
    holds the BN buffers and advances as a train-mode BatchNorm1d does."""
    h = ref.linear(x, params['fc0.weight'], params['fc0.bias'])
    h = ref.batch_norm_train(h, params['bn0.weight'], params['bn0.bias'],
                             state, 'bn0.')
    return ref.linear(torch.relu(h), params['fc1.weight'])


def _buffers(module):
    return {k: v.detach().clone() for k, v in module.named_buffers()}


def _byol_target_momentum(k, total):
    """BYOL's schedule ``tau = 1 - (1 - tau_base)(cos(pi k / K) + 1) / 2``
    (Grill et al., sec. 3.2), given in mmengine's convention ``m = 1 - tau``
    (the weight of the online parameters; ``base_momentum = 1 - tau_base``).
    """
    tau_base = 1 - BASE_M
    tau = 1 - (1 - tau_base) * (torch.cos(torch.tensor(
        torch.pi * k / total, dtype=torch.float64)) + 1) / 2
    return float(1 - tau)


def test_byol_cld_step():
    from mmengine.logging import MessageHub
    MessageHub.get_instance('parity_byol_cld').update_info('max_iters',
                                                           MAX_ITERS)
    cfg = tiny_models.with_cld(
        tiny_models.byol(HID, D, BASE_M), 'BYOLCLD',
        tiny_models.linear_neck(G), num_clusters=K, temperature=T_G,
        weight=LAMBDA)
    model = tiny_models.build(cfg)
    group = tiny_models.group_branch(model)
    assert group is not None
    predictor = model.head.predictor
    _perturb_key_encoder(model.target_net, steps=EMA_STEPS)
    target0 = _state(model.target_net.module)
    v1, v2 = _views(2, seed=6)

    backbone = ref.Backbone(model.backbone)
    leaves = dict(backbone=ref.leaves(model.backbone),
                  neck=ref.leaves(model.neck),
                  predictor=ref.leaves(predictor), group=ref.leaves(group))
    neck_state, pred_state = _buffers(model.neck), _buffers(predictor)
    pooled = [ref.pool(backbone(leaves['backbone'], v)) for v in (v1, v2)]
    z = [_mlp(leaves['neck'], neck_state, x) for x in pooled]   # online
    p = [_mlp(leaves['predictor'], pred_state, zi) for zi in z]
    grp = [ref.unit(ref.linear(x, leaves['group']['fc.weight'],
                               leaves['group']['fc.bias'])) for x in pooled]

    # target network: EMA of the online parameters with BYOL's cosine
    # schedule, BN buffers copied from the online network after its forward
    # passes, then its own train-mode forwards of v1 and v2
    m = _byol_target_momentum(EMA_STEPS, MAX_ITERS)
    assert abs(m - BASE_M) > 1e-3          # the schedule is observable
    target = {}
    for prefix, part in (('0.', 'backbone'), ('1.', 'neck')):
        for name, leaf in leaves[part].items():
            target[prefix + name] = ref.ema(target0[prefix + name],
                                            leaf.detach(), m)
    target_backbone = ref.Backbone(backbone.module)     # online buffers
    target_neck_state = dict(neck_state)
    with torch.no_grad():
        z_target = [_mlp({n[2:]: t for n, t in target.items()
                          if n.startswith('1.')}, target_neck_state,
                         ref.pool(target_backbone(
                             {n[2:]: t for n, t in target.items()
                              if n.startswith('0.')}, v)))
                    for v in (v1, v2)]
    for name, buf in target_backbone.module.named_buffers():
        target['0.' + name] = buf
    for name, buf in target_neck_state.items():
        target['1.' + name] = buf

    # BYOL eq. (2) summed over both directions is 4 - 2 [cos(p1, z2') +
    # cos(p2, z1')]; mmpretrain's LatentPredictHead + CosineSimilarityLoss
    # logs 2 [-cos(p1, z2') - cos(p2, z1')]: the same minus the constant 4
    loss_instance = (ref.byol_regression(p[0], z_target[1]) +
                     ref.byol_regression(p[1], z_target[0]) - 4)
    cld = ref.cross_level(grp[0], grp[1], K, T_G)
    total = loss_instance + LAMBDA * cld['loss']

    losses = model.loss([v1, v2], [])
    assert set(losses) == {'loss_instance', 'loss_cld', 'cld_group_acc',
                           'cld_num_groups'}
    loss, _ = model.parse_losses(losses)
    loss.backward()

    ref.assert_close(losses['loss_instance'].detach(), loss_instance.detach(),
                     'loss_instance')
    ref.assert_close(losses['loss_cld'].detach(),
                     (LAMBDA * cld['loss']).detach(), 'loss_cld')
    ref.assert_close(losses['cld_group_acc'], cld['acc'], 'cld_group_acc')
    ref.assert_close(losses['cld_num_groups'], cld['groups'],
                     'cld_num_groups')
    assert 1 < float(cld['groups']) <= K
    parts = dict(backbone=model.backbone, neck=model.neck,
                 predictor=predictor, group=group)
    ref.assert_grads(parts, leaves, total, model)
    assert all(q.grad.abs().max() > 0 for q in group.parameters())
    assert all(q.grad.abs().max() > 0 for q in predictor.parameters())
    _check_target(model.target_net.module.state_dict(), target)
    assert int(model.target_net.steps) == EMA_STEPS + 1
    for name, buf in predictor.named_buffers():
        ref.assert_close(buf, pred_state[name], f'predictor {name}')


def _check_target(actual, expected):
    assert set(actual) == set(expected)
    for name, value in actual.items():
        ref.assert_close(value, expected[name], f'target network {name}')
