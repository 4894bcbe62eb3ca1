"""Command-line tools run as ``python TOOL ARGS`` would run them, in this
process or as a real subprocess, with the same ``(exit status, stdout,
stderr)`` result.

In this process (:func:`run_in_process`) the tool's file runs as
``__main__`` (``runpy``), so its own ``if __name__ == '__main__'`` block turns
errors into ``sys.exit('tool.py: error: ...')`` exactly as on the command
line; ``sys.exit`` with a message is reported as the interpreter reports it
(status 1, the message on stderr). Any other exception propagates: a crash
fails the test with its traceback. This saves the interpreter start and the
torch / mmengine / mmpretrain imports of a subprocess (~5-7 s each on a
busy 2-core CPU); keep a real subprocess where the process itself (its exit
status, what it prints before Python starts the tool) is the behaviour under
test.
"""
import io
import os
import runpy
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from typing import Dict, List, Tuple

Result = Tuple[int, str, str]


def run_in_process(argv: List[str], cwd: str) -> Result:
    """``python argv[0] argv[1:]`` in this process, in ``cwd``."""
    script, args = argv[0], list(argv[1:])
    out, err = io.StringIO(), io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = [script, *args]
    os.chdir(cwd)
    rc = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                runpy.run_path(script, run_name='__main__')
            except SystemExit as e:
                if e.code is None:
                    rc = 0
                elif isinstance(e.code, int):
                    rc = e.code
                else:                  # what the interpreter does
                    print(e.code, file=sys.stderr)
                    rc = 1
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return rc, out.getvalue(), err.getvalue()


def start_subprocess(argv: List[str], cwd: str) -> subprocess.Popen:
    """``python argv...`` as a real process (one thread, no warnings)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    return subprocess.Popen([sys.executable, *argv], cwd=cwd, env=env,
                            text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def run_jobs(in_process: Dict[str, List[str]],
             subprocesses: Dict[str, List[str]], cwd: str) -> Dict[str, Result]:
    """Start the ``subprocesses`` jobs, run the ``in_process`` ones one after
    the other meanwhile, then wait for the subprocesses."""
    procs = {name: start_subprocess(argv, cwd)
             for name, argv in subprocesses.items()}
    done = {}
    try:
        for name, argv in in_process.items():
            done[name] = run_in_process(argv, cwd)
    finally:
        for name, proc in procs.items():
            out, err = proc.communicate()
            done[name] = (proc.returncode, out, err)
    return done
