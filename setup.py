from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def version():
    scope = {}
    with open('cld_mm/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='cld_mm',
    version=version(),
    description='CLD and SMoG self-supervised learning on the OpenMMLab stack',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['cld_mm', 'cld_mm.*']),
    python_requires='>=3.9',
    # The OpenMMLab stack comes in two flavours with the same import names
    # (mmengine / mmcv / mmpretrain or the onedl-* fork), and mmcv's compiled
    # ops must be built against the installed torch: tools/install/install.sh
    # installs the stack (pinned by requirements/constraints*.txt) and then
    # this package with --no-deps. The extras name each stack for pip users.
    install_requires=[
        'torch', 'torchvision', 'numpy', 'matplotlib', 'scikit-learn',
        'kornia'
    ],
    extras_require=dict(
        stack=['mmengine>=0.10.7', 'mmcv>=2.1.0,<2.2.0', 'mmpretrain>=1.2.0',
               'numpy<2'],
        onedl=['onedl-mmengine>=0.10.12', 'onedl-mmcv>=2.3.6',
               'onedl-mmpretrain>=1.3.6'],
        det=['mmdet>=3.3.0'],
        seg=['mmsegmentation>=1.2.2', 'ftfy', 'regex'],
        umap=['umap-learn'],
        tests=['pytest', 'pytest-timeout', 'faiss-cpu', 'optuna', 'ruff']),
    license='Apache License 2.0',
)
