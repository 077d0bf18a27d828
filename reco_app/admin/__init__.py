"""Django admin for reco_app; each area registers its ModelAdmins in its own module."""

from reco_app.admin import catalog  # noqa: F401

# tracking & consent
# training
# merchandising rules
# segments
from reco_app.admin import segments  # noqa: E402,F401
