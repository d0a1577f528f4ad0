"""Training: teacher, then the Ladon recipe per rate point (``ladon-ros train``)."""
