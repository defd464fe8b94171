"""Tools beside the engine: building and serving llama.cpp's ``llama-server`` for batch work."""
