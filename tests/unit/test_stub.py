"""The checked-in type stub is fresh and its signatures equal the runtime ones."""

import ast
import inspect
import os
import subprocess
import sys

from pydirectus import DirectusClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUB = os.path.join(ROOT, "pydirectus", "client.pyi")


def test_stub_is_fresh():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "spec", "generate.py"), "--check"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.returncode == 0, result.stdout


def stub_methods():
    tree = ast.parse(open(STUB, encoding="utf-8").read())
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "DirectusClient")
    methods = {}
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            methods.setdefault(node.name, []).append(node)
    return methods


def stub_shape(node):
    """[(name, kind, has default)] of a stub function."""
    args = node.args
    P = inspect.Parameter
    shape = []
    positional = args.posonlyargs + args.args if hasattr(args, "posonlyargs") else args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(positional, defaults):
        shape.append((arg.arg, P.POSITIONAL_OR_KEYWORD, default is not None))
    if args.vararg:
        shape.append((args.vararg.arg, P.VAR_POSITIONAL, False))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        shape.append((arg.arg, P.KEYWORD_ONLY, default is not None))
    if args.kwarg:
        shape.append((args.kwarg.arg, P.VAR_KEYWORD, False))
    return shape


def runtime_shape(function):
    return [(p.name, p.kind, p.default is not p.empty) for p in inspect.signature(function).parameters.values()]


def public_runtime_methods():
    names = {}
    for name, value in vars(DirectusClient).items():
        if name.startswith("_") and name not in ("__init__", "__enter__", "__exit__"):
            continue
        if isinstance(value, classmethod):
            names[name] = value.__func__  # the stub writes cls like the function's first parameter
        elif inspect.isfunction(value):
            names[name] = value
    return names


def test_stub_and_runtime_have_the_same_methods():
    assert set(stub_methods()) - {"tokens"} == set(public_runtime_methods())


def test_stub_signatures_equal_runtime_signatures():
    stub = stub_methods()
    mismatches = []
    for name, function in public_runtime_methods().items():
        # the first overload is the one without a model: its defaults are the runtime's
        if stub_shape(stub[name][0]) != runtime_shape(function):
            mismatches.append(name)
    assert mismatches == []
    generated = [op for op in DirectusClient.operations.values() if not op.hand_written]
    assert len(public_runtime_methods()) > len(generated)


def test_models_stub_matches_the_runtime_models():
    import dataclasses
    from pydirectus import models
    tree = ast.parse(open(os.path.join(ROOT, "pydirectus", "models.pyi"), encoding="utf-8").read())
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    assert set(classes) == set(models.__all__)
    stub_fields = [node.target.id for node in classes["File"].body if isinstance(node, ast.AnnAssign)]
    assert stub_fields == [field.name for field in dataclasses.fields(models.File)]
    for name, node in classes.items():
        for member in node.body:
            if isinstance(member, ast.FunctionDef) and not member.name.startswith("__"):
                assert hasattr(getattr(models, name), member.name), (name, member.name)
