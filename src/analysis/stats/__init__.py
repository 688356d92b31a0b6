"""Statistical methods, each once: tidy frames in, result objects or tidy frames out."""
