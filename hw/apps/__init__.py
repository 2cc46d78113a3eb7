"""Applications built on needle: the lecture example modules and the MLP ResNet."""
