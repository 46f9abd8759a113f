"""The models results are returned as: Item for any collection, File for directus_files, and
ItemList, a list that keeps the ``meta`` of a list answer.

``Item`` is a dataclass that behaves like the plain dicts older code expects (``item["title"]``,
``item.get``, ``in``, iteration, ``dict(item)``) and like an object (``item.title``, ``item.id``).
Fields the class does not declare are kept, so a newer server or a ``fields=`` query never breaks
it. Declare your own typed models as dataclass subclasses::

    @dataclass
    class Article(Item):
        id: int = None
        title: str = ""

    articles = client.read_items("articles", model=Article)

``Model`` is the base of the models ``python -m pydirectus models`` generates (pydirectus/codegen.py):
an Item at run time; for type checkers, a mapping without Item's catch-all attribute access, so that
a misspelt field is an error. A model's ``_pydirectus_convert`` (set by the generated module) maps
declared fields to a function of (value, record) that builds the value: dates, nested models.
"""

import dataclasses
from collections.abc import MutableMapping

__all__ = ["Item", "Model", "File", "ItemList"]



def _declared_fields(cls):
    """The names of the dataclass fields of ``cls``, computed once per class."""
    names = cls.__dict__.get("_pydirectus_fields")
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else ()
        cls._pydirectus_fields = names
    return names


@dataclasses.dataclass(eq=False)
class Item(MutableMapping):
    """One record of any collection: mapping access, attribute access, ``.id`` and ``to_dict()``."""

    @classmethod
    def from_dict(cls, data):
        """Build an instance from a Directus record; keys the class does not declare are kept.

        A declared field missing from ``data`` (left out by a ``fields=`` query) is None unless it
        has a default.
        """
        declared = _declared_fields(cls)
        self = cls.__new__(cls)
        if not declared:  # the common case: a plain Item keeps the decoded dict as it is
            object.__setattr__(self, "_extra", data)
            return self
        extra = {}
        convert = cls.__dict__.get("_pydirectus_convert")
        for key, value in data.items():
            if key in declared:
                if convert is not None and value is not None and key in convert:
                    value = convert[key](value, data)
                object.__setattr__(self, key, value)
            else:
                extra[key] = value
        object.__setattr__(self, "_extra", extra)
        if len(declared) > len(data) - len(extra):
            for field in dataclasses.fields(cls):
                if field.name not in data:
                    if field.default is not dataclasses.MISSING:
                        value = field.default
                    elif field.default_factory is not dataclasses.MISSING:
                        value = field.default_factory()
                    else:
                        value = None
                    object.__setattr__(self, field.name, value)
        return self

    def __post_init__(self):
        if "_extra" not in self.__dict__:
            object.__setattr__(self, "_extra", {})

    # --- attribute access to undeclared keys ---------------------------------------------
    def __getattr__(self, name):
        # only called when normal lookup fails: undeclared keys live in _extra
        if name.startswith("__") or name == "_extra":
            raise AttributeError(name)
        extra = self.__dict__.get("_extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError("%s has no field %r" % (type(self).__name__, name))

    def __setattr__(self, name, value):
        if name in _declared_fields(type(self)) or name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self.__dict__.setdefault("_extra", {})[name] = value

    @property
    def id(self):
        """The value of the ``id`` key (None when absent). Declare ``id`` to type it."""
        return self.get("id")

    # --- mapping protocol -------------------------------------------------------------------
    def __getitem__(self, key):
        if key in _declared_fields(type(self)):
            return self.__dict__[key]
        return self._extra[key]

    def __setitem__(self, key, value):
        if key in _declared_fields(type(self)):
            object.__setattr__(self, key, value)
        else:
            self._extra[key] = value

    def __delitem__(self, key):
        if key in _declared_fields(type(self)):
            raise KeyError("%r is a declared field of %s and cannot be deleted" % (key, type(self).__name__))
        del self._extra[key]

    def __iter__(self):
        yield from _declared_fields(type(self))
        yield from self._extra

    def __len__(self):
        return len(_declared_fields(type(self))) + len(self._extra)

    def __contains__(self, key):
        return key in _declared_fields(type(self)) or key in self._extra

    def __eq__(self, other):
        if isinstance(other, Item):
            return type(self) is type(other) and self.to_dict() == other.to_dict()
        if isinstance(other, dict):
            return self.to_dict() == other
        return NotImplemented

    def to_dict(self):
        """A plain dict of every field, declared or not (nested values are left as they are)."""
        data = {name: self.__dict__[name] for name in _declared_fields(type(self))}
        data.update(self._extra)
        return data

    def to_payload(self):
        """What is sent when this record is a request's body: ``to_dict()`` (see Model's)."""
        return self.to_dict()

    def __repr__(self):
        fields = ", ".join("%s=%r" % item for item in self.to_dict().items())
        return "%s(%s)" % (type(self).__name__, fields)


Item.__hash__ = None  # mutable mapping: not hashable, like dict


@dataclasses.dataclass(eq=False, repr=False)
class Model(Item):
    """The base of generated typed models (see the module's docstring): an Item at run time."""

    def to_payload(self):
        """What is sent when this record is a request's body: its fields, less the declared ones
        that are None (unset: ``Articles(title="Hi")`` creates with the server's defaults for the
        rest). To set a field to null, send a dict: ``{"body": None}``."""
        declared = _declared_fields(type(self))
        data = {name: self.__dict__[name] for name in declared if self.__dict__.get(name) is not None}
        data.update(self._extra)
        return data


@dataclasses.dataclass(eq=False, repr=False)
class File(Item):
    """A record of ``directus_files``. Unknown fields are kept, as for every Item."""

    id: str = None
    storage: str = None
    filename_disk: str = None
    filename_download: str = None
    title: str = None
    type: str = None
    folder: str = None
    uploaded_by: str = None
    created_on: str = None
    modified_by: str = None
    modified_on: str = None
    charset: str = None
    filesize: int = None
    width: int = None
    height: int = None
    duration: int = None
    embed: str = None
    description: str = None
    location: str = None
    tags: list = None
    metadata: dict = None
    focal_point_x: int = None
    focal_point_y: int = None
    tus_id: str = None
    tus_data: dict = None
    uploaded_on: str = None


def _whole_number(value, record):
    """PostgreSQL (and MySQL) answer a bigInteger column as a string: ``filesize`` comes as "12"."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


File._pydirectus_convert = {"filesize": _whole_number}


class ItemList(list):
    """A list of results that keeps the answer's ``meta`` (``total_count``, ``filter_count``)."""

    __slots__ = ("meta",)

    def __class_getitem__(cls, item):  # ItemList[Item] in annotations (generic in models.pyi)
        return cls

    def __init__(self, items=(), meta=None):
        super().__init__(items)
        self.meta = meta

    @property
    def total_count(self):
        """``meta.total_count`` when the query asked for it (``meta="total_count"`` or ``"*"``)."""
        return (self.meta or {}).get("total_count")

    @property
    def filter_count(self):
        """``meta.filter_count`` when the query asked for it (``meta="filter_count"`` or ``"*"``)."""
        return (self.meta or {}).get("filter_count")

    def __repr__(self):
        return "ItemList(%s, meta=%r)" % (list.__repr__(self), self.meta)
