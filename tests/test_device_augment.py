"""Batched device augmentation against torchvision / PIL per image."""
import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image

from cld_mm.models.data_preprocessors import DeviceMultiViewPreprocessor
from cld_mm.models.data_preprocessors import functional as F
from cld_mm.models.data_preprocessors.samplers import resized_crop_params


def test_resized_crop_matches_torchvision_bilinear():
    g = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    box = resized_crop_params(g, 16, 32, 32, (0.08, 1.))
    out = F.resized_crop(img.float() / 255, *box, (32, 32))
    for i in range(16):
        b = [int(t[i]) for t in box]
        ref = TF.resized_crop(img[i].double() / 255, *b, [32, 32],
                              antialias=False)
        assert (ref.float() - out[i]).abs().max() < 1e-4
        pil = TF.resized_crop(Image.fromarray(img[i].permute(1, 2, 0)
                                              .numpy()), *b, [32, 32])
        pil = torch.from_numpy(np.array(pil)).permute(2, 0, 1) / 255.
        assert (pil - out[i]).abs().max() <= 1.001 / 255


def test_views_depend_on_seed_and_iteration_only():
    kw = dict(view_pipeline=[dict(type='RandomResizedCrop', scale=32),
                             dict(type='RandomFlip', prob=0.5)],
              mean=[127.5] * 3, std=[127.5] * 3)
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    a = DeviceMultiViewPreprocessor(**kw)(dict(inputs=x), training=True)
    b = DeviceMultiViewPreprocessor(**kw)(dict(inputs=x), training=True)
    assert len(a['inputs']) == 2
    assert torch.equal(a['inputs'][0], b['inputs'][0])
    assert not torch.equal(a['inputs'][0], a['inputs'][1])
