"""Django admin for reco_app; each area registers its ModelAdmins in its own module."""

# tracking & consent
# training
# merchandising rules
# segments
from reco_app.admin import (
    catalog,  # noqa: F401
    rules,  # noqa: F401
    segments,  # noqa: F401
    tracking,  # noqa: F401
    training,  # noqa: F401
)
