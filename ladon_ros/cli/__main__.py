"""``python -m ladon_ros.cli``."""
import sys

from ladon_ros.cli import main

sys.exit(main())
