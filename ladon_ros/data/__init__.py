"""The synthetic multi-task world (scenes, classes, torch dataset)."""
from ladon_ros.world import CLASSES, Scene, SceneGenerator

__all__ = ['CLASSES', 'Scene', 'SceneGenerator']
