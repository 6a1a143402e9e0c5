"""Built-in detector plugins, one module per deepface backend."""
