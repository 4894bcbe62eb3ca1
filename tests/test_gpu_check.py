"""The GPU check script, dry run on CPU: every section runs, tiny sizes."""
import json
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'benchmarks'))


def test_wheel_plan_selects_missing_installable_wheels(tmp_path):
    import wheel_plan
    here = f'cp{sys.version_info[0]}{sys.version_info[1]}'
    names = ['mmengine-0.10.7-py3-none-any.whl',            # installed
             'cld_mm_absent_pkg-1.0-py3-none-any.whl',       # missing
             f'cld_mm_absent_bin-2.0-{here}-{here}-manylinux_2_17_x86_64.whl',
             'cld_mm_absent_bin-2.0-cp27-cp27m-manylinux_2_17_x86_64.whl']
    for n in names:
        (tmp_path / n).write_bytes(b'')
    got = [osp.basename(p) for p in wheel_plan.plan(str(tmp_path))]
    assert got == [names[2], names[1]]   # sorted, one per distribution
    assert wheel_plan.dist_name('Kornia_RS-0.1.9-x.whl') == 'kornia-rs'


def test_wheel_plan_counts_the_onedl_fork_as_installed():
    """mmengine from upstream or from the fork: either one is installed
    here, and the other is never planned beside it."""
    from importlib import metadata

    import wheel_plan

    def have(name):
        try:
            metadata.version(name)
            return True
        except metadata.PackageNotFoundError:
            return False

    assert have('mmengine') or have('onedl-mmengine')
    assert wheel_plan.installed('mmengine')
    assert wheel_plan.installed('mmsegmentation')
    assert wheel_plan.installed('mmdet')
    assert not wheel_plan.installed('cld-mm-absent-pkg')


def test_gpu_check_dry_run(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               GPU_CHECK_TIMEOUT='280')
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'benchmarks', 'gpu_check.sh'), '--dry-run',
         '--wheelhouse', str(tmp_path / 'no_wheels'), '--out',
         str(tmp_path / 'out')],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'nothing to install' in proc.stdout
    res = json.load(open(tmp_path / 'out' / 'gpu_check.json'))
    assert res['dry_run'] and res['environment']['device'] == 'cpu'
    algos = [r['algorithm'] for r in res['parity']]
    assert algos == ['NPID', 'NPID+CLD', 'MoCo', 'MoCo+CLD', 'BYOL',
                     'BYOL+CLD', 'SMoG']
    for r in res['parity']:
        # CPU against CPU from the same seeded copy: the same step exactly
        assert 'error' not in r, r
        assert r['ok'] and r['loss_rel_diff'] == 0
        assert r['param_diff_over_change'] == 0
    fast, = res['fast']
    assert fast['fast_over_synthetic'] == fast['fast_steps_per_s'] / \
        fast['synthetic_steps_per_s']
    ep, = res['epochs']
    assert ep['images'] == 32 and ep['iters_per_epoch'] == 4
    assert len(ep['epoch_s']) == 1 and ep['epoch_s'][0] > 0
    assert osp.exists(tmp_path / 'out' / 'gpu_check.log')


def test_gpu_check_refuses_without_cuda(tmp_path):
    import torch
    if torch.cuda.is_available():   # this check is about CPU machines
        return
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'benchmarks', 'gpu_check.sh'), '--out',
         str(tmp_path)], cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, PYTHON=sys.executable), timeout=60)
    assert proc.returncode == 2
    assert 'torch sees no GPU' in proc.stderr
