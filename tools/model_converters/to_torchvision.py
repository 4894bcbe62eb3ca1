"""Export a cld_mm ResNet backbone with torchvision's key names.

    python tools/model_converters/to_torchvision.py SRC DST

SRC is a self-supervised checkpoint or an ``extract_backbone.py`` output.
DST is a plain state dict for ``torchvision.models.resnet50()`` without
``fc``: ``model.fc = torch.nn.Identity();
model.load_state_dict(torch.load(DST), strict=True)``.
"""
import argparse
import os
import os.path as osp

import torch

import cld_mm  # noqa: F401  (allow-lists mmengine checkpoint contents)
from cld_mm.models.utils.checkpoint_convert import (
    extract_backbone,
    to_torchvision_resnet,
    unwrap_state_dict,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='self-supervised or backbone checkpoint')
    parser.add_argument('dst', help='output torchvision state dict (.pth)')
    args = parser.parse_args(argv)
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'checkpoint not found: {args.src}')
    state = unwrap_state_dict(
        torch.load(args.src, map_location='cpu', weights_only=True))
    if any(k.startswith('backbone.') for k in state):
        state = extract_backbone(state)
    out = to_torchvision_resnet(state)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    print(f'{len(out)} tensors in torchvision names -> {args.dst}')


if __name__ == '__main__':
    main()
