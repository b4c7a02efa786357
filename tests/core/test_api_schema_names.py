"""The OpenAPI document names each response and body shape by its class name; two different
shapes with one name would make one endpoint's documented response another's."""

import importlib
import inspect
import pkgutil
from collections import defaultdict

from ninja import Schema

import aftersales


def test_schemas_sharing_a_name_have_the_same_shape() -> None:
    shapes: dict[str, dict[str, type[Schema]]] = defaultdict(dict)
    for module_info in pkgutil.walk_packages(aftersales.__path__, "aftersales."):
        if not module_info.name.endswith(".api"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, Schema)
                and value.__module__ == module.__name__
            ):
                shapes[name][module.__name__] = value
    clashes = {
        name: sorted(owners)
        for name, owners in shapes.items()
        if len({str(cls.model_json_schema()) for cls in owners.values()}) > 1
    }
    assert clashes == {}, clashes
