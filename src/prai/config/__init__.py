"""kitchen.yaml: the schema every command reads (pydantic v2).

Sections live in their own modules (one owner each) and are composed here into
:class:`KitchenConfig`. :func:`load_kitchen` reads YAML, expands ``${ENV}`` references
and reports every invalid field with its dotted path.
"""

from prai.config._base import StrictModel, load_yaml_model
from prai.config.kitchen import KitchenConfig, load_kitchen

__all__ = ["KitchenConfig", "StrictModel", "load_kitchen", "load_yaml_model"]
