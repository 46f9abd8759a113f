"""The models generator (pydirectus/codegen.py, ``python -m pydirectus models``) on a canned schema
(tests/codegen_schema.py), without a server: names, types, the module at run time, the typed client
without ``model=``, ``--check``, and the module under mypy --strict and pyright strict."""

import datetime
import importlib.util
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from pydirectus import DirectusClient, File, Item, cli, codegen
from pydirectus.models import Model
from tests import codegen_schema as canned
from tests import typecheck_models
from tests.mocktransport import MockTransport, json_response

REQUIRED = os.environ.get("PYDIRECTUS_REQUIRE_MYPY") == "1"


def schema(only=None):
    return codegen.schema_of(canned.COLLECTIONS, canned.FIELDS, canned.RELATIONS, only)


def module_text(**arguments):
    return codegen.render_module(schema(), canned.URL, canned.VERSION, **arguments)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The generated module, imported from a file."""
    path = tmp_path_factory.mktemp("models") / "directus_models.py"
    path.write_text(module_text(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("directus_models_canned", str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def server(request):
    """What a server with the canned schema answers; items of articles, a singleton."""
    path = request.url.split("directus.test", 1)[1].split("?")[0]
    if path == "/collections":
        return json_response(200, {"data": canned.COLLECTIONS})
    if path == "/fields":
        return json_response(200, {"data": canned.FIELDS})
    if path.startswith("/fields/"):
        return json_response(200, {"data": [field for field in canned.FIELDS if field["collection"] == path[8:]]})
    if path == "/relations":
        return json_response(200, {"data": canned.RELATIONS})
    if path == "/server/info":
        return json_response(200, {"data": {"version": canned.VERSION}})
    if path.startswith("/items/articles"):
        record = {"id": 1, "title": "Hello", "price": "12.50", "published_on": "2024-05-01T10:20:30",
                  "date_created": "2024-05-01T10:20:30.000Z", "day": "2024-05-01", "at": "10:20:30",
                  "author": {"id": "a-1", "name": "Ada"}, "comments": [{"id": 7, "text": "hi"}, 8],
                  "blocks": [{"id": 1, "collection": "block_quotes", "item": {"id": 3, "quote": "q"}},
                             {"id": 2, "collection": "block_images", "item": "4"}],
                  "cover": {"id": "f-1", "filename_download": "a.jpg"}, "unknown": "kept"}
        data = record if path.count("/") == 3 or request.method in ("PATCH", "POST") else [record]
        return json_response(200, {"data": data})
    if path.startswith("/items/"):
        return json_response(200, {"data": [{"id": 1, "name": "x"}]})
    return json_response(404, {"errors": [{"message": "no route %s" % path}]})


def test_class_names_are_pascal_case():
    assert codegen.class_name("articles") == "Articles"
    assert codegen.class_name("blog_posts") == "BlogPosts"
    assert codegen.class_name("blog-posts 2") == "BlogPosts2"
    assert codegen.class_name("2fa") == "C2fa"
    assert codegen.class_name("item") == "ItemItem"
    assert codegen.class_name("directus") == "DirectusItem"
    assert codegen.class_name("list") == "ListItem" and codegen.class_name("optional") == "OptionalItem"


def test_fields_that_would_hide_a_name_of_the_annotations_are_not_declared():
    text = codegen.render_module(schema(), canned.URL, None)
    for name in ("str", "Optional", "Articles"):
        assert "    # %r (Optional[str]) is not declared: read it as item[%r]" % (name, name) in text
    assert "    datetime: Optional[_dt.datetime] = _absent()" in text  # the module is imported as _dt
    assert "# version: unknown" in text


def test_the_schema_keeps_user_collections_only_and_can_be_narrowed():
    names = [entry["collection"] for entry in schema()["collections"]]
    assert "articles" in names and "site_settings" in names
    assert not [name for name in names if name.startswith("directus_")] and "a_folder" not in names
    assert [entry["collection"] for entry in schema(["authors"])["collections"]] == ["authors"]
    with pytest.raises(ValueError, match="no_such"):
        schema(["no_such"])


def test_the_header_holds_url_version_and_a_hash_that_follows_the_schema():
    text = module_text()
    assert "# server: %s" % canned.URL in text and "# version: 12.4.0" in text
    assert codegen.header_hash(text) == codegen.schema_hash(schema())
    changed = [dict(field, type="text") if field["field"] == "title" else field for field in canned.FIELDS]
    assert codegen.schema_hash(codegen.schema_of(canned.COLLECTIONS, changed, canned.RELATIONS)) != \
        codegen.schema_hash(schema())
    assert codegen.header_hash("no header") is None


def test_field_types(generated):
    text = module_text()
    for line in ("    id: int = _absent()", "    title: str = _absent()", "    body: Optional[str] = _absent()",
                 "    price: Optional[_Decimal] = _absent()", "    published: bool = _absent()",
                 "    data: Optional[JSON] = _absent()", "    keywords: Optional[List[str]] = _absent()",
                 "    published_on: Optional[_dt.datetime] = _absent()",
                 "    day: Optional[_dt.date] = _absent()", "    at: Optional[_dt.time] = _absent()",
                 "    place: Optional[JSON] = _absent()", "    rating: Optional[float] = _absent()",
                 "    author: Optional[Union[str, Authors]] = _absent()",
                 "    cover: Optional[Union[str, File]] = _absent()",
                 "    comments: List[Union[int, Comments]] = _absent()",
                 "    tags: List[Union[int, ArticlesTags]] = _absent()",
                 "    blocks: List[Union[int, ArticlesBlocks]] = _absent()",
                 "    translations: List[Union[int, ArticlesTranslations]] = _absent()",
                 "    item: Optional[Union[str, int, BlockImages, BlockQuotes]] = _absent()",
                 "    languages_code: Optional[Union[str, Languages]] = _absent()",
                 "    user: Optional[Union[str, Item]] = _absent()"):
        assert line in text, line
    assert "divider" not in text  # a presentation field has no data
    assert "item['items']" in text and "item['class']" in text  # names a dataclass field cannot take
    assert issubclass(generated.Articles, Model) and issubclass(generated.Articles, Item)


def test_the_module_imports_the_library_by_the_name_given():
    text = module_text(import_name="myapp._vendor.dx")
    assert "from myapp._vendor.dx import DirectusClient" in text
    assert "from myapp._vendor.dx import AsyncDirectusClient" in text
    assert "from pydirectus" not in text


def test_values_and_relations_are_built_at_run_time(generated):
    article = generated.Articles.from_dict(server_record())
    assert article.title == "Hello" and article.price == Decimal("12.50")
    assert article.published_on == datetime.datetime(2024, 5, 1, 10, 20, 30)
    assert article.date_created == datetime.datetime(2024, 5, 1, 10, 20, 30, tzinfo=datetime.timezone.utc)
    assert article.day == datetime.date(2024, 5, 1) and article.at == datetime.time(10, 20, 30)
    assert isinstance(article.author, generated.Authors) and article.author.name == "Ada"
    assert isinstance(article.comments[0], generated.Comments) and article.comments[1] == 8
    assert isinstance(article.blocks[0].item, generated.BlockQuotes) and article.blocks[0].item.quote == "q"
    assert article.blocks[1].item == "4"
    assert isinstance(article.cover, File)
    assert article["unknown"] == "kept" and article.views is None  # left out by the query: None
    assert generated.Articles.from_dict({"id": 2, "author": "a-1"}).author == "a-1"
    assert generated.Articles.from_dict({"published": 1, "big": "9007199254740993"}).published is True
    assert generated.Articles.from_dict({"big": "9007199254740993"}).big == 9007199254740993
    assert b'"price":"12.50"' in __import__("pydirectus")._records.encode_json(article)
    assert b'"published_on":"2024-05-01T10:20:30"' in __import__("pydirectus")._records.encode_json(article)


def server_record():
    return server(type("R", (), {"url": "http://directus.test/items/articles/1", "method": "GET"})()).json()["data"]


def test_the_typed_client_builds_models_without_model(generated):
    client = generated.Directus(hostname="http://directus.test", static_token="t", transport=MockTransport(server))
    assert isinstance(client.read_items("articles")[0], generated.Articles)
    assert isinstance(client.read_item("articles", 1), generated.Articles)
    assert isinstance(client.create_item("articles", {"title": "x"}), generated.Articles)
    assert isinstance(client.update_item("articles", 1, {"title": "x"}), generated.Articles)
    assert isinstance(next(client.iter_items("articles")), generated.Articles)
    other = client.read_items("not_generated")[0]
    assert type(other) is Item and other.name == "x"
    assert type(client.read_items("articles", model=Item)[0]) is Item  # model= still wins
    plain = DirectusClient(hostname="http://directus.test", static_token="t", transport=MockTransport(server))
    assert type(plain.read_items("articles")[0]) is Item  # the base client is left as it was


def test_the_async_typed_client_builds_models(generated):
    import asyncio
    from tests.mocktransport import AsyncMockTransport

    async def main():
        async with generated.AsyncDirectus(hostname="http://directus.test", static_token="t",
                                           transport=AsyncMockTransport(server)) as client:
            one = await client.read_item("articles", 1)
            every = [item async for item in client.iter_items("articles")]
            return one, every
    one, every = asyncio.run(main())
    assert isinstance(one, generated.Articles) and isinstance(every[0], generated.Articles)


def test_importing_the_module_is_cheap(tmp_path):
    (tmp_path / "directus_models.py").write_text(module_text(), encoding="utf-8")
    code = ("import sys; import directus_models; "
            "print(sorted(name for name in ('typing', 'asyncio', 'decimal') if name in sys.modules))")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), typecheck_models.ROOT]))
    output = subprocess.run([sys.executable, "-c", code], env=environment, stdout=subprocess.PIPE,
                            universal_newlines=True, check=True).stdout
    assert "typing" not in output and "asyncio" not in output, output


def test_the_models_command_writes_and_checks(monkeypatch, tmp_path, capsys):
    def client(options):
        return DirectusClient(hostname=options.url, static_token="t", transport=MockTransport(server))
    monkeypatch.setattr(cli, "_client", client)
    out = str(tmp_path / "models.py")
    url = ["--url", "http://directus.test", "--token", "t"]
    assert cli.main(url + ["models", "--out", out]) == 0
    assert open(out, encoding="utf-8").read() == codegen.render_module(schema(), "http://directus.test", "12.4.0")
    assert cli.main(url + ["models", "--out", out, "--check"]) == 0
    assert cli.main(url + ["models", "--out", out, "--check", "--collections", "authors"]) == 1
    assert "does not match" in capsys.readouterr().err
    assert cli.main(url + ["models", "--out", str(tmp_path / "missing.py"), "--check"]) == 1
    assert cli.main(url + ["models", "--out", out, "--collections", "nope"]) == 2
    assert cli.main(url + ["models", "--out", out, "--import-name", "not a name"]) == 2
    with pytest.raises(SystemExit) as stopped:
        cli.main(url + ["models"])  # --out is required
    assert stopped.value.code == 2


def test_the_help_lists_the_models_command(capsys):
    assert cli.main(["--help"]) == 0
    assert "  models " in capsys.readouterr().out


def test_the_generated_module_and_scripts_pass_both_type_checkers(tmp_path):
    missing = typecheck_models.checkers_missing()
    if missing:
        if REQUIRED:
            pytest.fail("PYDIRECTUS_REQUIRE_MYPY=1 but " + missing, pytrace=False)
        pytest.skip(missing)
    problems = typecheck_models.check(tmp_path, module_text())
    assert not problems, "\n".join(problems)


def test_only_what_the_module_uses_is_imported():
    text = codegen.render_module(schema(["authors"]), canned.URL, canned.VERSION)
    assert "_Decimal" not in text and "_dt" not in text and "File" not in text
    assert "import datetime as _dt" in module_text() and "from decimal import Decimal as _Decimal" in module_text()
    compile(text, "directus_models.py", "exec")


def test_a_model_sent_as_a_body_leaves_its_unset_fields_out(generated):
    from pydirectus._core.records import encode_json
    article = generated.Articles(title="Hi", views=0, published=False)
    assert article.to_payload() == {"title": "Hi", "views": 0, "published": False}
    assert article.to_dict()["body"] is None  # the mapping still has every field
    article["extra"] = 1
    assert json.loads(encode_json(article)) == {"title": "Hi", "views": 0, "published": False, "extra": 1}
    assert encode_json(Item.from_dict({"a": None})) == b'{"a":null}'  # a plain Item sends what it holds
