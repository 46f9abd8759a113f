"""A canned Directus schema for the models generator's unit tests (tests/unit/test_codegen.py), in
the shape read_collections, read_fields and read_relations answer: every field type and relation
kind (m2o, o2m, m2m, m2a, translations, a file field, a singleton, a UUID key).

tests/typing/directus_models.py is the module generated from it (test_codegen checks it is fresh);
the typing scripts next to it use it."""


def _collection(name, singleton=False, table=True):
    return {"collection": name, "meta": {"collection": name, "singleton": singleton, "note": None},
            "schema": {"name": name} if table else None}


def _field(collection, name, kind, nullable=True, primary=False, special=None, alias=False):
    return {"collection": collection, "field": name, "type": kind,
            "schema": None if alias else {"name": name, "table": collection, "is_nullable": nullable,
                                          "is_primary_key": primary, "has_auto_increment": primary and kind == "integer"},
            "meta": {"collection": collection, "field": name, "special": special, "sort": None, "id": None}}


def _relation(many, field, one, one_field=None, junction_field=None, one_collection_field=None, allowed=None):
    return {"collection": many, "field": field, "related_collection": one,
            "meta": {"many_collection": many, "many_field": field, "one_collection": one, "one_field": one_field,
                     "junction_field": junction_field, "one_collection_field": one_collection_field,
                     "one_allowed_collections": allowed}}


COLLECTIONS = [
    _collection("articles"), _collection("authors"), _collection("comments"), _collection("tags"),
    _collection("articles_tags"), _collection("articles_blocks"), _collection("block_quotes"),
    _collection("block_images"), _collection("languages"), _collection("articles_translations"),
    _collection("site_settings", singleton=True), _collection("a_folder", table=False),
    _collection("directus_users"),
]

FIELDS = [
    _field("articles", "id", "integer", nullable=False, primary=True),
    _field("articles", "title", "string", nullable=False),
    _field("articles", "body", "text"),
    _field("articles", "slug", "uuid"),
    _field("articles", "secret", "hash", special=["hash"]),
    _field("articles", "views", "integer", nullable=False),
    _field("articles", "big", "bigInteger"),
    _field("articles", "rating", "float"),
    _field("articles", "price", "decimal"),
    _field("articles", "published", "boolean", nullable=False),
    _field("articles", "data", "json", special=["cast-json"]),
    _field("articles", "keywords", "csv", special=["cast-csv"]),
    _field("articles", "published_on", "dateTime"),
    _field("articles", "date_created", "timestamp", special=["date-created"]),
    _field("articles", "day", "date"),
    _field("articles", "at", "time"),
    _field("articles", "place", "geometry.Point"),
    _field("articles", "author", "uuid", special=["m2o"]),
    _field("articles", "cover", "uuid", special=["file"]),
    _field("articles", "comments", "alias", special=["o2m"], alias=True),
    _field("articles", "tags", "alias", special=["m2m"], alias=True),
    _field("articles", "blocks", "alias", special=["m2a"], alias=True),
    _field("articles", "translations", "alias", special=["translations"], alias=True),
    _field("articles", "divider", "alias", special=["alias", "no-data"], alias=True),
    _field("articles", "items", "string"),
    _field("articles", "class", "string"),
    _field("authors", "id", "uuid", nullable=False, primary=True, special=["uuid"]),
    _field("authors", "name", "string", nullable=False),
    _field("authors", "user", "uuid", special=["m2o"]),
    _field("comments", "id", "integer", nullable=False, primary=True),
    _field("comments", "article", "integer", special=["m2o"]),
    _field("comments", "text", "text"),
    _field("tags", "id", "integer", nullable=False, primary=True),
    _field("tags", "name", "string"),
    _field("tags", "datetime", "dateTime"),  # a name the annotations would use, were it not _dt
    _field("tags", "str", "string"),  # names a field cannot take in its class
    _field("tags", "Optional", "string"),
    _field("tags", "Articles", "string"),
    _field("articles_tags", "id", "integer", nullable=False, primary=True),
    _field("articles_tags", "articles_id", "integer"),
    _field("articles_tags", "tags_id", "integer"),
    _field("articles_blocks", "id", "integer", nullable=False, primary=True),
    _field("articles_blocks", "articles_id", "integer"),
    _field("articles_blocks", "item", "string"),
    _field("articles_blocks", "collection", "string"),
    _field("block_quotes", "id", "integer", nullable=False, primary=True),
    _field("block_quotes", "quote", "text"),
    _field("block_images", "id", "integer", nullable=False, primary=True),
    _field("block_images", "image", "uuid", special=["file"]),
    _field("languages", "code", "string", nullable=False, primary=True),
    _field("languages", "name", "string"),
    _field("articles_translations", "id", "integer", nullable=False, primary=True),
    _field("articles_translations", "articles_id", "integer"),
    _field("articles_translations", "languages_code", "string"),
    _field("articles_translations", "headline", "string"),
    _field("site_settings", "id", "integer", nullable=False, primary=True),
    _field("site_settings", "site_name", "string"),
    _field("directus_users", "id", "uuid", nullable=False, primary=True),
]

RELATIONS = [
    _relation("articles", "author", "authors"),
    _relation("articles", "cover", "directus_files"),
    _relation("authors", "user", "directus_users"),
    _relation("comments", "article", "articles", one_field="comments"),
    _relation("articles_tags", "articles_id", "articles", one_field="tags", junction_field="tags_id"),
    _relation("articles_tags", "tags_id", "tags", junction_field="articles_id"),
    _relation("articles_blocks", "articles_id", "articles", one_field="blocks", junction_field="item"),
    _relation("articles_blocks", "item", None, junction_field="articles_id", one_collection_field="collection",
              allowed=["block_quotes", "block_images"]),
    _relation("block_images", "image", "directus_files"),
    _relation("articles_translations", "articles_id", "articles", one_field="translations",
              junction_field="languages_code"),
    _relation("articles_translations", "languages_code", "languages", junction_field="articles_id"),
]

URL = "http://directus.example"
VERSION = "12.4.0"
