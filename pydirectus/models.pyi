# The types of models.py, for type checkers (written by hand; tests/unit/test_stub.py checks the names).
from typing import Any, Dict, Iterator, List, MutableMapping, Optional, Type, TypeVar

_T = TypeVar("_T")
_Self = TypeVar("_Self", bound="Model")

__all__ = ["Item", "Model", "File", "ItemList"]

# Model is Item's base here and its subclass at run time: the base of generated models, without
# Item's catch-all __getattr__, so that a type checker flags a misspelt field of a generated model.
class Model(MutableMapping[str, Any]):
    @classmethod
    def from_dict(cls: Type[_Self], data: Dict[str, Any]) -> _Self: ...
    # A property at run time (the primary key, whatever its field is called); an attribute here,
    # so that a model may declare its key as a field (``id: Optional[int] = None``).
    id: Any
    def to_dict(self) -> Dict[str, Any]: ...
    def to_payload(self) -> Dict[str, Any]: ...
    def __getitem__(self, key: str) -> Any: ...
    def __setitem__(self, key: str, value: Any) -> None: ...
    def __delitem__(self, key: str) -> None: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...

class Item(Model):
    def __getattr__(self, name: str) -> Any: ...

class File(Item):
    id: Optional[str]
    storage: Optional[str]
    filename_disk: Optional[str]
    filename_download: Optional[str]
    title: Optional[str]
    type: Optional[str]
    folder: Optional[str]
    uploaded_by: Optional[str]
    created_on: Optional[str]
    modified_by: Optional[str]
    modified_on: Optional[str]
    charset: Optional[str]
    filesize: Optional[int]
    width: Optional[int]
    height: Optional[int]
    duration: Optional[int]
    embed: Optional[str]
    description: Optional[str]
    location: Optional[str]
    tags: Optional[List[str]]
    metadata: Optional[Dict[str, Any]]
    focal_point_x: Optional[int]
    focal_point_y: Optional[int]
    tus_id: Optional[str]
    tus_data: Optional[Dict[str, Any]]
    uploaded_on: Optional[str]
    def __init__(self, **fields: Any) -> None: ...

class ItemList(List[_T]):
    meta: Optional[Dict[str, Any]]
    def __init__(self, items: Any = ..., meta: Optional[Dict[str, Any]] = ...) -> None: ...
    @property
    def total_count(self) -> Optional[int]: ...
    @property
    def filter_count(self) -> Optional[int]: ...
