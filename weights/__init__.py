"""Package data: the zoo's bundled safetensors weights and rendered targets (installed as nca_zoo.bundled)."""
