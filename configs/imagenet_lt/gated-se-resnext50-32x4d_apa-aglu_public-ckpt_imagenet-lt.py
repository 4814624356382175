# Evaluate the public APA ImageNet-LT checkpoint (SE-X50, APA SE + AGLU, cosine classifier s = 16)
# after tools/dataset_converters/convert_apa_checkpoint.py. Target: the public README's
# 59.1 top-1 (Table 2: 69.8 / 55.7 / 41.1 / 59.1),
# with IIF 'rel' (the public default) added at test.
# The public code re-indexes the classes by descending training frequency (class 0 the most
# frequent; equal counts in NumPy argsort order), so the test labels, the IIF counts and the
# shot-group counts are re-indexed the same way here (frequency_ann_file, tie_break='numpy').
# Equal-count classes are ordered by NumPy's unstable sort in the public code: if the result
# is far below the target, the tie order of this NumPy differs from the one used in training.
#   python tools/dataset_converters/convert_apa_checkpoint.py PUBLIC.pth converted.pth
#   python tools/test.py THIS_CONFIG converted.pth
# Everything but the backbone (ResNeXt-50 32x4d) as
# gated-se-resnet50_apa-aglu_public-ckpt_imagenet-lt.py.
_base_ = ['./gated-se-resnet50_apa-aglu_public-ckpt_imagenet-lt.py']

model = dict(backbone=dict(groups=32, width_per_group=4))
