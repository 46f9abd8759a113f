"""Packaging: the wheel and sdist build, and the wheel installs offline into a fresh venv with no
dependency, the console script and `python -m pydirectus --version` included.

(Marked integration because it creates venvs and fetches the build backend, flit_core, through pip.)
"""

import os
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*command, cwd=None):
    result = subprocess.run(list(command), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stdout
    return result.stdout


def python_of(folder):
    venv.create(folder, with_pip=True)
    return os.path.join(folder, "bin", "python")


def test_wheel_and_sdist_build_and_the_wheel_installs_offline(tmp_path):
    builder = python_of(str(tmp_path / "build-env"))
    run(builder, "-m", "pip", "install", "--quiet", "flit_core>=3.4,<5")
    dist = str(tmp_path / "dist")
    os.makedirs(dist)
    run(builder, "-c", "import sys; from flit_core import buildapi; "
                       "print(buildapi.build_wheel(sys.argv[1])); print(buildapi.build_sdist(sys.argv[1]))",
        dist, cwd=ROOT)
    files = sorted(os.listdir(dist))
    wheel = [f for f in files if f.endswith(".whl")]
    sdist = [f for f in files if f.endswith(".tar.gz")]
    assert len(wheel) == 1 and len(sdist) == 1, files
    import pydirectus
    assert wheel[0].startswith("pydirectus-%s-" % pydirectus.__version__)

    target = python_of(str(tmp_path / "fresh"))
    run(target, "-m", "pip", "install", "--quiet", "--no-index", os.path.join(dist, wheel[0]))
    out = run(target, "-I", "-c", "import importlib.metadata as m, pydirectus, pydirectus.client; "
                                  "print(m.requires('pydirectus'), pydirectus.__version__, "
                                  "len(pydirectus.DirectusClient.operations))", cwd=str(tmp_path))
    assert out.split() == ["None", pydirectus.__version__, str(len(pydirectus.DirectusClient.operations))]
    assert run(target, "-m", "pydirectus", "--version", cwd=str(tmp_path)).strip() == \
        "pydirectus " + pydirectus.__version__
    script = os.path.join(str(tmp_path / "fresh"), "bin", "pydirectus")
    assert run(script, "--version").strip() == "pydirectus " + pydirectus.__version__
    # the stubs and the spec travel with the wheel
    listing = run(target, "-c", "import pydirectus, os; print(sorted(os.listdir(os.path.dirname(pydirectus.__file__))))")
    for name in ("endpoints.json", "client.pyi", "async_client.pyi", "models.pyi", "py.typed"):
        assert name in listing
