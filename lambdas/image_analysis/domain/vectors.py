"""The image embeddings' place in S3 Vectors: the index's name and shape, and each vector's metadata.

One definition shared by the stack (infra/vectors.py creates the index with it), the function (which
writes the vectors) and `imgpipe search` (which filters on them). The vector's key is the image key.
"""

from __future__ import annotations

from typing import Final

INDEX_NAME: Final = "image-embeddings"  # unique within the stack's own vector bucket
DATA_TYPE: Final = "float32"
DISTANCE_METRIC: Final = "cosine"  # distance 0 is the same direction; similarity = 1 - distance

# Metadata keys. Filterable: a search can ask for them (`imgpipe search --status/--flagged/--label`).
STATUS: Final = "status"  # the record's ImageStatus value
FLAGGED: Final = "flagged"  # bool: moderation flagged the image
LABELS: Final = "labels"  # list of label names (S3 Vectors' $eq matches any element of a list)
# Not filterable (declared so at index creation: cheaper, and never needed in a filter): which object
# version the vector describes, so a search can drop a stray vector whose record moved on.
VERSION_TAG: Final = "version_tag"
NON_FILTERABLE_METADATA: Final = (VERSION_TAG,)
