"""Django admin for reco_app; each area registers its ModelAdmins in its own module."""

from reco_app.admin import catalog  # noqa: F401

# tracking & consent
# training
from reco_app.admin import training  # noqa: F401,E402
# merchandising rules
# segments
