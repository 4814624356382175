# ImageNet-1k, CBAM-ResNet-50 with APA gates (channel and spatial) and AGLU, in the APA code's
# CBAM layout: LayerNorm on the pooled vectors, MLP with bias (r = 16), Dropout(0.1), APA
# gates kappa ~ U(0, 1), lambda ~ U(0, 1), spatial 7x7 conv + BN (momentum 0.01); the public
# cb_resnet50(use_gumbel=True, use_gumbel_cb=True) (docs/fidelity.md).
# Target: public APA README, ImageNet-1k CBAM-R50: 78.9 top-1. Recipe: the SE config's.
_base_ = './gated-se-resnet50_apa-aglu_4xb64-100e_in1k.py'

model = dict(
    backbone=dict(
        attention_cfg=dict(_delete_=True, type='CBAM', ratio=16, mode='both', style='apa')))
