"""Ladon models: registry, bottleneck, shared body and task heads."""
import ladon_ros.models.compressai_import  # noqa: F401 - first: compressai without torch_geometric's warning
from ladon_ros.models.registry import build_model, list_models, model_spec, register_model
from ladon_ros.models.spec import ModelSpec
from ladon_ros.tasks import TaskClasses

__all__ = ['build_model', 'list_models', 'model_spec', 'register_model', 'ModelSpec', 'TaskClasses']
