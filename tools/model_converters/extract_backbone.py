"""Extract the backbone of a cld_mm (or mmpretrain) self-supervised checkpoint.

    python tools/model_converters/extract_backbone.py SRC DST

Writes ``{'state_dict': backbone keys without 'backbone.', 'meta': ...}``,
which mmpretrain, mmdet and mmseg load into their ResNet without missing or
unexpected keys (``init_cfg=dict(type='Pretrained', checkpoint=DST)``); the
benchmark configs take it as ``model.init_cfg.checkpoint``. Momentum
encoders, necks, heads, memory banks, queues and group tables are dropped.
"""
import argparse
import os
import os.path as osp

import torch

import cld_mm  # noqa: F401  (allow-lists mmengine checkpoint contents)
from cld_mm.models.utils.checkpoint_convert import extract_backbone, unwrap_state_dict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='self-supervised checkpoint')
    parser.add_argument('dst', help='output backbone checkpoint (.pth)')
    parser.add_argument('--prefix', default='backbone.',
                        help="backbone attribute path (default 'backbone.')")
    args = parser.parse_args(argv)
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'checkpoint not found: {args.src}')
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    state = extract_backbone(unwrap_state_dict(ckpt), args.prefix)
    meta = dict(source=osp.basename(args.src), prefix=args.prefix,
                num_tensors=len(state), cld_mm_version=cld_mm.__version__)
    src_meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if isinstance(src_meta, dict):
        meta.update({k: src_meta[k] for k in ('epoch', 'iter')
                     if isinstance(src_meta.get(k), int)})
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=state, meta=meta), args.dst)
    print(f'{len(state)} backbone tensors -> {args.dst}')


if __name__ == '__main__':
    main()
