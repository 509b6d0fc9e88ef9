"""nca-zoo and the Hugging Face Hub: one repo per model, read and written with huggingface_hub.

Modules, imports pointing down only (none of them imports the model class, the factory or the
package root):

- :mod:`~nca_zoo.hub.errors`: HubError, HubFileMissingError, PushError;
- :mod:`~nca_zoo.hub.files`: transport — download (bounded in time, validated revisions, results
  kept inside the cache), verify, evict_cached, push_folder;
- :mod:`~nca_zoo.hub.layout`: the repo folder — file names, config.json, target.png;
- :mod:`~nca_zoo.hub.card`: the model card;
- :mod:`~nca_zoo.hub.pretrained`: registry entries' weights, bundled → cache → pinned download;
- :mod:`~nca_zoo.hub.mixin`: NCAHubMixin (save_pretrained / push_to_hub / from_pretrained).
"""

from nca_zoo.hub.errors import HubError, HubFileMissingError, PushError

__all__ = ["HubError", "HubFileMissingError", "PushError"]
