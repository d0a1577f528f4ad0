"""The synthetic multi-task world (scenes, classes, torch dataset)."""
# The model registry imports this package's CLASSES while synthetic.py imports the models'
# TaskClasses: importing the models first makes the cycle resolve in the one working order,
# whichever module a process imports first (e.g. ``import ladon_ros.data.synthetic``).
import ladon_ros.models  # noqa: F401  (import order, see above)
from ladon_ros.data.synthetic import CLASSES, Scene, SceneGenerator

__all__ = ['CLASSES', 'Scene', 'SceneGenerator']
