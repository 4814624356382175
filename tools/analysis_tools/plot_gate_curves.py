#!/usr/bin/env python
"""The learned APA / AGLU curves (κ, λ) of every layer, against Sigmoid / SiLU / ReLU.

    python tools/analysis_tools/plot_gate_curves.py CONFIG CHECKPOINT [--out-dir DIR]
        [--z-range 6] [--cfg-options k=v ...]

For every APA module (attention gates) and AGLU module (units) of the model, draws
η(z; κ, λ) = (λ e^(−κz) + 1)^(−1/λ) (APA) or z·η (AGLU) over z ∈ [−R, R], coloured by depth
(stem → last block), with the fixed functions they generalise (Sigmoid: κ = λ = 1; SiLU; ReLU)
dashed; a third panel shows κ and λ per module in network order. Writes ``gate_curves.png``
and ``gate_params.json`` to ``--out-dir`` (default ``work_dirs/analysis/<config name>``).
No data are read. Checkpoint ``none`` plots the initial (random) parameters.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import gate_analysis as ga  # noqa: E402

TOOL = 'plot_gate_curves.py'


def plot_gate_curves(params: List[dict], out: str, z_range: float = 6., title: str = '') -> str:
    """Plot the curves of ``params`` (entries of :func:`gate_analysis.gate_params`)."""
    plt = ga.matplotlib()
    z = np.linspace(-z_range, z_range, 401)
    kinds = [k for k in ('APA', 'AGLU') if any(p['kind'] == k for p in params)]
    if not kinds:
        raise ValueError('the model has no APA/AGLU module: nothing to plot')
    fig, axes = plt.subplots(1, len(kinds) + 1, figsize=(4.2 * (len(kinds) + 1), 3.8), dpi=110)
    cmap = plt.get_cmap('viridis')
    for ax, kind in zip(axes, kinds):
        ps = [p for p in params if p['kind'] == kind]
        for i, p in enumerate(ps):
            eta = ga.apa_curve(z, p['kappa'], p['lambda_'], p['lambda_min'])
            y = eta if kind == 'APA' else z * eta
            ax.plot(z, y, color=cmap(i / max(len(ps) - 1, 1)), lw=0.9, alpha=0.8)
        sig = 1 / (1 + np.exp(-z))
        if kind == 'APA':
            ax.plot(z, sig, 'k--', lw=1.5, label='Sigmoid (κ=λ=1)')
            ax.plot(z, np.exp(-np.exp(-z)), 'k:', lw=1.5, label='Gumbel (λ→0)')
            ax.set_ylabel('gate η(z)')
            ax.set_title(f'APA gates ({len(ps)}), shallow → deep', fontsize=10)
        else:
            ax.plot(z, z * sig, 'k--', lw=1.5, label='SiLU (κ=λ=1)')
            ax.plot(z, np.maximum(z, 0), 'k:', lw=1.5, label='ReLU')
            ax.set_ylabel('unit z·η(z)')
            ax.set_title(f'AGLU units ({len(ps)}), shallow → deep', fontsize=10)
            ax.set_ylim(-2, z_range)
        ax.set_xlabel('z')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc='upper left')
    sm = plt.cm.ScalarMappable(cmap=cmap)
    fig.colorbar(sm, ax=axes[len(kinds) - 1], label='depth (0 = first module)', fraction=0.05)
    ax = axes[-1]
    for kind, marker in (('APA', 'o'), ('AGLU', 's')):
        idx = [i for i, p in enumerate(params) if p['kind'] == kind]
        if idx:
            ax.plot(idx, [params[i]['kappa'] for i in idx], marker, ms=3.5, color='#4c72b0',
                    label=f'κ ({kind})')
            ax.plot(idx, [params[i]['lambda_'] for i in idx], marker, ms=3.5, color='#c44e52',
                    mfc='none', label=f'λ ({kind})')
    ax.axhline(1, color='k', lw=0.8, ls='--')
    ax.set_xlabel('module index (network order)')
    ax.set_title('learned κ and λ', fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint', help="checkpoint, or 'none' for the initial parameters")
    p.add_argument('--out-dir')
    p.add_argument('--z-range', type=float, default=6.)
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = ga.load_cfg(args.config, args.cfg_options)
        model = ga.load_model(cfg, None if args.checkpoint == 'none' else args.checkpoint)
        params = ga.gate_params(model)
        out_dir = args.out_dir or osp.join('work_dirs', 'analysis',
                                           osp.splitext(osp.basename(args.config))[0])
        png = plot_gate_curves(params, osp.join(out_dir, 'gate_curves.png'), args.z_range,
                               title=ga.short_name(args.config))
    except (FileNotFoundError, ValueError, RuntimeError, KeyError) as e:
        ga.fail(TOOL, str(e).splitlines()[0])
    with open(osp.join(out_dir, 'gate_params.json'), 'w') as f:
        json.dump(params, f, indent=1)
    for p in params:
        print(f"{p['kind']:5s} {p['name']:40s} kappa {p['kappa']:+.4f}  lambda {p['lambda_']:.4f}")
    print(f'wrote {png}')


if __name__ == '__main__':
    main()
