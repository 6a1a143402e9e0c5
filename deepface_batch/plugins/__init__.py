"""Built-in detector plugins, one module per deepface backend."""

__all__: list[str] = []
