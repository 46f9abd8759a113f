"""The checked-in type stubs are fresh and their signatures equal the runtime ones, for
DirectusClient (client.pyi) and AsyncDirectusClient (async_client.pyi, whose methods are async
exactly where the runtime's are coroutine functions)."""

import ast
import inspect
import os
import subprocess
import sys

import pytest

from pydirectus import DirectusClient
from pydirectus.async_client import AsyncDirectusClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUB = os.path.join(ROOT, "pydirectus", "client.pyi")
ASYNC_STUB = os.path.join(ROOT, "pydirectus", "async_client.pyi")
CLASSES = [(DirectusClient, STUB), (AsyncDirectusClient, ASYNC_STUB)]
BOTH = pytest.mark.parametrize("cls, stub_path", CLASSES, ids=["sync", "async"])


def test_stub_is_fresh():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "spec", "generate.py"), "--check"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.returncode == 0, result.stdout


def stub_methods(cls=DirectusClient, stub_path=STUB):
    tree = ast.parse(open(stub_path, encoding="utf-8").read())
    node_of_class = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == cls.__name__)
    methods = {}
    for node in node_of_class.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
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


def public_runtime_methods(cls=DirectusClient):
    """Every public method of ``cls``, wherever it is written (ClientBase, the core's mixins, the
    client itself), but the helpers typed with overloads (KEYWORD_HELPERS)."""
    names = {}
    for klass in reversed(cls.__mro__[:-1]):  # not object's
        for name, value in vars(klass).items():
            if name.startswith("_") and name not in ("__init__", "__enter__", "__exit__", "__aenter__", "__aexit__"):
                continue
            if name in KEYWORD_HELPERS:
                continue
            if isinstance(value, classmethod):
                names[name] = value.__func__  # the stub writes cls like the function's first parameter
            elif inspect.isfunction(value):
                names[name] = getattr(cls, name) if name in vars(cls) else value
    return names


# helpers that take an operation's query parameters as **arguments at run time, and list them in the stub
KEYWORD_HELPERS = {"iter_items": "read_items"}


@BOTH
def test_stub_and_runtime_have_the_same_methods(cls, stub_path):
    assert set(stub_methods(cls, stub_path)) - {"tokens"} - set(KEYWORD_HELPERS) == set(public_runtime_methods(cls))


@BOTH
def test_helpers_taking_query_keywords_list_exactly_those_the_runtime_binds(cls, stub_path):
    from pydirectus._core.interpreter import bind
    stub = stub_methods(cls, stub_path)
    for helper, operation_name in KEYWORD_HELPERS.items():
        runtime = inspect.signature(getattr(cls, helper))
        explicit = [name for name, parameter in runtime.parameters.items() if parameter.kind != parameter.VAR_KEYWORD]
        for overload in stub[helper]:
            names = [name for name, _, _ in stub_shape(overload)]
            assert names[:len(explicit)] == explicit, helper
            for name in names[len(explicit):]:  # each keyword the stub offers is one the runtime binds
                bind(cls.operations[operation_name], ("c",), {name: None})
        operation = cls.operations[operation_name]
        offered = {name for name, _, _ in stub_shape(stub[helper][0])}
        assert {param.name for param in operation.query_params.values() if param.name not in offered} == {
            "page", "aggregate", "group_by", "export"}, helper  # refused by the helper at run time
        with pytest.raises(TypeError):
            getattr(cls, helper)(cls(hostname="http://127.0.0.1:9"), "c", quer={})  # misspelt: refused too


@BOTH
def test_stub_signatures_equal_runtime_signatures(cls, stub_path):
    stub = stub_methods(cls, stub_path)
    mismatches = []
    for name, function in public_runtime_methods(cls).items():
        # the first overload is the one without a model: its defaults are the runtime's
        if stub_shape(stub[name][0]) != runtime_shape(function):
            mismatches.append(name)
        # async in the stub exactly where the runtime method is a coroutine function
        if any(isinstance(node, ast.AsyncFunctionDef) for node in stub[name]) != inspect.iscoroutinefunction(function):
            mismatches.append(name + " (async)")
    assert mismatches == []
    generated = [op for op in cls.operations.values() if not op.hand_written]
    assert len(public_runtime_methods(cls)) > len(generated)


def test_the_async_stub_has_every_generated_method_of_the_sync_stub():
    sync, asynchronous = stub_methods(), stub_methods(AsyncDirectusClient, ASYNC_STUB)
    generated = {op.name for op in DirectusClient.operations.values() if not op.hand_written}
    assert generated <= set(sync) and generated <= set(asynchronous)
    for name in generated:
        assert [stub_shape(node) for node in sync[name]] == [stub_shape(node) for node in asynchronous[name]], name


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
